package linkem

import (
	"sync/atomic"
	"time"
)

// ring is a FIFO of packets and their release times, stored back to back in
// one byte buffer so that its memory is bounded in bytes whatever the packet
// sizes. A packet never wraps: if it does not fit before the buffer's end,
// the tail is left unused and the packet goes to the start.
//
// One producer (push) and one consumer (front, pop) may use a ring
// concurrently without locks: the producer publishes a packet by advancing
// pushed after writing its bytes and slot; the consumer frees one by
// advancing popped after it has finished with the bytes. Neither ever
// waits for the other, so neither can be stalled by the other's thread
// being descheduled.
type ring struct {
	buf   []byte
	slots []slot

	pushed atomic.Uint64 // packets published by the producer
	popped atomic.Uint64 // packets released by the consumer

	tail int // producer only: byte offset of the next write
}

type slot struct {
	at  time.Duration
	off int32
	n   int32
}

// minSlotBytes sets how many slots a ring gets per byte of buffer: one per
// 40 bytes, the size of an IPv4 TCP header without options.
const minSlotBytes = 40

func newRing(bytes int) *ring {
	return &ring{buf: make([]byte, bytes), slots: make([]slot, bytes/minSlotBytes+16)}
}

// len returns the number of packets held. Either side may call it.
func (r *ring) len() int { return int(r.pushed.Load() - r.popped.Load()) }

// push copies p to the back of the ring with release time at. It returns
// false, leaving the ring unchanged, if there is no room. Producer only.
func (r *ring) push(at time.Duration, p []byte) bool {
	n := len(p)
	w, c := r.pushed.Load(), r.popped.Load()
	if n == 0 || n > len(r.buf) || w-c == uint64(len(r.slots)) {
		return false
	}
	off := r.tail
	if w == c {
		off = 0 // empty: the consumer has finished with every byte
	} else {
		// Live bytes start at the oldest packet and end at tail, wrapping
		// when tail is not past the oldest packet's start.
		head := int(r.slots[c%uint64(len(r.slots))].off)
		if r.tail > head { // [head, tail) in use: room at the end, else before head
			if r.tail+n > len(r.buf) {
				if n > head {
					return false
				}
				off = 0
			}
		} else if r.tail+n > head { // wrapped: room only in [tail, head)
			return false
		}
	}
	copy(r.buf[off:off+n], p)
	r.slots[w%uint64(len(r.slots))] = slot{at: at, off: int32(off), n: int32(n)}
	r.tail = off + n
	r.pushed.Store(w + 1) // publish
	return true
}

// front returns the oldest packet and its release time. The bytes stay
// valid until pop. Consumer only.
func (r *ring) front() ([]byte, time.Duration, bool) {
	c := r.popped.Load()
	if r.pushed.Load() == c {
		return nil, 0, false
	}
	s := r.slots[c%uint64(len(r.slots))]
	return r.buf[s.off : s.off+s.n], s.at, true
}

// pop releases the oldest packet. It panics on an empty ring. Consumer only.
func (r *ring) pop() {
	c := r.popped.Load()
	if r.pushed.Load() == c {
		panic("linkem: pop on an empty ring")
	}
	r.popped.Store(c + 1)
}
