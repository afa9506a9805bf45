package lab

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// Results is everything an experiment run measured; results.json holds it.
type Results struct {
	Experiment  string      `json:"experiment"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Notes       string      `json:"notes,omitempty"`
	Quick       bool        `json:"quick"`
	Started     time.Time   `json:"started"`
	Finished    time.Time   `json:"finished"`
	Machine     Machine     `json:"machine"`
	Seed        uint64      `json:"seed"`
	File        string      `json:"file"`
	FileBytes   int64       `json:"file_bytes"`
	Repeat      int         `json:"repeat"`
	Timeout     string      `json:"timeout"`
	Congestion  []string    `json:"congestion"`
	Cases       []string    `json:"cases"`
	Baseline    string      `json:"baseline,omitempty"`
	Links       []LinkInfo  `json:"links"`
	Summaries   []Summary   `json:"summaries"`
	Model       *ModelInfo  `json:"model,omitempty"`
	Runs        []RunResult `json:"runs"`
	Aborted     string      `json:"aborted,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	Kernel string `json:"kernel"`
	CPUs   int    `json:"cpus"`
	Go     string `json:"go"`
}

// LinkInfo describes one link of the topology.
type LinkInfo struct {
	A       string `json:"a"`
	B       string `json:"b"`
	Forward string `json:"forward"` // a → b
	Reverse string `json:"reverse"` // b → a
	// Changes are the link's scheduled changes (LinkSpec.Changes).
	Changes []LinkChangeInfo `json:"changes,omitempty"`
}

// LinkChangeInfo is a link's configuration from At after the client's
// start.
type LinkChangeInfo struct {
	At      string `json:"at"`
	Forward string `json:"forward"`
	Reverse string `json:"reverse"`
}

// ModelInfo states the model's assumptions.
type ModelInfo struct {
	MSS         int    `json:"mss"`
	Assumptions string `json:"assumptions"`
}

// RunResult is one repetition of one case under one congestion control.
type RunResult struct {
	Congestion string `json:"congestion"`
	Case       string `json:"case"`
	Rep        int    `json:"rep"`
	OK         bool   `json:"ok"`
	// Partial marks a client stopped at the time limit: Bytes is what it
	// had received, and Mbps is over the time limit.
	Partial bool                    `json:"partial,omitempty"`
	Error   string                  `json:"error,omitempty"`
	Seconds float64                 `json:"seconds"`
	Bytes   int64                   `json:"bytes"`
	Mbps    float64                 `json:"mbps"`
	Links   []LinkDelta             `json:"links,omitempty"`
	Hosts   map[string]HostCounters `json:"hosts,omitempty"`
	Load    [2]float64              `json:"loadavg"` // 1-minute load average before and after
	Logs    string                  `json:"logs,omitempty"`
	// LinkChanges says which scheduled link changes the run applied, and
	// when ("link a–b: rate 100 Mbit/s → 50 Mbit/s at 10.0s").
	LinkChanges []string `json:"link_changes,omitempty"`
}

// LinkDelta is one link's activity during a run.
type LinkDelta struct {
	Link string       `json:"link"`
	AB   linkem.Stats `json:"ab"`
	BA   linkem.Stats `json:"ba"`
}

// Summary aggregates the runs of one case under one congestion control.
type Summary struct {
	Congestion string      `json:"congestion"`
	Case       string      `json:"case"`
	Runs       int         `json:"runs"`
	OK         int         `json:"ok"`
	Partial    int         `json:"partial"`
	MeanMbps   float64     `json:"mean_mbps"`
	MinMbps    float64     `json:"min_mbps"`
	MaxMbps    float64     `json:"max_mbps"`
	MeanSec    float64     `json:"mean_seconds"`
	Model      *Prediction `json:"model,omitempty"`
	Paper      float64     `json:"paper_mbps,omitempty"`
	// Ratio is MeanMbps over the baseline case's, under the same
	// congestion control; 0 when either is missing.
	Ratio float64 `json:"ratio,omitempty"`
}

// summarize aggregates r.Runs into r.Summaries.
func (r *Results) summarize(e *Experiment) {
	r.Summaries = nil
	for _, cc := range r.Congestion {
		for _, c := range e.Cases {
			if !slices.Contains(r.Cases, c.Name) {
				continue
			}
			s := Summary{Congestion: cc, Case: c.Name, Paper: c.Paper, MinMbps: math.Inf(1)}
			var sumMbps, sumSec float64
			for _, run := range r.Runs {
				if run.Congestion != cc || run.Case != c.Name {
					continue
				}
				s.Runs++
				if !run.OK {
					continue
				}
				s.OK++
				if run.Partial {
					s.Partial++
				}
				sumMbps += run.Mbps
				sumSec += run.Seconds
				s.MinMbps = math.Min(s.MinMbps, run.Mbps)
				s.MaxMbps = math.Max(s.MaxMbps, run.Mbps)
			}
			if s.OK > 0 {
				s.MeanMbps = sumMbps / float64(s.OK)
				s.MeanSec = sumSec / float64(s.OK)
			} else {
				s.MinMbps = 0
			}
			if len(c.Model) > 1 {
				if hops, err := e.modelHops(c.Model); err == nil {
					p := Predict(c.Model, hops, ModelMSS)
					s.Model = &p
				}
			}
			r.Summaries = append(r.Summaries, s)
		}
	}
	if r.Baseline == "" {
		return
	}
	for i := range r.Summaries {
		s := &r.Summaries[i]
		for _, b := range r.Summaries {
			if b.Case == r.Baseline && b.Congestion == s.Congestion && b.MeanMbps > 0 && s.OK > 0 {
				s.Ratio = s.MeanMbps / b.MeanMbps
			}
		}
	}
}

// summary returns the summary for cc and name.
func (r *Results) summary(cc, name string) (Summary, bool) {
	for _, s := range r.Summaries {
		if s.Congestion == cc && s.Case == name {
			return s, true
		}
	}
	return Summary{}, false
}

// writeFiles writes results.json, results.md and plot.svg into dir, each
// through a temporary file and a rename.
func (r *Results) writeFiles(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: results: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, "results.json"), append(js, '\n')); err != nil {
		return err
	}
	return r.Render(dir)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// Markdown renders the report.
func (r *Results) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s\n\n", r.Title)
	if r.Description != "" {
		p("%s\n\n", strings.TrimSpace(r.Description))
	}
	mode := "full"
	if r.Quick {
		mode = "quick (CI)"
	}
	p("Experiment `%s`, %s mode, run %s on Linux %s with %d CPUs (%s). ", r.Experiment, mode,
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Machine.Kernel, r.Machine.CPUs, r.Machine.Go)
	p("Each case downloads `%s` (%s) %d time(s) per congestion control; a run is cut at %s. ",
		r.File, Size(r.FileBytes), r.Repeat, r.Timeout)
	p("Goodput is the file's size over the client command's wall time. Link seed %d.\n\n", r.Seed)
	if r.Aborted != "" {
		p("**The run was aborted: %s. The tables hold what was measured before.**\n\n", r.Aborted)
	}

	p("## Topology\n\n| link | direction | configuration |\n| --- | --- | --- |\n")
	for _, l := range r.Links {
		p("| %s–%s | %s → %s | %s |\n", l.A, l.B, l.A, l.B, l.Forward)
		p("| | %s → %s | %s |\n", l.B, l.A, l.Reverse)
		for _, c := range l.Changes {
			p("| | at %s: %s → %s | %s |\n", c.At, l.A, l.B, c.Forward)
			p("| | at %s: %s → %s | %s |\n", c.At, l.B, l.A, c.Reverse)
		}
	}
	if hasChanges(r.Links) {
		p("\nThe changes apply in every run at the given time after the client starts; each run starts from the link's own configuration.\n")
	}

	hasModel, hasPaper := false, false
	for _, s := range r.Summaries {
		hasModel = hasModel || s.Model != nil
		hasPaper = hasPaper || s.Paper > 0
	}
	p("\n## Results (goodput, Mbit/s)\n\n")
	hdr := "| congestion | case | runs ok | mean | min | max | mean time (s) |"
	sep := "| --- | --- | --- | --- | --- | --- | --- |"
	if r.Baseline != "" {
		hdr += " × " + r.Baseline + " |"
		sep += " --- |"
	}
	if hasModel {
		hdr += " model eq. (2) | model eq. (3) |"
		sep += " --- | --- |"
	}
	if hasPaper {
		hdr += " paper |"
		sep += " --- |"
	}
	p("%s\n%s\n", hdr, sep)
	for _, s := range r.Summaries {
		ok := fmt.Sprintf("%d/%d", s.OK, s.Runs)
		if s.Partial > 0 {
			ok += fmt.Sprintf(" (%d cut)", s.Partial)
		}
		switch {
		case s.Runs == 0:
			p("| %s | %s | 0/0 | not run | | | |", s.Congestion, s.Case)
		case s.OK == 0:
			p("| %s | %s | %s | failed | | | |", s.Congestion, s.Case, ok)
		default:
			p("| %s | %s | %s | %.2f | %.2f | %.2f | %.1f |", s.Congestion, s.Case, ok, s.MeanMbps, s.MinMbps, s.MaxMbps, s.MeanSec)
		}
		if r.Baseline != "" {
			if s.Ratio > 0 {
				p(" %.2f |", s.Ratio)
			} else {
				p(" |")
			}
		}
		if hasModel {
			switch {
			case s.Model == nil:
				p(" | |")
			case !modelApplies(s.Congestion):
				p(" n/a | n/a |")
			default:
				p(" %s | %s |", fmtMbps(s.Model.Eq2), fmtMbps(s.Model.Eq3))
			}
		}
		if hasPaper {
			if s.Paper > 0 {
				p(" %.1f |", s.Paper)
			} else {
				p(" |")
			}
		}
		p("\n")
	}
	p("\n![goodput per case](plot.svg)\n\n")
	p("%s", r.traffic())
	if hasModel {
		p("## Model\n\n%s\n\n", modelAssumptions)
		p("| case | path | eq. (1) full, min over hops | eq. (2) | eq. (3) |\n| --- | --- | --- | --- | --- |\n")
		seen := map[string]bool{}
		for _, s := range r.Summaries {
			if s.Model == nil || seen[s.Case] {
				continue
			}
			seen[s.Case] = true
			p("| %s | %s | %s | %s | %s |\n", s.Case, strings.Join(s.Model.Path, " → "),
				fmtMbps(s.Model.Eq1Full), fmtMbps(s.Model.Eq2), fmtMbps(s.Model.Eq3))
		}
		p("\n")
	}
	p("## Testbed\n\n")
	p("%s\n\n", r.health())
	var failed []RunResult
	for _, run := range r.Runs {
		if !run.OK {
			failed = append(failed, run)
		}
	}
	if len(failed) > 0 {
		p("## Failed runs\n\n")
		for _, f := range failed {
			// The first line says what failed; the rest, if any, is the
			// end of the failed command's log, indented.
			head, log, _ := strings.Cut(f.Error, "\n")
			p("- %s, %s, run %d: %s", f.Congestion, f.Case, f.Rep, oneLine(head))
			if f.Logs != "" {
				p(" (logs: `%s`)", f.Logs)
			}
			p("\n")
			if log != "" {
				p("\n  ```text\n")
				for l := range strings.Lines(log) {
					l = strings.TrimPrefix(strings.TrimRight(l, "\n"), "    ")
					p("  %s\n", strings.ReplaceAll(l, "```", "'''"))
				}
				p("  ```\n\n")
			}
		}
		p("\n")
	}
	if r.Notes != "" {
		p("## Notes\n\n%s\n", strings.TrimSpace(r.Notes))
	}
	return b.String()
}

const modelAssumptions = "Predictions of seed 002's equations for each case's data path, in Mbit/s of goodput: " +
	"(1) is Padhye's formula with RTO = 4·rtt; (2) is the simple form s·√1.5/(rtt·√p) taken as the minimum over the " +
	"hops of a chain of TCP connections; (3) treats the whole path as one TCP connection (rtt summed, losses combined). " +
	"Assumptions: s = MSS = 1448 bytes (MTU 1500 less IPv4, TCP and timestamp headers); rtt is the hop's configured " +
	"round trip, without queueing; p is the loss configured in the data direction (ACK losses ignored); the model " +
	"describes Reno-like congestion control and ignores the link rate, so it does not apply to BBR. " +
	"The paper's own figures (9.0 and 22.2 Mbit/s for Figure 6) assume 1 KB packets; with 1448-byte segments the same " +
	"equations give 12.95 and 31.7 Mbit/s, the same ratio of 2.45."

// traffic renders the "Traffic per link" section: for each case and
// congestion control, the bytes each link delivered per run in each
// direction, and, if any host counted MPTCP, the MPTCP connections and
// extra subflows the hosts accepted per run. It says which paths a case
// really used.
func (r *Results) traffic() string {
	if len(r.Links) == 0 {
		return ""
	}
	hasMPTCP := false
	for _, run := range r.Runs {
		for _, h := range run.Hosts {
			hasMPTCP = hasMPTCP || len(h.MPTCP) > 0
		}
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Traffic per link\n\n")
	p("Megabytes (10⁶ bytes, IP layer) each link delivered per run while the client ran, " +
		"first host to second / second to first, mean over the runs that succeeded")
	if hasMPTCP {
		p("; MPTCP connections and subflows joined are the MPTCP connections and the extra subflows of existing " +
			"connections that the hosts accepted per run (MPTcpExt counters MPCapableACKRX and MPJoinAckRx), " +
			"from before the run's setup to the end of its client")
	}
	p(".\n\n| congestion | case |")
	for _, l := range r.Links {
		p(" %s–%s |", l.A, l.B)
	}
	if hasMPTCP {
		p(" MPTCP connections | subflows joined |")
	}
	p("\n| --- | --- |%s", strings.Repeat(" --- |", len(r.Links)))
	if hasMPTCP {
		p(" --- | --- |")
	}
	p("\n")
	for _, s := range r.Summaries {
		fwd, rev := make([]float64, len(r.Links)), make([]float64, len(r.Links))
		var conns, joins float64
		n := 0
		for _, run := range r.Runs {
			if run.Congestion != s.Congestion || run.Case != s.Case || !run.OK || len(run.Links) != len(r.Links) {
				continue
			}
			n++
			for i, l := range run.Links {
				fwd[i] += float64(l.AB.Delivered)
				rev[i] += float64(l.BA.Delivered)
			}
			for _, h := range run.Hosts {
				conns += float64(h.MPTCPConnections())
				joins += float64(h.MPTCPJoins())
			}
		}
		if n == 0 {
			continue
		}
		p("| %s | %s |", s.Congestion, s.Case)
		for i := range r.Links {
			p(" %.2f / %.2f |", fwd[i]/float64(n)/1e6, rev[i]/float64(n)/1e6)
		}
		if hasMPTCP {
			p(" %.3g | %.3g |", conns/float64(n), joins/float64(n))
		}
		p("\n")
	}
	p("\n")
	return b.String()
}

func (r *Results) health() string {
	var maxLate time.Duration
	var late1, late10, delivered, overflow, txDropped, retrans, outSegs uint64
	var maxLoad float64
	for _, run := range r.Runs {
		for _, l := range run.Links {
			for _, s := range []linkem.Stats{l.AB, l.BA} {
				maxLate = max(maxLate, s.MaxLate)
				late1 += s.Late1ms
				late10 += s.Late10ms
				delivered += s.DeliveredPackets
				overflow += s.OverflowPackets
			}
		}
		for _, h := range run.Hosts {
			txDropped += h.TxDropped
			retrans += h.TCPRetransSegs
			outSegs += h.TCPOutSegs
		}
		maxLoad = max(maxLoad, run.Load[0], run.Load[1])
	}
	frac := func(n uint64) string {
		if delivered == 0 {
			return "0%"
		}
		return fmt.Sprintf("%.3g%%", 100*float64(n)/float64(delivered))
	}
	s := fmt.Sprintf("Emulator health over all runs: of %d packets delivered, %d (%s) were released over 1 ms late and %d (%s) over 10 ms late; "+
		"the worst was %v late. %d delay-line overflow(s), %d packet(s) dropped at TUN transmit queues (a forwarder falling behind). "+
		"TCP retransmitted %d of %d segments sent. Highest 1-minute load average seen: %.1f on %d CPUs.",
		delivered, late1, frac(late1), late10, frac(late10), maxLate.Round(time.Microsecond), overflow, txDropped, retrans, outSegs, maxLoad, r.Machine.CPUs)
	if late10 > 0 {
		s += " Late releases come in bursts when the virtual machine does not run the emulator's real-time threads for a while (see docs/lab.md, Limits)."
	}
	if maxLoad > float64(r.Machine.CPUs) {
		s += " The machine was busier than its CPU count during some runs: endpoints competed for CPU, and their goodput may be lower than the network alone allows."
	}
	return s
}

// modelApplies reports whether seed 002's loss-based model describes
// congestion control cc: it does not describe BBR, which does not back off
// on random loss.
func modelApplies(cc string) bool { return !strings.HasPrefix(cc, "bbr") }

// LoadResults reads a results.json.
func LoadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", path, err)
	}
	return &r, nil
}

// Render rewrites results.md and plot.svg in dir from r.
func (r *Results) Render(dir string) error {
	if err := writeAtomic(filepath.Join(dir, "results.md"), []byte(r.Markdown())); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "plot.svg"), []byte(r.SVG()))
}

func fmtMbps(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.2f", v)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func hasChanges(links []LinkInfo) bool {
	return slices.ContainsFunc(links, func(l LinkInfo) bool { return len(l.Changes) > 0 })
}
