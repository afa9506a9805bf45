package linkem

import (
	"cmp"
	"testing"
	"time"
)

func TestPipe_Admit(t *testing.T) {
	const ms = time.Millisecond
	cfg := Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: 3000}
	p, err := NewPipe(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		at    time.Duration
		want  time.Duration
		wantV Verdict
	}{
		{0, 11 * ms, Deliver}, // 1 ms on the wire + 10 ms
		{0, 12 * ms, Deliver},
		{0, 0, DropQueue},
		{5 * ms, 16 * ms, Deliver},
	} {
		got, v := p.Admit(tt.at, 1500)
		if v != tt.wantV || got != tt.want {
			t.Errorf("packet %d: Admit(%v) = %v, %v; want %v, %v", i, tt.at, got, v, tt.want, tt.wantV)
		}
	}
}

func TestPipe_jitterNeverReorders(t *testing.T) {
	const ms = time.Millisecond
	p, err := NewPipe(Config{Delay: 20 * ms, Jitter: 10 * ms, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	var sum time.Duration
	const n = 10_000
	for i := range n {
		now := time.Duration(i) * 5 * ms // sparse: jitter rarely clamps
		at, v := p.Admit(now, 100)
		if v != Deliver {
			t.Fatalf("packet %d dropped: %v", i, v)
		}
		if at < last {
			t.Fatalf("packet %d released at %v before its predecessor at %v", i, at, last)
		}
		if d := at - now; d < 10*ms || d > 30*ms+5*ms {
			t.Fatalf("packet %d delayed %v, outside delay ± jitter", i, d)
		}
		last = at
		sum += at - now
	}
	// Uniform jitter has mean 0; clamping only adds. Sparse packets keep
	// the mean near the delay.
	if mean := sum / n; mean < 19*ms || mean > 22*ms {
		t.Errorf("mean delay %v, want about 20ms", mean)
	}
}

func TestPipe_deterministic(t *testing.T) {
	cfg := Config{Rate: 50 * Mbps, Delay: 30 * time.Millisecond, Jitter: time.Millisecond, Loss: Bursty(0.02, 3), Seed: 42}
	run := func() []time.Duration {
		p, err := NewPipe(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Duration
		for i := range 5000 {
			at, v := p.Admit(time.Duration(i)*100*time.Microsecond, 1500)
			out = append(out, at+time.Duration(v))
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("packet %d: %v then %v with the same seed", i, a[i], b[i])
		}
	}
}

func TestConfig_defaultsAndValidate(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantQueue int
		wantErr   bool
	}{
		{"zero", Config{}, 0, false},
		{"bdp", Config{Rate: 100 * Mbps, Delay: 75 * time.Millisecond}, 1_875_000, false},
		{"bdp floor", Config{Rate: 100 * Mbps}, MinQueueBytes, false},
		{"explicit", Config{Rate: 100 * Mbps, QueueBytes: 64000}, 64000, false},
		{"tiny queue", Config{Rate: 100 * Mbps, QueueBytes: 100}, 100, true},
		{"jitter > delay", Config{Delay: time.Millisecond, Jitter: 2 * time.Millisecond}, 0, true},
		{"bad loss", Config{Loss: IID(2)}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.QueueLimit(); got != tt.wantQueue {
				t.Errorf("QueueLimit() = %d, want %d", got, tt.wantQueue)
			}
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func BenchmarkPipe_Admit(b *testing.B) {
	p, err := NewPipe(Config{Rate: 100 * Mbps, Delay: 75 * time.Millisecond, Jitter: time.Millisecond, Loss: IID(0.01)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(1500)
	now := time.Duration(0)
	for b.Loop() {
		now += 120 * time.Microsecond
		p.Admit(now, 1500)
	}
}

func BenchmarkRing_pushPop(b *testing.B) {
	r := newRing(4 << 20)
	pkt := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(1500)
	for b.Loop() {
		r.push(1, pkt)
		r.front()
		r.pop()
	}
}

// TestPipe_SetConfig changes a saturated pipe's configuration mid-stream and
// checks the departure spacing before and after: packets admitted before
// the change keep their schedule, later ones follow the new rate behind
// them.
func TestPipe_SetConfig(t *testing.T) {
	const ms, us = time.Millisecond, time.Microsecond
	const (
		gap    = 250 * us // arrivals: 1500 B every 250 µs, 48 Mbit/s
		change = 100 * ms
		queue  = 1 << 20 // never full here
	)
	tests := []struct {
		name          string
		before, after Config
		// Spacing of releases in steady state before and after: the
		// transmit time of a packet when the rate limits, else the
		// arrival gap.
		wantBefore, wantAfter time.Duration
		end                   time.Duration // of the arrivals; zero: 200 ms
	}{
		{"rate halved", Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: queue},
			Config{Rate: 6 * Mbps, Delay: 10 * ms, QueueBytes: queue}, 1 * ms, 2 * ms, 0},
		{"rate doubled", Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: queue},
			Config{Rate: 24 * Mbps, Delay: 10 * ms, QueueBytes: queue}, 1 * ms, 500 * us, 0},
		// The 450 kB queued by 100 ms still drain at 12 Mbit/s, until
		// 400 ms; later packets pass at once.
		{"limit lifted", Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: queue},
			Config{Delay: 10 * ms}, 1 * ms, gap, 500 * ms},
		{"limit imposed", Config{Delay: 10 * ms},
			Config{Rate: 24 * Mbps, Delay: 10 * ms, QueueBytes: queue}, gap, 500 * us, 0},
		{"delay raised", Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: queue},
			Config{Rate: 12 * Mbps, Delay: 40 * ms, QueueBytes: queue}, 1 * ms, 1 * ms, 0},
		{"delay cut", Config{Rate: 12 * Mbps, Delay: 40 * ms, QueueBytes: queue},
			Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: queue}, 1 * ms, 1 * ms, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPipe(tt.before)
			if err != nil {
				t.Fatal(err)
			}
			var pre, post []time.Duration // release times
			var lastPre time.Duration     // departure of the last packet before the change
			changed := false
			end := cmp.Or(tt.end, 200*ms)
			for now := time.Duration(0); now < end; now += gap {
				if !changed && now >= change {
					if err := p.SetConfig(now, tt.after); err != nil {
						t.Fatal(err)
					}
					changed = true
				}
				at, v := p.Admit(now, 1500)
				if v != Deliver {
					t.Fatalf("packet at %v: %v", now, v)
				}
				if changed {
					post = append(post, at)
				} else {
					pre = append(pre, at)
					lastPre = at
				}
			}
			if got := spacing(pre); got != tt.wantBefore {
				t.Errorf("spacing before the change %v, want %v", got, tt.wantBefore)
			}
			if got := spacing(post); got != tt.wantAfter {
				t.Errorf("spacing after the change %v, want %v", got, tt.wantAfter)
			}
			// FIFO: the first packet after the change leaves after the last
			// one before it, never before.
			if post[0] < lastPre {
				t.Errorf("first packet after the change released at %v, before the last one before it at %v", post[0], lastPre)
			}
			if p.Config().Rate != tt.after.Rate || p.Config().Delay != tt.after.Delay {
				t.Errorf("Config() = %v, want %v", p.Config(), tt.after)
			}
		})
	}
}

// spacing returns the gap between the last two of at.
func spacing(at []time.Duration) time.Duration { return at[len(at)-1] - at[len(at)-2] }

func TestPipe_SetConfigKeepsScheduleAndRejectsBadConfig(t *testing.T) {
	const ms = time.Millisecond
	p, err := NewPipe(Config{Rate: 12 * Mbps, Delay: 10 * ms, QueueBytes: 15000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // 10 ms of backlog at 12 Mbit/s
		p.Admit(0, 1500)
	}
	if err := p.SetConfig(0, Config{Delay: ms, Jitter: 2 * ms}); err == nil {
		t.Fatal("SetConfig with jitter > delay = nil, want an error")
	}
	if err := p.SetConfig(5*ms, Config{Rate: 6 * Mbps, Delay: 10 * ms, QueueBytes: 6000, Seed: 99}); err != nil {
		t.Fatal(err)
	}
	if p.Config().Seed != 7 {
		t.Errorf("seed %d after SetConfig, want 7 kept", p.Config().Seed)
	}
	// 7500 B left of the old backlog, above the new 6000 B limit: it
	// drains at the old 12 Mbit/s, and arrivals are dropped meanwhile.
	if b := p.Backlog(5 * ms); b != 7500 {
		t.Errorf("backlog at the change %d, want 7500", b)
	}
	if _, v := p.Admit(5*ms, 1500); v != DropQueue {
		t.Errorf("arrival over the lowered limit: %v, want drop-queue", v)
	}
	// At 8 ms 3000 B are left; a packet fits and leaves 2 ms after the old
	// backlog (1500 B at 6 Mbit/s), released 10 ms later.
	if at, v := p.Admit(8*ms, 1500); v != Deliver || at != 22*ms {
		t.Errorf("Admit(8ms) = %v, %v; want 22ms, deliver", at, v)
	}
	if b := p.Backlog(9 * ms); b != 1500+1500 {
		t.Errorf("backlog at 9 ms %d, want 3000 (1 ms of old at 12 Mbit/s, 2 ms of new at 6)", b)
	}
	if b := p.Backlog(11 * ms); b != 750 {
		t.Errorf("backlog at 11 ms %d, want 750", b)
	}
}
