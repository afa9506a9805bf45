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
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(minimal, tt.from, tt.to, 1)
			if src == minimal {
				t.Fatalf("test bug: %q not in the minimal experiment", tt.from)
			}
			_, err := ParseExperiment([]byte(src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
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
