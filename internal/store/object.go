package store

import (
	"math/bits"
	"slices"
	"sync"
)

// object is the index entry of one cached object.
//
// The block set is a bitset over block indices plus a length model: every
// cached block is full long except those listed in short. For verified
// blocks full is the object's block size and short holds at most the last
// block, so a block costs one bit. Blocks of other lengths (a caller that
// stores unverified data) stay correct, at 8 bytes each.
//
// Every field but digest and mu is guarded by Store.mu.
type object struct {
	digest Digest

	// mu orders changes to the object's directory. Puts hold it shared from
	// creating their temporary file until the block is committed to the
	// index; deleting files (eviction, Remove, a read error) holds it
	// exclusively. Lock order: mu before Store.mu.
	mu sync.RWMutex

	prev, next *object // LRU list (next is older); nil when not listed

	have   []uint64     // bit i set: block i is cached
	short  []shortBlock // cached blocks shorter than full, sorted by index
	full   uint32       // length of the longest block cached
	blocks uint32       // number of blocks cached
	bytes  int64        // total length of the blocks cached

	writers int  // Puts holding a reservation for this object
	dying   bool // retired: its files are being deleted; no longer listed
}

// shortBlock is a cached block whose length differs from object.full.
type shortBlock struct {
	idx uint32
	n   uint32
}

// has reports whether block idx is cached.
func (o *object) has(idx uint32) bool {
	w := int(idx / 64)
	return w < len(o.have) && o.have[w]&(1<<(idx%64)) != 0
}

// length returns the length of cached block idx.
func (o *object) length(idx uint32) uint32 {
	if i, ok := o.findShort(idx); ok {
		return o.short[i].n
	}
	return o.full
}

func (o *object) findShort(idx uint32) (int, bool) {
	return slices.BinarySearchFunc(o.short, idx, func(s shortBlock, idx uint32) int {
		switch {
		case s.idx < idx:
			return -1
		case s.idx > idx:
			return 1
		}
		return 0
	})
}

// add records block idx, of length n > 0, which must not be cached.
func (o *object) add(idx, n uint32) {
	switch {
	case n > o.full:
		if o.blocks > 0 {
			o.demote()
		}
		o.full = n
	case n < o.full:
		i, _ := o.findShort(idx)
		o.short = slices.Insert(o.short, i, shortBlock{idx, n})
	}
	w := int(idx / 64)
	if w >= len(o.have) {
		// Grow to exactly what is needed: objects are filled in order, so
		// amortised growth would keep up to twice the memory for nothing.
		have := make([]uint64, w+1)
		copy(have, o.have)
		o.have = have
	}
	o.have[w] |= 1 << (idx % 64)
	o.blocks++
	o.bytes += int64(n)
}

// demote lists every cached block of length full in short, before full
// grows. For verified blocks this happens at most once per object, when the
// short last block was cached before any full one.
func (o *object) demote() {
	merged := make([]shortBlock, 0, o.blocks)
	j := 0
	o.each(func(idx uint32) {
		if j < len(o.short) && o.short[j].idx == idx {
			merged = append(merged, o.short[j])
			j++
			return
		}
		merged = append(merged, shortBlock{idx, o.full})
	})
	o.short = merged
}

// del forgets cached block idx and returns its length.
func (o *object) del(idx uint32) uint32 {
	n := o.full
	if i, ok := o.findShort(idx); ok {
		n = o.short[i].n
		o.short = slices.Delete(o.short, i, i+1)
	}
	o.have[idx/64] &^= 1 << (idx % 64)
	o.blocks--
	o.bytes -= int64(n)
	if o.blocks == 0 {
		o.have, o.short, o.full = nil, nil, 0
	}
	return n
}

// each calls f for every cached block, in index order.
func (o *object) each(f func(idx uint32)) {
	for w, word := range o.have {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			f(uint32(w*64 + b))
			word &= word - 1
		}
	}
}
