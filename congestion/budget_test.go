package congestion

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in   string
		want Budget
		err  bool
	}{
		{"", Budget{}, false},
		{"off", Budget{}, false},
		{"1x", Budget{Multiple: 1}, false},
		{" 2.5X ", Budget{Multiple: 2.5}, false},
		{"50Mbit", Budget{Rate: 50e6 / 8}, false},
		{"800kbit", Budget{Rate: 100e3}, false},
		{"10MB", Budget{Rate: 10e6}, false},
		{"1x,80Mbit", Budget{Multiple: 1, Rate: 10e6}, false},
		{"0x", Budget{}, true},
		{"-1x", Budget{}, true},
		{"1x,2x", Budget{}, true},
		{"fast", Budget{}, true},
		{"50", Budget{}, true},
		{"50Mbit,60Mbit", Budget{}, true},
		{"infx", Budget{}, true},
	}
	for _, tt := range tests {
		got, err := ParseBudget(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseBudget(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrBudget) {
			t.Errorf("ParseBudget(%q): error %v does not wrap ErrBudget", tt.in, err)
		}
		if err == nil {
			back, err := ParseBudget(got.String())
			if err != nil || math.Abs(back.Rate-got.Rate) > 1e-6 || back.Multiple != got.Multiple {
				t.Errorf("ParseBudget(%q).String() = %q reads back as %+v, %v", tt.in, got.String(), back, err)
			}
		}
	}
}

// The allowance emulates k AIMD flows: unlimited until the first loss,
// then cut to (1-1/2k) of what the flows carried, growing k segments per
// round trip per round trip, cut at most once per round trip, and never
// far ahead of what the flows use.
func TestAllowance(t *testing.T) {
	const rtt = 100 * time.Millisecond
	e := Estimate{Goodput: 1e6, Rate: 1e6, RTT: rtt, At: t0}
	for _, k := range []float64{1, 2, 4} {
		a := newAllowance(Budget{Multiple: k})
		a.update(t0, e, false, false)
		if !math.IsInf(a.limit(), 1) {
			t.Fatalf("k=%v: limited before any loss: %v", k, a.limit())
		}
		a.update(t0.Add(rtt), e, true, false)
		want := 1e6 * decrease(k)
		if got := a.limit(); math.Abs(got-want) > 1 {
			t.Fatalf("k=%v: after the first loss limit = %.0f, want %.0f", k, got, want)
		}
		// A second loss within the round trip does not cut again.
		a.update(t0.Add(rtt+rtt/2), e, true, false)
		if got := a.limit(); got < want {
			t.Fatalf("k=%v: cut twice in one round trip: %.0f", k, got)
		}
		// One second without loss: k segments per RTT per RTT, 10 RTTs.
		before := a.limit()
		a.update(t0.Add(rtt+rtt/2+time.Second), e, false, false)
		grow := k * segment / rtt.Seconds() * 10
		if got := a.limit() - before; math.Abs(got-grow) > grow*0.01 {
			t.Fatalf("k=%v: grew %.0f B/s in 10 RTT, want %.0f", k, got, grow)
		}
		// An allowance the flows do not use stops at twice what they carry.
		for i := range 1000 {
			a.update(t0.Add(2*time.Second+time.Duration(i)*rtt), e, false, false)
		}
		if got := a.limit(); got > 2*e.Goodput+1 {
			t.Fatalf("k=%v: allowance ran to %.0f B/s on flows carrying %.0f", k, got, e.Goodput)
		}
		// A timeout cuts twice over.
		before = a.limit()
		a.update(t0.Add(time.Hour), e, false, true)
		if got, want := a.limit(), before*decrease(k)*decrease(k); math.Abs(got-want) > 1 {
			t.Fatalf("k=%v: after a timeout %.0f, want %.0f", k, got, want)
		}
	}
	// A fixed rate limits from the start; with a multiple, the lower wins.
	a := newAllowance(Budget{Multiple: 1, Rate: 3e5})
	a.update(t0, e, false, false)
	if got := a.limit(); got != 3e5 {
		t.Fatalf("fixed rate: limit %v, want 3e5", got)
	}
	a.update(t0.Add(rtt), e, true, false)
	if got := a.limit(); got != 3e5 {
		t.Fatalf("1x,fixed: limit %v, want the fixed 3e5 (below 1x's 5e5)", got)
	}
}

// Two flows asking at once share the bucket by weight in start-tag order,
// whatever size they ask in, and the bucket grants no faster than its
// rate.
func TestGrantQueue_fairAndPaced(t *testing.T) {
	tests := []struct {
		name         string
		wa, wb       float64
		sizeA, sizeB int
	}{
		{"equal weights, equal sizes", 1, 1, 16 << 10, 16 << 10},
		{"equal weights, one asks in large pieces", 1, 1, 256 << 10, 4 << 10},
		{"weights 3:1", 3, 1, 16 << 10, 16 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const rate = 1e6
			now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
			a, b := &Flow{weight: tt.wa}, &Flow{weight: tt.wb}
			var q grantQueue
			got := map[*Flow]int{}
			pending := map[*Flow]bool{}
			ask := func(f *Flow, n int) {
				q.add(&grant{f: f, n: n}, f.weight)
				pending[f] = true
			}
			ask(a, tt.sizeA)
			ask(b, tt.sizeB)
			var out []*grant
			start := now
			for range 100_000 {
				var wait time.Duration
				out, wait = q.take(now, rate, out[:0])
				for _, g := range out {
					got[g.f] += g.n
					pending[g.f] = false
				}
				// Each flow keeps one request outstanding.
				if !pending[a] {
					ask(a, tt.sizeA)
				}
				if !pending[b] {
					ask(b, tt.sizeB)
				}
				if wait <= 0 {
					wait = time.Millisecond
				}
				now = now.Add(wait)
				if now.Sub(start) >= 10*time.Second {
					break
				}
			}
			total := float64(got[a] + got[b])
			if limit := rate*10 + burst(rate) + float64(tt.sizeA+tt.sizeB); total > limit {
				t.Errorf("granted %.0f bytes in 10 s at %v B/s (limit %.0f)", total, rate, limit)
			}
			if total < rate*10*0.95 {
				t.Errorf("granted only %.0f bytes in 10 s at %v B/s", total, rate)
			}
			share, want := float64(got[a])/total, tt.wa/(tt.wa+tt.wb)
			if math.Abs(share-want) > 0.03 {
				t.Errorf("flow a got %.3f of the bytes, want %.3f", share, want)
			}
		})
	}
}
