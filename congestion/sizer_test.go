package congestion

import (
	"math"
	"strings"
	"testing"
	"time"
)

// path models a destination: each connection gets perConn, all of them
// together at most capacity (bytes per second).
type path struct{ perConn, capacity float64 }

func (p path) rate(n int) float64 { return min(float64(n)*p.perConn, p.capacity) }

// drive runs a Sizer against p for d in 100 ms steps, the connections
// following the target at once and always busy unless idle says so; it
// returns the targets the Sizer went through. delivered is the bytes
// counter, carried from one drive to the next.
func drive(s *Sizer, p path, from time.Time, d time.Duration, idle bool, delivered *uint64) (counts []int, end time.Time) {
	counts = []int{s.Target()}
	now := from
	var saturated time.Duration
	for ; now.Sub(from) < d; now = now.Add(100 * time.Millisecond) {
		if !idle {
			saturated += 100 * time.Millisecond
		}
		*delivered += uint64(p.rate(s.Target()) / 10)
		if s.Observe(now, Observation{Conns: s.Target(), Delivered: *delivered, Saturated: saturated, RTT: 150 * time.Millisecond}) {
			counts = append(counts, s.Target())
		}
	}
	return counts, now
}

func TestSizer(t *testing.T) {
	const mbit = 1e6 / 8
	tests := []struct {
		name       string
		cfg        SizerConfig
		path       path
		idle       bool
		want       []int
		wantReason Reason
	}{
		{"loss-limited: grows until the path is full, then steps back",
			SizerConfig{Initial: 4}, path{1 * mbit, 100 * mbit}, false,
			// 8, then 32: a step that kept the rate per connection
			// quadruples the next; 128 fills the path in part (the knee,
			// 100, then 200, which does not pay), and after the hold a
			// later probe.
			[]int{4, 8, 32, 128, 200, 100, 200}, ReasonProbing},
		{"one connection fills the path: the first step does not pay",
			SizerConfig{Initial: 4, Hold: time.Minute}, path{100 * mbit, 100 * mbit}, false,
			[]int{4, 8, 4}, ReasonPlateau},
		{"a step that brings less than Gain of the proportional increase does not pay",
			SizerConfig{Initial: 8, Hold: time.Minute}, path{1 * mbit, 9.5 * mbit}, false,
			[]int{8, 16, 9}, ReasonPlateau}, // 9.5 Mbit/s: 9 connections at 8's rate each
		{"the most allowed", SizerConfig{Initial: 4, Max: 20}, path{1 * mbit, 100 * mbit}, false,
			[]int{4, 8, 20}, ReasonMax},
		{"demand-limited: nothing learnt", SizerConfig{Initial: 4}, path{1 * mbit, 100 * mbit}, true,
			[]int{4}, ReasonDemand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSizer(tt.cfg)
			var delivered uint64
			got, _ := drive(s, tt.path, t0, 30*time.Second, tt.idle, &delivered)
			if !equalInts(got, tt.want) {
				t.Fatalf("counts %v, want %v", got, tt.want)
			}
			if r, detail := s.Reason(); r != tt.wantReason || detail == "" {
				t.Fatalf("reason %v %q, want %v", r, detail, tt.wantReason)
			}
		})
	}
}

// After a plateau the Sizer tries again once Hold has passed, and follows
// a path whose loss went down (fewer connections needed: it does not go
// below where it is, but stops growing) or whose capacity went up.
func TestSizer_holdsThenProbesAgain(t *testing.T) {
	const mbit = 1e6 / 8
	s := NewSizer(SizerConfig{Initial: 4, Hold: 10 * time.Second})
	var delivered uint64
	got, now := drive(s, path{1 * mbit, 10 * mbit}, t0, 15*time.Second, false, &delivered)
	if want := []int{4, 8, 32, 10}; !equalInts(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	// The capacity grows: the next probe, after Hold, pays.
	got, _ = drive(s, path{1 * mbit, 40 * mbit}, now, 20*time.Second, false, &delivered)
	if len(got) < 3 || got[2] <= 16 {
		t.Fatalf("after the capacity grew: counts %v, want growth past 16", got)
	}
}

func TestSizer_waitsForConnectionsAndDemand(t *testing.T) {
	s := NewSizer(SizerConfig{Initial: 4, Warmup: time.Second, Measure: 2 * time.Second})
	now := t0
	var delivered uint64
	var saturated time.Duration
	// step observes conns connections for d at 1 MB/s, saturated for the
	// part busy of each 100 ms.
	step := func(d time.Duration, conns int, busy float64) (changed bool) {
		for end := now.Add(d); now.Before(end); now = now.Add(100 * time.Millisecond) {
			delivered += 1e5
			saturated += time.Duration(busy * float64(100*time.Millisecond))
			if s.Observe(now, Observation{Conns: conns, Delivered: delivered, Saturated: saturated}) {
				changed = true
			}
		}
		return changed
	}
	if step(10*time.Second, 3, 1) {
		t.Fatal("changed while the connections were not all up")
	}
	if step(10*time.Second, 4, 0.6) {
		t.Fatal("changed though the connections were saturated only 60% of the time")
	}
	if r, detail := s.Reason(); r != ReasonDemand {
		t.Fatalf("reason %v (%s), want %v", r, detail, ReasonDemand)
	}
	if !step(4*time.Second, 4, 0.8) || s.Target() != 8 {
		t.Fatalf("target %d after a measurement saturated 80%% of the time, want a step to 8", s.Target())
	}
	s.SetMin(10)
	if s.Target() < 10 {
		t.Fatalf("target %d below the new minimum 10", s.Target())
	}
}

// A rate that comes down from a slow-start burst is measured once it has
// settled: the first windows disagree between their halves and are
// restarted, so the step up is judged against the settled rate, not the
// burst, and pays.
func TestSizer_waitsForASteadyRate(t *testing.T) {
	const mbit = 1e6 / 8
	s := NewSizer(SizerConfig{Initial: 4})
	now, delivered := t0, uint64(0)
	// Each connection starts at 10 Mbit/s and decays to 1 Mbit/s (its
	// loss-limited rate) with a time constant of 2 s.
	born := map[int]time.Time{}
	rate := func(n int) float64 {
		var r float64
		for i := range n {
			if _, ok := born[i]; !ok {
				born[i] = now
			}
			age := now.Sub(born[i]).Seconds()
			r += mbit * (1 + 9*math.Exp(-age/2))
		}
		return r
	}
	var counts []int
	for end := now.Add(30 * time.Second); now.Before(end); now = now.Add(100 * time.Millisecond) {
		delivered += uint64(rate(s.Target()) / 10)
		if s.Observe(now, Observation{Conns: s.Target(), Delivered: delivered, Saturated: now.Sub(t0), RTT: 150 * time.Millisecond}) {
			counts = append(counts, s.Target())
		}
	}
	if len(counts) < 2 || counts[0] != 8 || counts[1] <= 8 {
		t.Fatalf("counts %v, want a step to 8 that pays, and more", counts)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Where a step never pays (one connection fills the path), the probes
// space out: each hold doubles, up to 16 times Hold.
func TestSizer_fruitlessProbesSpaceOut(t *testing.T) {
	const mbit = 1e6 / 8
	s := NewSizer(SizerConfig{Initial: 4, Hold: 5 * time.Second})
	var delivered uint64
	now := t0
	var probes []time.Duration
	for end := now.Add(5 * time.Minute); now.Before(end); now = now.Add(100 * time.Millisecond) {
		delivered += uint64(path{100 * mbit, 100 * mbit}.rate(s.Target()) / 10)
		if s.Observe(now, Observation{Conns: s.Target(), Delivered: delivered, Saturated: now.Sub(t0), RTT: 150 * time.Millisecond}) && s.Target() > 4 {
			probes = append(probes, now.Sub(t0))
		}
	}
	if len(probes) < 4 || len(probes) > 7 {
		t.Fatalf("probes at %v, want 4 to 7 in 5 minutes with holds of 5, 10, 20, 40, 80 s", probes)
	}
	for i := 2; i < len(probes); i++ {
		if probes[i]-probes[i-1] < probes[i-1]-probes[i-2] {
			t.Fatalf("probes at %v: a gap shrinks", probes)
		}
	}
	if first, last := probes[1]-probes[0], probes[len(probes)-1]-probes[len(probes)-2]; last < 4*first {
		t.Fatalf("probes at %v: the last gap %v is not four times the first %v", probes, last, first)
	}
}

// Connections fresh out of slow start on a lossy path deliver several
// times what the loss will let them keep (CUBIC comes down over many round
// trips): measured then, the first count's rate is a false baseline
// against which doubling seems not to pay. Told the loss, the Sizer waits
// until their windows are near the loss-limited one, and then quadruples:
// it reaches a count that fills the path instead of stopping at the first.
func TestSizer_waitsForSlowStartToSettle(t *testing.T) {
	const (
		mbit     = 1e6 / 8
		rtt      = 150 * time.Millisecond
		loss     = 0.01
		capacity = 100 * mbit
	)
	steady := 1.22 / math.Sqrt(loss) * segment / rtt.Seconds() // per connection, bytes/s
	for _, told := range []bool{false, true} {
		s := NewSizer(SizerConfig{Initial: 8, Max: 128})
		now, born := t0, map[int]time.Time{}
		var delivered uint64
		var saturated time.Duration
		counts := []int{s.Target()}
		for ; now.Sub(t0) < 25*time.Second; now = now.Add(100 * time.Millisecond) {
			// Each connection starts at four times its steady rate and
			// comes down to it over 6 s.
			var rate float64
			for i := range s.Target() {
				if _, ok := born[i]; !ok {
					born[i] = now
				}
				age := now.Sub(born[i]).Seconds()
				rate += steady * (1 + 3*math.Max(0, 1-age/6))
			}
			delivered += uint64(min(rate, capacity) / 10)
			saturated += 100 * time.Millisecond
			o := Observation{Conns: s.Target(), Delivered: delivered, Saturated: saturated, RTT: rtt}
			if told {
				o.Loss = loss
			}
			if s.Observe(now, o) {
				counts = append(counts, s.Target())
			}
		}
		t.Logf("loss told: %v: counts %v", told, counts)
		if told && s.Target() < 96 {
			t.Errorf("told the loss: counts %v, want a count that fills the path (about 100)", counts)
		}
	}
}

// On a lossy path whose connections do not back off at loss (BBR: each
// keeps a window far above the loss-limited one), a step that does not pay
// goes back to the count before it: the loss-limited knee does not apply.
func TestSizer_lossyButNotLossLimited(t *testing.T) {
	const mbit = 1e6 / 8
	s := NewSizer(SizerConfig{Initial: 8, Hold: time.Minute})
	var delivered uint64
	var counts []int
	now := t0
	for ; now.Sub(t0) < 20*time.Second; now = now.Add(100 * time.Millisecond) {
		delivered += uint64(path{20 * mbit, 80 * mbit}.rate(s.Target()) / 10)
		o := Observation{Conns: s.Target(), Delivered: delivered, Saturated: now.Sub(t0), RTT: 150 * time.Millisecond, Loss: 0.01}
		if s.Observe(now, o) {
			counts = append(counts, s.Target())
		}
	}
	if want := []int{16, 8}; !equalInts(counts, want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
}

// Connections whose rate falls fast on a path that holds a loss-based
// congestion control to a dozen segments are coming down from slow start:
// while they still carry what n connections at the loss-limited rate
// would, the Sizer quadruples at once rather than waiting for them to
// settle. A path already full at that rate gets no early step.
func TestSizer_earlyStepWhileComingDown(t *testing.T) {
	const (
		mbit = 1e6 / 8
		rtt  = 150 * time.Millisecond
		loss = 0.01
	)
	steady := 1.22 / math.Sqrt(loss) * segment / rtt.Seconds()
	for _, tt := range []struct {
		name     string
		capacity float64
		early    bool
	}{
		{"room on the path", 100 * mbit, true},
		{"a path full at 6 connections' rate", 6 * steady, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSizer(SizerConfig{Initial: 8, Max: 128})
			var delivered uint64
			var first time.Duration
			for now := t0; now.Sub(t0) < 3*time.Second; now = now.Add(100 * time.Millisecond) {
				age := now.Sub(t0).Seconds()
				rate := 8 * steady * (1 + 5*math.Max(0, 1-age/2.5)) // from 6x to 1x in 2.5 s
				delivered += uint64(min(rate, tt.capacity) / 10)
				o := Observation{Conns: s.Target(), Delivered: delivered, Saturated: now.Sub(t0), RTT: rtt, Loss: loss}
				if s.Observe(now, o) && first == 0 {
					first = now.Sub(t0)
				}
			}
			r, detail := s.Reason()
			t.Logf("first change at %v: target %d (%v: %s)", first, s.Target(), r, detail)
			// Without the early step the first measurement ends later, or
			// (a full path, its rate steady) steps as a measured one.
			early := first > 0 && first < 2500*time.Millisecond && strings.Contains(detail, "coming down")
			if early != tt.early {
				t.Errorf("an early step to 32 = %v, want %v", early, tt.early)
			}
		})
	}
}
