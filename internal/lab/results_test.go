package lab

import (
	"encoding/json"
	"encoding/xml"
	"math"
	"strings"
	"testing"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

func sampleResults(t *testing.T) (*Experiment, *Results) {
	t.Helper()
	e, err := ParseExperiment([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	r := &Results{Experiment: e.Name, Title: "T <&>", Congestion: []string{"reno", "bbr"}, Cases: []string{"one"}, Repeat: 2, Machine: Machine{CPUs: 2}}
	r.Runs = []RunResult{
		{Congestion: "reno", Case: "one", Rep: 1, OK: true, Mbps: 10, Seconds: 8},
		{Congestion: "reno", Case: "one", Rep: 2, OK: true, Mbps: 20, Seconds: 4, Partial: true},
		{Congestion: "bbr", Case: "one", Rep: 1, Error: "client exited: exit status 7"},
		{Congestion: "bbr", Case: "one", Rep: 2, Error: "service a-1 exited"},
	}
	r.summarize(e)
	return e, r
}

func TestResults_summarize(t *testing.T) {
	_, r := sampleResults(t)
	s, ok := r.summary("reno", "one")
	if !ok || s.OK != 2 || s.Partial != 1 || s.MeanMbps != 15 || s.MinMbps != 10 || s.MaxMbps != 20 || s.MeanSec != 6 {
		t.Errorf("reno summary %+v", s)
	}
	if s.Model == nil || s.Model.Eq2 <= 0 || math.IsInf(s.Model.Eq2, 0) {
		t.Errorf("model %+v", s.Model)
	}
	if b, _ := r.summary("bbr", "one"); b.OK != 0 || b.Runs != 2 || b.MinMbps != 0 {
		t.Errorf("bbr summary %+v", b)
	}
}

func TestResults_markdownAndJSON(t *testing.T) {
	_, r := sampleResults(t)
	md := r.Markdown()
	for _, want := range []string{
		"| reno | one | 2/2 (1 cut) | 15.00 | 10.00 | 20.00 | 6.0 |",
		"| bbr | one | 0/2 | failed |",
		"n/a", // the model does not describe BBR
		"bbr, one, run 1: client exited: exit status 7",
		"![goodput per case](plot.svg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Markdown() != md {
		t.Error("markdown differs after a JSON round trip")
	}
}

func TestResults_SVGIsWellFormed(t *testing.T) {
	_, r := sampleResults(t)
	svg := r.SVG()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG does not parse: %v\n%s", err, svg)
			}
			break
		}
	}
	for _, want := range []string{"T &lt;&amp;&gt;", ">failed<", ">reno<", ">bbr<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestResults_trafficPerLink(t *testing.T) {
	e, r := sampleResults(t)
	if strings.Contains(r.Markdown(), "## Traffic per link") {
		t.Error("traffic section without links")
	}
	r.Links = []LinkInfo{{A: "a", B: "b"}, {A: "b", B: "c"}}
	links := func(ab1, ab2 uint64) []LinkDelta {
		return []LinkDelta{
			{Link: "a–b", AB: linkem.Stats{Delivered: ab1}, BA: linkem.Stats{Delivered: 1e6}},
			{Link: "b–c", AB: linkem.Stats{Delivered: ab2}},
		}
	}
	r.Runs[0].Links = links(100e6, 0)
	r.Runs[1].Links = links(200e6, 50e6)
	r.Runs[1].Hosts = map[string]HostCounters{
		"a": {MPTCP: map[string]uint64{"MPCapableACKRX": 1, "MPJoinAckRx": 1}},
		"b": {MPTCP: map[string]uint64{"MPCapableACKRX": 1}},
	}
	r.Runs[2].Links = links(999e6, 999e6) // a failed run: not counted
	r.summarize(e)
	md := r.Markdown()
	for _, want := range []string{
		"## Traffic per link",
		"| congestion | case | a–b | b–c | MPTCP connections | subflows joined |",
		"| reno | one | 150.00 / 1.00 | 25.00 / 0.00 | 1 | 0.5 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| bbr | one | 999") {
		t.Errorf("a failed run's traffic is counted:\n%s", md)
	}
}
