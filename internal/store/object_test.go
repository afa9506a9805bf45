package store

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestObject_model checks the bitset and length model against a map, over
// random adds and deletes with the lengths a verified object has (equal
// blocks and a short last one) and with arbitrary lengths.
func TestObject_model(t *testing.T) {
	tests := []struct {
		name   string
		blocks uint32
		length func(rng *rand.Rand, idx uint32) uint32
	}{
		{"verified", 300, func(_ *rand.Rand, idx uint32) uint32 {
			if idx == 299 {
				return 17
			}
			return 4096
		}},
		{"one block", 1, func(*rand.Rand, uint32) uint32 { return 5 }},
		{"arbitrary lengths", 200, func(rng *rand.Rand, _ uint32) uint32 { return 1 + rng.Uint32N(5000) }},
		{"two lengths", 100, func(rng *rand.Rand, idx uint32) uint32 { return 100 + 900*(idx%2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			var o object
			want := make(map[uint32]uint32)
			for i := range 5000 {
				idx := rng.Uint32N(tt.blocks)
				if n, ok := want[idx]; ok {
					if got := o.del(idx); got != n {
						t.Fatalf("step %d: del(%d) = %d, want %d", i, idx, got, n)
					}
					delete(want, idx)
				} else {
					n := tt.length(rng, idx)
					o.add(idx, n)
					want[idx] = n
				}
				checkModel(t, &o, want, tt.blocks)
			}
		})
	}
}

func checkModel(t *testing.T, o *object, want map[uint32]uint32, blocks uint32) {
	t.Helper()
	var sum int64
	for idx := range blocks + 70 {
		n, ok := want[idx]
		if o.has(idx) != ok {
			t.Fatalf("has(%d) = %v, want %v", idx, !ok, ok)
		}
		if ok {
			if got := o.length(idx); got != n {
				t.Fatalf("length(%d) = %d, want %d", idx, got, n)
			}
			sum += int64(n)
		}
	}
	if o.blocks != uint32(len(want)) || o.bytes != sum {
		t.Fatalf("blocks %d, bytes %d; want %d, %d", o.blocks, o.bytes, len(want), sum)
	}
	for i, s := range o.short {
		if s.n >= o.full || (i > 0 && o.short[i-1].idx >= s.idx) || !o.has(s.idx) {
			t.Fatalf("short list broken: %v (full %d)", o.short, o.full)
		}
	}
}

// A verified object costs one bit per block and one short entry at most,
// whatever order its blocks come in.
func TestObject_memory(t *testing.T) {
	const blocks = 65536
	var o object
	o.add(blocks-1, 100) // the short last block first
	for idx := range uint32(blocks - 1) {
		o.add(idx, 1<<18)
	}
	if len(o.short) != 1 || len(o.have) != blocks/64 || cap(o.have) != blocks/64 {
		t.Errorf("short %d entries, bitset %d words (cap %d)", len(o.short), len(o.have), cap(o.have))
	}
	t.Logf("object struct: %d bytes; bitset of %d blocks: %d bytes",
		unsafe.Sizeof(o), blocks, 8*len(o.have))
}
