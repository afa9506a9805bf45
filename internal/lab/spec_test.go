package lab

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// TestExamples_valid loads every experiment shipped in examples/lab, in
// full and in quick mode.
func TestExamples_valid(t *testing.T) {
	files, err := filepath.Glob("../../examples/lab/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			e, err := LoadExperiment(f)
			if err != nil {
				t.Fatal(err)
			}
			if e.Quick == nil {
				t.Error("no quick section: CI runs every example in quick mode")
			}
			q, err := prepare(e, RunOptions{Quick: true})
			if err != nil {
				t.Fatal(err)
			}
			if q.Repeat != 1 {
				t.Errorf("quick repeat %d, want 1", q.Repeat)
			}
		})
	}
}

const minimal = `
name: tiny
repeat: 2
congestion: [reno, bbr]
content: {f.bin: 1MB}
measure: {file: f.bin}
vars:
  serve: "{{.Aqueduct}} lab fileserver --root {{.Content}}"
hosts:
  a: {}
  b: {mptcp: {subflows: 2, endpoints: subflow}, source_routing: true}
  c: {}
links:
  - between: [a, b]
    rate: 10Mbit
    delay: 5ms
    loss: 1%
    reverse: {loss: 0%, delay: 7ms}
  - between: [b, c]
    delay: 1ms
    loss: {mean: 2%, burst: 3}
cases:
  - name: one
    services:
      - {host: a, run: '{{var "serve"}}', ready: {log: listening}}
    client: {host: c, run: 'curl -o {{.Out}} http://{{addr "a"}}:8080/{{.File}}'}
    model: [a, b, c]
quick:
  repeat: 1
  content: {f.bin: 10KB}
`

func TestParseExperiment_minimal(t *testing.T) {
	e, err := ParseExperiment([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	top, err := e.Topology()
	if err != nil {
		t.Fatal(err)
	}
	ab := top.Links[0]
	want := linkem.Config{Rate: 10 * linkem.Mbps, Delay: 5 * time.Millisecond, Loss: linkem.IID(0.01)}
	if ab.AB != want {
		t.Errorf("a→b = %+v, want %+v", ab.AB, want)
	}
	wantBA := linkem.Config{Rate: 10 * linkem.Mbps, Delay: 7 * time.Millisecond, Loss: linkem.IID(0)}
	if ab.BA != wantBA {
		t.Errorf("b→a = %+v, want %+v", ab.BA, wantBA)
	}
	if got := top.Links[1].AB.Loss; got != linkem.Bursty(0.02, 3) {
		t.Errorf("b→c loss %+v", got)
	}
	if s := e.Cases[0].Services[0]; s.Name != "a-1" || time.Duration(s.Ready.Timeout) != DefaultReadyTimeout {
		t.Errorf("service defaults: %+v", s)
	}
	if h, _ := top.Host("b"); !h.SourceRouting || h.MPTCP.Subflows != 2 {
		t.Errorf("host b: %+v", h)
	}
	e.ApplyQuick()
	if sz, _ := e.Content.Get("f.bin"); e.Repeat != 1 || sz != 10e3 {
		t.Errorf("quick: repeat %d, size %d", e.Repeat, sz)
	}
}

func TestParseExperiment_errors(t *testing.T) {
	for _, tt := range []struct {
		name, from, to, want string
	}{
		{"unknown key", "repeat: 2", "repeats: 2", "field repeats not found"},
		{"unknown host in link", "between: [b, c]", "between: [b, x]", "need two distinct defined hosts"},
		{"unknown client host", "client: {host: c,", "client: {host: z,", `unknown host "z"`},
		{"bad rate", "rate: 10Mbit", "rate: 10 furlongs", "rate"},
		{"bad template", `{{addr "a"}}`, `{{addr "nobody"}}`, "no host"},
		{"bad var", `{{var "serve"}}`, `{{var "nope"}}`, `no var "nope"`},
		{"unknown template field", `{{.File}}`, `{{.Flie}}`, "Flie"},
		{"measured file not content", "measure: {file: f.bin}", "measure: {file: g.bin}", "not in content"},
		{"bad model path", "model: [a, b, c]", "model: [a, c]", "no link between a and c"},
		{"jitter above delay", "delay: 1ms\n", "delay: 1ms\n    jitter: 2ms\n", "jitter"},
		{"long host name", "  c: {}", "  averyveryverylongname: {}", "lower-case"},
		{"bad regexp", "ready: {log: listening}", "ready: {log: '(('}", "ready.log"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantParseError(t, minimal, tt.from, tt.to, tt.want) })
	}
}

// wantParseError checks that the experiment src with from replaced by to
// fails to parse with an error containing want.
func wantParseError(t *testing.T, src, from, to, want string) {
	t.Helper()
	bad := strings.Replace(src, from, to, 1)
	if bad == src {
		t.Fatalf("test bug: %q not in the experiment", from)
	}
	_, err := ParseExperiment([]byte(bad))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

func TestRender_templates(t *testing.T) {
	e, err := ParseExperiment([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	top, _ := e.Topology()
	p, err := newPlan(top)
	if err != nil {
		t.Fatal(err)
	}
	env := &cmdEnv{exp: e, plan: p, Aqueduct: "/bin/aq", Content: "/c", File: "f.bin"}
	for _, tt := range []struct{ in, want string }{
		{`{{var "serve"}}`, "/bin/aq lab fileserver --root /c"},
		{`{{addr "a"}} {{addr "b" "c"}} {{addr "c" "b"}}`, "10.77.0.1 10.77.1.1 10.77.1.2"},
		{`{{dev "b" "a"}}`, "aql-a"},
	} {
		got, err := env.render(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("render(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestPrepare_casesWithoutBaseline: --case may leave the baseline out; the
// report then compares nothing.
func TestPrepare_casesWithoutBaseline(t *testing.T) {
	e, err := LoadExperiment("../../examples/lab/seed001-long-path.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := prepare(e, RunOptions{Cases: []string{"MPTCP (2 paths)"}})
	if err != nil || len(c.Cases) != 1 || c.Compare.Baseline != "" {
		t.Fatalf("prepare without the baseline: %v, %+v", err, c)
	}
	if e.Compare.Baseline != "Direct" {
		t.Errorf("prepare changed the experiment's baseline to %q", e.Compare.Baseline)
	}
	if c, err = prepare(e, RunOptions{Cases: []string{"Direct", "Aqueduct"}}); err != nil || c.Compare.Baseline != "Direct" {
		t.Errorf("prepare with the baseline: %v, baseline %q", err, c.Compare.Baseline)
	}
}

// withChanges is minimal with a schedule of changes on its first link.
var withChanges = strings.Replace(minimal, "    reverse: {loss: 0%, delay: 7ms}\n", `    reverse: {loss: 0%, delay: 7ms}
    changes:
      - at: 10s
        rate: 5Mbit
      - at: 20s
        loss: 2%
        reverse: {delay: 9ms}
`, 1)

func TestParseExperiment_linkChanges(t *testing.T) {
	e, err := ParseExperiment([]byte(withChanges))
	if err != nil {
		t.Fatal(err)
	}
	top, err := e.Topology()
	if err != nil {
		t.Fatal(err)
	}
	const ms = time.Millisecond
	l := top.Links[0]
	// Each change overrides what was in effect before it: the link's own
	// properties, then the earlier changes'.
	want := []LinkChange{
		{At: 10 * time.Second,
			AB: linkem.Config{Rate: 5 * linkem.Mbps, Delay: 5 * ms, Loss: linkem.IID(0.01)},
			BA: linkem.Config{Rate: 5 * linkem.Mbps, Delay: 7 * ms, Loss: linkem.IID(0)}},
		{At: 20 * time.Second,
			AB: linkem.Config{Rate: 5 * linkem.Mbps, Delay: 5 * ms, Loss: linkem.IID(0.02)},
			BA: linkem.Config{Rate: 5 * linkem.Mbps, Delay: 9 * ms, Loss: linkem.IID(0.02)}},
	}
	if len(l.Changes) != len(want) {
		t.Fatalf("changes %+v, want %+v", l.Changes, want)
	}
	for i := range want {
		if l.Changes[i] != want[i] {
			t.Errorf("change %d = %+v\nwant %+v", i, l.Changes[i], want[i])
		}
	}
	if len(top.Links[1].Changes) != 0 {
		t.Errorf("second link has changes: %+v", top.Links[1].Changes)
	}
	evs := top.schedule()
	if len(evs) != 2 || evs[0].At != 10*time.Second || evs[1].link != 0 {
		t.Errorf("schedule %+v", evs)
	}
}

func TestParseExperiment_linkChangeErrors(t *testing.T) {
	for _, tt := range []struct {
		name, from, to, want string
	}{
		{"not increasing", "at: 20s", "at: 10s", "links[0].changes[1] (at 10s): at must come after the previous change's 10s"},
		{"at zero", "at: 10s", "at: 0s", "links[0].changes[0] (at 0s): at must be after the client starts"},
		{"beyond the timeout", "at: 20s", "at: 11m", "links[0].changes[1]: at 11m0s is not within the timeout 10m0s"},
		{"bad config", "rate: 5Mbit\n", "rate: 5Mbit\n        jitter: 1s\n", "links[0].changes[0] (at 10s) a→b: linkem: jitter 1s outside"},
		{"unknown key", "rate: 5Mbit\n", "rate: 5Mbit\n        rtt: 5ms\n", "field rtt not found"},
		{"bad value", "rate: 5Mbit\n", "rate: fast\n", "rate"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantParseError(t, withChanges, tt.from, tt.to, tt.want) })
	}
	// The quick timeout counts too.
	e, err := ParseExperiment([]byte(strings.Replace(withChanges, "  repeat: 1\n", "  repeat: 1\n  timeout: 15s\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prepare(e, RunOptions{Quick: true}); err == nil || !strings.Contains(err.Error(), "not within the timeout 15s") {
		t.Errorf("quick with a change beyond its timeout: %v", err)
	}
}

func TestDescribeChange(t *testing.T) {
	const ms = time.Millisecond
	base := linkem.Config{Rate: 100 * linkem.Mbps, Delay: 75 * ms}
	half := base
	half.Rate = 50 * linkem.Mbps
	lossy := base
	lossy.Loss = linkem.IID(0.01)
	for _, tt := range []struct {
		name             string
		ab, ba, ab2, ba2 linkem.Config
		want             string
	}{
		{"both directions", base, base, half, half,
			"link a–b: rate 100 Mbit/s → 50 Mbit/s, queue 1875 kB → 937.5 kB at 10.0s"},
		{"one direction", base, base, lossy, base, "link a–b: a→b loss none → 1% at 10.0s"},
		{"each its own", base, base, lossy, half,
			"link a–b: a→b loss none → 1%; b→a rate 100 Mbit/s → 50 Mbit/s, queue 1875 kB → 937.5 kB at 10.0s"},
		{"nothing", base, base, base, base, "link a–b: no change at 10.0s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeChange("a", "b", tt.ab, tt.ba, tt.ab2, tt.ba2, 10*time.Second); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
