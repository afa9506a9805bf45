package lab_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/lab/labtest"
)

const runnerExperiment = `
name: runner-test
repeat: 1
timeout: 3s
congestion: [reno]
content: {f.bin: 300KB}
measure: {file: f.bin}
vars:
  serve: "{{.Aqueduct}} lab fileserver --root {{.Content}} --listen :8080"
hosts:
  a: {}
  b: {}
  c: {}
links:
  - {between: [a, b], rate: 20Mbit, delay: 2ms}
  - {between: [b, c], rate: 20Mbit, delay: 2ms, loss: 0.5%}
compare: {baseline: direct}
cases:
  - name: direct
    model: [a, b, c]
    services:
      - {name: files, host: a, run: '{{var "serve"}}', ready: {log: listening}}
    client: {host: c, run: 'curl -sS --fail -o {{.Out}} http://{{addr "a"}}:8080/{{.File}}'}
  - name: relay
    services:
      - {name: files, host: a, run: '{{var "serve"}}', ready: {log: listening}}
      - {name: relay, host: b, run: '{{.Aqueduct}} lab splice --listen :8080 --to {{addr "a"}}:8080', ready: {tcp: ":8080"}}
    client: {host: c, run: 'curl -sS --fail -o {{.Out}} http://{{addr "b" "c"}}:8080/{{.File}}'}
  - name: broken service
    services:
      - {name: broken, host: a, run: 'echo cannot start >&2; exit 3', ready: {log: listening}}
    client: {host: c, run: 'true'}
  - name: failing client
    client: {host: c, run: 'seq 1 100000; sh -c "aql-not-installed --fetch {{.Out}}"'}
  - name: cut
    client: {host: c, run: 'head -c 1000 {{.Content}}/{{.File}} > {{.Out}}; exec sleep 30'}
  - name: corrupt
    client: {host: c, run: 'head -c {{.Size}} /dev/zero > {{.Out}}'}
`

func TestRun_casesFailingAndCutAreReported(t *testing.T) {
	labtest.RequireRoot(t)
	id := labtest.ID(t) // fails the test if the run leaves anything behind
	e, err := lab.ParseExperiment([]byte(runnerExperiment))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := lab.Run(ctx, e, lab.RunOptions{Out: out, ID: id, Capture: true, Aqueduct: "env " + asAqueductEnv + "=1 " + os.Args[0]})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	byCase := map[string]lab.RunResult{}
	for _, r := range res.Runs {
		byCase[r.Case] = r
		t.Logf("%s: ok %v, %.2f Mbit/s, %.2f s, partial %v, error %q", r.Case, r.OK, r.Mbps, r.Seconds, r.Partial, r.Error)
	}
	for _, name := range []string{"direct", "relay"} {
		if r := byCase[name]; !r.OK || r.Partial || r.Bytes != 300e3 || r.Mbps <= 0 || r.Mbps > 20 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := byCase["broken service"]; r.OK || !strings.Contains(r.Error, "exited before it was ready") || !strings.Contains(r.Error, "cannot start") {
		t.Errorf("broken service: %+v", r)
	}
	// The error quotes the end of the client's log, bounded: the logs go
	// with the results folder, which a test may delete.
	if r := byCase["failing client"]; r.OK || !strings.Contains(r.Error, "client exited: exit status 127") ||
		!strings.Contains(r.Error, "aql-not-installed: not found") || !strings.Contains(r.Error, "\n    100000\n") ||
		strings.Contains(r.Error, "\n    99990\n") || len(r.Error) > 2500 {
		t.Errorf("failing client: %+v", r)
	}
	if r := byCase["cut"]; !r.OK || !r.Partial || r.Bytes != 1000 || r.Seconds != 3 {
		t.Errorf("cut: %+v", r)
	}
	if r := byCase["corrupt"]; r.OK || !strings.Contains(r.Error, "SHA-256") {
		t.Errorf("corrupt: %+v", r)
	}
	if r := byCase["direct"]; len(r.Links) != 2 || r.Links[1].AB.DeliveredPackets == 0 || r.Hosts["a"].TCPOutSegs == 0 {
		t.Errorf("direct: no link or host counters: %+v %+v", r.Links, r.Hosts)
	}
	for _, f := range []string{"results.json", "results.md", "plot.svg", "logs/reno/direct/1/client.log", "logs/reno/relay/1/relay.log", "pcap/a-b.pcap", "pcap/c-b.pcap"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "results.md"))
	if !strings.Contains(string(md), "| reno | direct | 1/1 |") || !strings.Contains(string(md), "## Failed runs") ||
		!strings.Contains(string(md), "\n  sh: 1: aql-not-installed: not found\n") {
		t.Errorf("results.md:\n%s", md)
	}
	if st, err := os.Stat(filepath.Join(out, "pcap/a-b.pcap")); err != nil || st.Size() < 300e3*128/1500 {
		t.Errorf("capture of a→b: %v, %v", st, err)
	}
	// Namespaces and the work directory are gone (labtest.ID checks).
}

// TestRun_missingToolFailsFirst: an experiment whose client runs a program
// that is not installed fails before Run creates anything, root or not.
func TestRun_missingToolFailsFirst(t *testing.T) {
	src := strings.Replace(runnerExperiment, "client: {host: c, run: 'true'}", "client: {host: c, run: 'aql-no-such-tool --fetch {{.Out}}'}", 1)
	e, err := lab.ParseExperiment([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "results")
	_, err = lab.Run(t.Context(), e, lab.RunOptions{Out: out, ID: "tnotool"})
	var mt *lab.MissingToolError
	if !errors.As(err, &mt) || mt.Tool != "aql-no-such-tool" ||
		err.Error() != "lab: experiment runner-test runs aql-no-such-tool, which is not installed" {
		t.Fatalf("Run: %v, want a MissingToolError for aql-no-such-tool", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Run created %s before failing (%v)", out, err)
	}
}

const changesExperiment = `
name: changes-test
repeat: 2
timeout: 5s
content: {f.bin: 10KB}
measure: {file: f.bin}
hosts: {a: {}, b: {}}
links:
  - between: [a, b]
    rate: 20Mbit
    delay: 2ms
    changes:
      - {at: 200ms, delay: 50ms}
      - {at: 400ms, reverse: {rate: 10Mbit}}
      - {at: 4s, loss: 5%}
cases:
  - name: copy
    client: {host: b, run: 'sleep 0.7; cp {{.Content}}/{{.File}} {{.Out}}'}
`

// TestRun_linkChanges: the runner applies a link's changes at their times
// after the client starts, reports them, skips those after the client has
// finished, and starts every repetition from the link's own properties.
func TestRun_linkChanges(t *testing.T) {
	labtest.RequireRoot(t)
	id := labtest.ID(t)
	e, err := lab.ParseExperiment([]byte(changesExperiment))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := lab.Run(ctx, e, lab.RunOptions{Out: out, ID: id})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(res.Runs))
	}
	for _, r := range res.Runs {
		if !r.OK || len(r.LinkChanges) != 2 {
			t.Fatalf("rep %d: ok %v, changes %q, error %q", r.Rep, r.OK, r.LinkChanges, r.Error)
		}
		// Each repetition starts from 2 ms again. The default queue
		// follows the rate and the delay.
		for i, want := range []string{
			"link a–b: delay 2ms → 50ms, queue 24 kB → 250 kB at ",
			"link a–b: b→a rate 20 Mbit/s → 10 Mbit/s, queue 250 kB → 125 kB at ",
		} {
			if !strings.HasPrefix(r.LinkChanges[i], want) {
				t.Errorf("rep %d change %d: %q, want %q…", r.Rep, i, r.LinkChanges[i], want)
			}
		}
		t.Logf("rep %d: %q", r.Rep, r.LinkChanges)
	}
	b, err := os.ReadFile(filepath.Join(out, "logs/cubic/copy/2/links.log"))
	if err != nil || !strings.Contains(string(b), "delay 2ms → 50ms") {
		t.Errorf("links.log: %q, %v", b, err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "results.md"))
	if !strings.Contains(string(md), "| | at 400ms: b → a | rate 10 Mbit/s, delay 50ms") {
		t.Errorf("results.md lacks the changes:\n%s", md)
	}
}
