package linkem

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// TestRing_againstModel pushes and pops random packets and checks every
// popped packet against a plain slice FIFO. The ring must never lose,
// corrupt or reorder a packet, and must refuse a push only when the bytes
// or slots it holds leave no room.
func TestRing_againstModel(t *testing.T) {
	for _, size := range []int{64, 1000, 4096, 20000} {
		r := newRing(size)
		rng := rand.New(rand.NewPCG(uint64(size), 7))
		var model [][]byte
		var at time.Duration
		held := 0
		for i := range 40_000 {
			if rng.IntN(2) == 0 {
				n := 1 + rng.IntN(min(size, 1500))
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(i + j)
				}
				at++
				if r.push(at, p) {
					model = append(model, p)
					held += n
				} else if held+n <= size/2 && r.len() < len(r.slots) {
					// With at most half the buffer in use, some
					// contiguous stretch of n bytes must be free.
					t.Fatalf("size %d: push of %d refused with %d bytes held", size, n, held)
				}
				continue
			}
			p, _, ok := r.front()
			if ok != (len(model) > 0) {
				t.Fatalf("size %d: front ok=%v with %d packets in the model", size, ok, len(model))
			}
			if !ok {
				continue
			}
			if !bytes.Equal(p, model[0]) {
				t.Fatalf("size %d: front %d bytes, want %d bytes %v…", size, len(p), len(model[0]), model[0][:min(4, len(model[0]))])
			}
			r.pop()
			held -= len(model[0])
			model = model[1:]
		}
	}
}

func TestRing_releaseTimesAndWrap(t *testing.T) {
	r := newRing(10)
	if !r.push(1, []byte("aaaa")) || !r.push(2, []byte("bbbb")) {
		t.Fatal("first pushes refused")
	}
	if r.push(3, []byte("ccc")) {
		t.Fatal("push past capacity accepted")
	}
	r.pop()                        // frees [0,4)
	if !r.push(3, []byte("ccc")) { // 2 bytes left at the end: wraps to 0
		t.Fatal("wrapping push refused")
	}
	if r.push(4, []byte("dd")) { // [3,4) is free but too small
		t.Fatal("push into a too small gap accepted")
	}
	for _, want := range []struct {
		p  string
		at time.Duration
	}{{"bbbb", 2}, {"ccc", 3}} {
		p, at, ok := r.front()
		if !ok || string(p) != want.p || at != want.at {
			t.Fatalf("front() = %q, %v, %v; want %q, %v", p, at, ok, want.p, want.at)
		}
		r.pop()
	}
	if _, _, ok := r.front(); ok || r.len() != 0 {
		t.Fatalf("ring not empty: %d packets", r.len())
	}
}

// TestRing_concurrent runs a producer and a consumer on separate goroutines
// (run it with -race): every packet must arrive intact and in order.
func TestRing_concurrent(t *testing.T) {
	r := newRing(5000)
	const n = 100_000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; {
			p, at, ok := r.front()
			if !ok {
				runtime.Gosched()
				continue
			}
			if int(at) != i || len(p) != 1+i%1400 || p[0] != byte(i) || p[len(p)-1] != byte(i) {
				done <- fmt.Errorf("packet %d: at %d, %d bytes, first %d", i, at, len(p), p[0])
				return
			}
			r.pop()
			i++
		}
		done <- nil
	}()
	buf := make([]byte, 1500)
	for i := 0; i < n; {
		p := buf[:1+i%1400]
		p[0], p[len(p)-1] = byte(i), byte(i)
		if r.push(time.Duration(i), p) {
			i++
		} else {
			runtime.Gosched()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
