package linkem

import (
	"testing"
	"time"
)

func TestQueue_Enqueue(t *testing.T) {
	type op struct {
		at       time.Duration
		size     int
		wantOK   bool
		wantDone time.Duration // departure, when wantOK
	}
	const ms, us = time.Millisecond, time.Microsecond
	tests := []struct {
		name  string
		rate  Rate
		limit int
		ops   []op
	}{
		{
			name: "unlimited passes through at once",
			rate: 0,
			ops:  []op{{0, 1500, true, 0}, {5 * ms, 1500, true, 5 * ms}},
		},
		{
			// 1500 B at 12 Mbit/s take exactly 1 ms.
			name: "idle transmitter serialises from arrival", rate: 12 * Mbps, limit: 3000,
			ops: []op{{0, 1500, true, 1 * ms}, {10 * ms, 1500, true, 11 * ms}},
		},
		{
			name: "back to back packets queue", rate: 12 * Mbps, limit: 4500,
			ops: []op{
				{0, 1500, true, 1 * ms},
				{0, 1500, true, 2 * ms},
				{0, 1500, true, 3 * ms},          // backlog 3000+1500 = 4500: fits exactly
				{0, 1500, false, 0},              // 6000 > 4500: tail drop
				{500 * us, 750, true, 3500 * us}, // backlog at 0.5 ms is 3750; +750 = 4500
				{500 * us, 1, false, 0},
			},
		},
		{
			name: "drained queue accepts again", rate: 12 * Mbps, limit: 1500,
			ops: []op{{0, 1500, true, 1 * ms}, {500 * us, 1500, false, 0}, {1 * ms, 1500, true, 2 * ms}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue(tt.rate, tt.limit)
			for i, o := range tt.ops {
				done, ok := q.Enqueue(o.at, o.size)
				if ok != o.wantOK || ok && done != o.wantDone {
					t.Fatalf("op %d: Enqueue(%v, %d) = %v, %v; want %v, %v", i, o.at, o.size, done, ok, o.wantDone, o.wantOK)
				}
			}
		})
	}
}

func TestQueue_exactLongRunRate(t *testing.T) {
	// 7 Mbit/s does not divide 1500 B into whole nanoseconds; the carried
	// remainder must keep a long backlogged run exact.
	const rate = 7 * Mbps
	q := NewQueue(rate, 1<<30)
	const n = 100_000
	var done time.Duration
	for range n {
		done, _ = q.Enqueue(0, 1500)
	}
	want := time.Duration(n * 1500 * 8 * uint64(time.Second) / uint64(rate))
	if d := done - want; d < -time.Nanosecond || d > time.Nanosecond {
		t.Fatalf("%d packets finish at %v, want %v", n, done, want)
	}
}

func TestQueue_Backlog(t *testing.T) {
	q := NewQueue(8*Mbps, 1<<20) // 1 byte per µs
	q.Enqueue(0, 1000)
	q.Enqueue(0, 1000)
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{{0, 2000}, {500 * time.Microsecond, 1500}, {1999 * time.Microsecond, 1}, {2 * time.Millisecond, 0}, {time.Second, 0}} {
		if got := q.Backlog(tt.at); got != tt.want {
			t.Errorf("Backlog(%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
}
