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
			Quick     bool  `json:"quick"`
			FileBytes int64 `json:"file_bytes"`
			Runs      []struct {
				Congestion, Case, Error string
				OK                      bool
				Bytes                   int64
				Mbps                    float64
			} `json:"runs"`
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
