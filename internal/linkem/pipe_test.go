package linkem

import (
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
