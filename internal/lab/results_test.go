package lab

import (
	"encoding/json"
	"encoding/xml"
	"math"
	"strings"
	"testing"
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
