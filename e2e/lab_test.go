package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLabQuick runs every experiment in examples/lab in quick mode (small
// sizes, one repetition), as issue 3 asks of CI: the testbed comes up, every
// case of every experiment downloads its file and the lab verifies its
// digest, results.md, results.json and plot.svg are written, and the lab
// leaves no namespace behind. It measures nothing that the test asserts on:
// throughput is for the full runs (docs/results), not for a loaded CI box.
// It does check that mptcp-peer-link's cases used the paths they claim.
func TestLabQuick(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the lab needs root to create network namespaces")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("skipping: the lab needs /dev/net/tun: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "examples", "lab", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no experiments in examples/lab (%v)", err)
	}
	out := t.TempDir()
	args := append([]string{"lab", "run", "--quick", "--out", out}, files...)
	cmd := exec.CommandContext(ctx, aqueductBin, args...)
	cmd.Env = childEnv()
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aqueduct lab run --quick: %v\n%s", err, tail(output, 60))
	}

	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		dir := filepath.Join(out, name)
		for _, artefact := range []string{"results.md", "plot.svg"} {
			if fi, err := os.Stat(filepath.Join(dir, artefact)); err != nil || fi.Size() == 0 {
				t.Errorf("%s: %s missing or empty (%v)", name, artefact, err)
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var res struct {
			Quick     bool     `json:"quick"`
			FileBytes int64    `json:"file_bytes"`
			Runs      []labRun `json:"runs"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Errorf("%s: results.json: %v", name, err)
			continue
		}
		if !res.Quick || len(res.Runs) == 0 {
			t.Errorf("%s: quick=%v with %d runs", name, res.Quick, len(res.Runs))
		}
		for _, r := range res.Runs {
			if !r.OK || r.Bytes != res.FileBytes || r.Mbps <= 0 {
				t.Errorf("%s: %s/%s: ok=%v bytes=%d of %d, %.2f Mbit/s, error %q",
					name, r.Congestion, r.Case, r.OK, r.Bytes, res.FileBytes, r.Mbps, r.Error)
			}
			if name == "mptcp-peer-link" {
				checkSubflows(t, r)
			}
		}
	}

	netns, err := exec.CommandContext(ctx, "ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, netns)
	}
	ids := testbedID.FindAllStringSubmatch(string(output), -1)
	if len(ids) != len(files) {
		t.Errorf("%d testbeds came up for %d experiments", len(ids), len(files))
	}
	for _, id := range ids {
		for _, line := range strings.Split(string(netns), "\n") {
			if strings.HasPrefix(line, "aql-"+id[1]+"-") {
				t.Errorf("namespace left behind: %s", line)
			}
		}
	}
}

// labRun is the part of a run in results.json that the test reads.
type labRun struct {
	Congestion, Case, Error string
	OK                      bool
	Bytes                   int64
	Mbps                    float64
	Links                   []struct {
		Link   string
		AB, BA struct{ Delivered int64 }
	}
	Hosts map[string]struct {
		MPTCP map[string]uint64
	}
}

// checkSubflows checks that a run of mptcp-peer-link used the paths its
// case says: its one peer link (dialled over path 1) got a second subflow,
// which carried data over path 2, exactly in the "2 subflows" cases.
func checkSubflows(t *testing.T, r labRun) {
	t.Helper()
	var joins uint64
	for _, h := range r.Hosts {
		joins += h.MPTCP["MPJoinAckRx"]
	}
	var path2, path2Back int64 = -1, -1
	for _, l := range r.Links {
		if l.Link == "p2–client" {
			path2, path2Back = l.AB.Delivered, l.BA.Delivered
		}
	}
	switch {
	case path2 < 0:
		t.Errorf("mptcp-peer-link: %s/%s: no counters for link p2–client", r.Congestion, r.Case)
	case strings.HasPrefix(r.Case, "2 subflows") && (joins != 1 || path2 < 64<<10):
		t.Errorf("mptcp-peer-link: %s/%s: %d subflow(s) joined and %d bytes over path 2, want 1 join and data",
			r.Congestion, r.Case, joins, path2)
	case strings.HasPrefix(r.Case, "1 subflow") && (joins != 0 || path2 != 0 || path2Back != 0):
		t.Errorf("mptcp-peer-link: %s/%s: %d subflow(s) joined and %d/%d bytes over path 2, want none",
			r.Congestion, r.Case, joins, path2, path2Back)
	}
}

// testbedID finds the lab's per-run ID (its namespaces are aql-ID-HOST) in
// its log.
var testbedID = regexp.MustCompile(`lab: testbed up" id=([0-9a-f]+)`)

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
