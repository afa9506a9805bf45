package congestion

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

// feed observes a flow that delivers rate bytes/s, sending segments of
// 1000 bytes of which lossFrac are lost, every step for d.
func feed(e Estimator, from time.Time, rate, lossFrac float64, rtt time.Duration, step, d time.Duration, base Sample) Sample {
	s := base
	for at := time.Duration(0); at < d; at += step {
		s.At = from.Add(at + step)
		delivered := rate * step.Seconds()
		s.Delivered += uint64(delivered)
		sent := uint64(delivered / 1000 / (1 - lossFrac))
		s.Sent += sent
		s.Lost += uint64(math.Round(float64(sent) * lossFrac))
		s.RTT, s.MinRTT = rtt, rtt
		e.Observe(s)
	}
	return s
}

func TestEWMA_convergesAndFollows(t *testing.T) {
	tests := []struct {
		name     string
		step     time.Duration
		rate     float64
		loss     float64
		rtt      time.Duration
		wantRate float64
	}{
		{"100 ms steps", 100 * time.Millisecond, 12.5e6, 0.01, 150 * time.Millisecond, 12.5e6},
		{"irregular, slow steps", 730 * time.Millisecond, 1e6, 0, 20 * time.Millisecond, 1e6},
		{"lossy", 50 * time.Millisecond, 5e6, 0.1, 300 * time.Millisecond, 5e6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEWMA(0)
			e.Observe(Sample{At: t0})
			feed(e, t0, tt.rate, tt.loss, tt.rtt, tt.step, 10*time.Second, Sample{})
			got := e.Estimate()
			if math.Abs(got.Rate/tt.wantRate-1) > 0.02 {
				t.Errorf("rate %.0f, want %.0f ± 2%%", got.Rate, tt.wantRate)
			}
			if math.Abs(got.Loss-tt.loss) > 0.005 {
				t.Errorf("loss %.4f, want %.4f", got.Loss, tt.loss)
			}
			if got.RTT != tt.rtt || got.MinRTT != tt.rtt {
				t.Errorf("rtt %v min %v, want %v", got.RTT, got.MinRTT, tt.rtt)
			}
		})
	}
}

// After the rate halves, the estimate falls below 0.6 of the old rate
// within two half-lives (weights halve every half-life: after two, the old
// rate weighs a quarter: 0.5 + 0.25·0.5 = 0.625 at exactly 2, less after).
func TestEWMA_followsAHalving(t *testing.T) {
	e := NewEWMA(time.Second)
	e.Observe(Sample{At: t0})
	s := feed(e, t0, 10e6, 0, 50*time.Millisecond, 100*time.Millisecond, 10*time.Second, Sample{})
	feed(e, s.At, 5e6, 0, 50*time.Millisecond, 100*time.Millisecond, 2100*time.Millisecond, s)
	if r := e.Estimate().Rate; r > 0.63*10e6 || r < 0.5*10e6 {
		t.Fatalf("rate %.0f after 2.1 half-lives at half the rate, want 5.0e6..6.3e6", r)
	}
}

func TestEWMA_baselinesAndTimeouts(t *testing.T) {
	e := NewEWMA(time.Second)
	e.Observe(Sample{At: t0, Delivered: 1 << 30})
	if e.Estimate().Known() {
		t.Fatal("one sample gives no interval, but the estimate is known")
	}
	e.Observe(Sample{At: t0.Add(time.Second), Delivered: 1<<30 + 1e6})
	if r := e.Estimate().Rate; r != 1e6 {
		t.Fatalf("rate %v, want 1e6", r)
	}
	// A counter that goes backwards (a reset) is a new baseline, not a
	// huge interval.
	e.Observe(Sample{At: t0.Add(2 * time.Second), Delivered: 10})
	if r := e.Estimate().Rate; r != 1e6 {
		t.Fatalf("after a counter reset: rate %v, want 1e6 unchanged", r)
	}
	// Samples at the same instant are ignored.
	e.Observe(Sample{At: t0.Add(2 * time.Second), Delivered: 1e9})
	if r := e.Estimate().Rate; r != 1e6 {
		t.Fatalf("after a zero interval: rate %v, want 1e6 unchanged", r)
	}
	e.Observe(Sample{At: t0.Add(3 * time.Second), Delivered: 1e9 + 1e6, Timeout: true})
	if r := e.Estimate().Rate; r != 0.5e6 {
		t.Fatalf("after a timeout: rate %v, want halved to 0.5e6", r)
	}
}

func TestFold(t *testing.T) {
	at := t0.Add(time.Second)
	tests := []struct {
		name string
		in   []Estimate
		want Estimate
	}{
		{"none", nil, Estimate{}},
		{"unknown ones are left out", []Estimate{{}, {Rate: 2, RTT: 10, MinRTT: 5, Loss: 0.5, At: at}}, Estimate{Rate: 2, RTT: 10, MinRTT: 5, Loss: 0.5, At: at}},
		{"rates add, RTT and loss weigh by rate", []Estimate{
			{Rate: 3e6, RTT: 100 * time.Millisecond, MinRTT: 90 * time.Millisecond, Loss: 0.02, At: at},
			{Rate: 1e6, RTT: 200 * time.Millisecond, MinRTT: 80 * time.Millisecond, Loss: 0.06, At: at.Add(-time.Second)},
		}, Estimate{Rate: 4e6, RTT: 125 * time.Millisecond, MinRTT: 80 * time.Millisecond, Loss: 0.03, At: at}},
		{"no rate yet: plain means; an unknown RTT is left out", []Estimate{
			{RTT: 100 * time.Millisecond, Loss: 0.1, At: at},
			{Loss: 0.3, At: at},
		}, Estimate{RTT: 100 * time.Millisecond, Loss: 0.2, At: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fold(tt.in)
			if math.Abs(got.Loss-tt.want.Loss) < 1e-9 {
				got.Loss = tt.want.Loss
			}
			if got != tt.want {
				t.Fatalf("fold = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A flow that counts its busy time has its rate per busy second: idle
// gaps neither lower it nor, when the data comes in a burst after a
// stall, raise it.
func TestEWMA_busyTime(t *testing.T) {
	e := NewEWMA(time.Second)
	s := Sample{At: t0}
	e.Observe(s)
	// Busy 400 ms of every second at 2 MB/s, idle the rest.
	for range 10 {
		s.At = s.At.Add(400 * time.Millisecond)
		s.Busy += 400 * time.Millisecond
		s.Delivered += 800_000
		e.Observe(s)
		s.At = s.At.Add(600 * time.Millisecond)
		e.Observe(s)
	}
	if r := e.Estimate().Rate; math.Abs(r/2e6-1) > 0.01 {
		t.Fatalf("rate %.0f, want 2e6: the idle time does not count", r)
	}
	// Goodput counts the idle time: 800 kB a second on average, and
	// lower just after an idle stretch, where this ends.
	if g := e.Estimate().Goodput; g < 0.55e6 || g > 0.85e6 {
		t.Fatalf("goodput %.0f, want 0.55e6..0.85e6 (0.8e6 on average)", g)
	}
	// Rounds of a 300 ms stall followed by ten blocks in 10 ms: the bursts
	// do not inflate the rate, which is their mean over busy time.
	e = NewEWMA(time.Second)
	s = Sample{At: t0}
	e.Observe(s)
	for range 20 {
		s.At = s.At.Add(300 * time.Millisecond)
		s.Busy += 300 * time.Millisecond
		e.Observe(s)
		for range 10 {
			s.At = s.At.Add(time.Millisecond)
			s.Busy += time.Millisecond
			s.Delivered += 256 << 10
			e.Observe(s)
		}
	}
	want := float64(10*256<<10) / 0.31
	if r := e.Estimate().Rate; r < want/1.25 || r > want*1.25 {
		t.Fatalf("rate %.0f over bursts, want about %.0f", r, want)
	}
}
