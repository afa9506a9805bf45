package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// Reader reads a byte range of an object in order while the engine fetches
// its blocks out of order. It is the reorder buffer (the MPQueue): it asks
// for blocks at most Config.Window bytes past its consumer, holds those
// that arrive early, and releases the contiguous prefix as soon as it is
// there.
//
// A Reader whose consumer has data and takes none of it for
// Config.IdleReader gives back, when other readers need memory, the blocks
// it holds ahead of the one being consumed, and stops counting that one
// against the budget: it asks for them again, from the cache if the
// engine has one, when its consumer reads on.
//
// A Reader is for one goroutine: Read, WriteTo and Close must not run
// concurrently. To stop a read in progress from elsewhere, cancel the
// context given to NewReader; the Read returns and the reading goroutine
// closes the Reader.
type Reader struct {
	e      *Engine
	st     *objState
	ctx    context.Context // the caller's, ended also when the engine closes
	stop   func()          // releases ctx
	bs     int64           // block size, and memory reserved per block
	pos    int64           // next byte the consumer gets
	end    int64           // end of the range, exclusive
	next   int             // next block to ask for; fill's alone
	last   int             // last block of the range
	window int             // blocks asked for ahead of head, at most

	// took is when the consumer last took bytes, or was handed a block to
	// take, in the engine clock's Unix nanoseconds.
	took atomic.Int64

	mu     sync.Mutex
	head   int            // block holding pos (the consumer moves it)
	have   map[int]*block // arrived, not consumed
	asked  map[int]bool   // asked for, not arrived
	budget map[int]bool   // blocks whose memory is reserved; true where it counts against Engine.ahead
	rewind int            // the lowest block given back, which fill asks for again; -1 if none
	err    error
	closed bool
	wake   chan struct{}
}

// NewReader returns a Reader of bytes [off, off+n) of the object, which must
// lie within it. It starts fetching at once; it waits for the memory of the
// first block, in turn with other readers, for at most Config.MemoryWait,
// and fails with ErrBusy if none comes free. ctx bounds every read.
func (o *Object) NewReader(ctx context.Context, off, n int64) (*Reader, error) {
	m := o.meta
	if off < 0 || n < 0 || off > m.Size || n > m.Size-off {
		return nil, fmt.Errorf("transfer: range %d+%d outside %s (%d bytes)", off, n, m.Path, m.Size)
	}
	o.e.mu.Lock()
	o.st.refs++
	o.e.mu.Unlock()
	o.e.stats.readers.Add(1)
	bs := min(m.BlockSize, o.e.cfg.MemoryLimit)
	ctx, cancel := context.WithCancelCause(ctx)
	stopAfter := context.AfterFunc(o.e.ctx, func() { cancel(ErrClosed) })
	r := &Reader{
		e: o.e, st: o.st, ctx: ctx, stop: func() { stopAfter(); cancel(nil) }, bs: bs, pos: off, end: off + n,
		window: int(max(o.e.cfg.Window/m.BlockSize, 1)),
		have:   make(map[int]*block), asked: make(map[int]bool), budget: make(map[int]bool), rewind: -1,
		wake: make(chan struct{}, 1),
	}
	r.took.Store(o.e.cfg.clock.Now().UnixNano())
	o.e.mem.add(r)
	if n > 0 {
		r.head, r.last = m.BlockSpan(off, n)
		r.next = r.head
		r.fill(true)
		r.mu.Lock()
		err := r.err
		r.mu.Unlock()
		if err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// fill asks for blocks up to the window. It waits for memory only for the
// head block when wait is set; otherwise it stops when memory is short.
func (r *Reader) fill(wait bool) {
	for {
		r.mu.Lock()
		if r.rewind >= 0 && r.rewind < r.next {
			r.next = r.rewind // blocks given back are asked for again
		}
		r.rewind = -1
		idx, head := r.next, r.head
		stop := r.closed || r.err != nil
		r.mu.Unlock()
		if stop || idx > r.last || idx-head >= r.e.window(r.window, r.bs) {
			return
		}
		ahead := idx != head
		switch {
		case !ahead && wait:
			if err := r.e.mem.reserveHead(r.ctx, r.bs); err != nil {
				r.fail(err)
				return
			}
		case ahead && r.e.ahead.Add(r.bs) > r.e.aheadLimit:
			// Blocks ahead of the consumer may take only part of the
			// memory: the rest is kept for readers' next blocks.
			r.e.ahead.Add(-r.bs)
			r.e.mem.squeeze()
			return
		case !r.e.mem.tryAcquire(r.bs):
			if ahead {
				r.e.ahead.Add(-r.bs)
			}
			r.e.mem.squeeze()
			return
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			r.e.mem.release(r.bs)
			if ahead {
				r.e.ahead.Add(-r.bs)
			}
			return
		}
		r.next = idx + 1
		r.budget[idx] = ahead
		r.asked[idx] = true
		r.mu.Unlock()
		if r.fromStore(idx) {
			continue
		}
		r.mu.Lock()
		wanted := r.asked[idx] // not given back meanwhile
		r.mu.Unlock()
		if wanted {
			r.e.post(evWant{r: r, obj: r.st, idx: uint32(idx)})
		}
	}
}

// fromStore serves block idx from the engine's store if it has it and it
// verifies.
func (r *Reader) fromStore(idx int) bool {
	s := r.e.cfg.Store
	if s == nil {
		return false
	}
	m := r.st.meta
	b := r.e.pools.get(m.BlockSize, m.BlockLen(idx))
	n, ok := s.Get(m.Digest, uint32(idx), b.buf)
	if !ok || n != len(b.buf) {
		b.release()
		return false
	}
	if err := r.st.hashes.Verify(idx, b.buf); err != nil {
		r.e.log.Warn("cached block failed verification; dropping it", "object", m.String(), "block", idx)
		s.Remove(m.Digest, uint32(idx))
		b.release()
		return false
	}
	r.e.stats.storeHits.Add(1)
	r.deliver(idx, b)
	return true
}

// deliver hands the reader a block it asked for, verified; the reader owns
// one reference. A block the reader no longer waits for (it gave it back,
// or closed) is released.
func (r *Reader) deliver(idx int, b *block) {
	r.mu.Lock()
	if r.closed || !r.asked[idx] {
		r.mu.Unlock()
		b.release()
		return
	}
	delete(r.asked, idx)
	r.have[idx] = b
	r.mu.Unlock()
	r.signal()
}

// fail ends the reader with err unless it already failed.
func (r *Reader) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.signal()
}

func (r *Reader) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// chunk waits for the block holding pos and returns the bytes from pos to
// the end of that block or range, whichever comes first. The caller must
// call consume with how much it used.
func (r *Reader) chunk() ([]byte, error) {
	for {
		if r.pos >= r.end {
			return nil, io.EOF
		}
		r.fill(true)
		r.mu.Lock()
		head := r.head
		b := r.have[head]
		err := r.err
		if r.closed {
			err = errReaderClosed
		}
		r.mu.Unlock()
		if b != nil {
			r.took.Store(r.e.cfg.clock.Now().UnixNano())
			start := r.st.meta.BlockOffset(head)
			from := r.pos - start
			to := min(int64(len(b.buf)), r.end-start)
			return b.buf[from:to], nil
		}
		if err != nil {
			return nil, err
		}
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			r.fail(context.Cause(r.ctx))
		}
	}
}

var errReaderClosed = errors.New("transfer: reader closed")

// consume advances past n bytes of the current chunk, releasing the block
// when it is used up.
func (r *Reader) consume(n int) {
	r.pos += int64(n)
	r.took.Store(r.e.cfg.clock.Now().UnixNano())
	r.mu.Lock()
	head := r.head
	blockEnd := r.st.meta.BlockOffset(head) + r.st.meta.BlockLen(head)
	if r.pos < blockEnd && r.pos < r.end {
		r.mu.Unlock()
		return
	}
	b := r.have[head]
	delete(r.have, head)
	ahead, reserved := r.budget[head]
	delete(r.budget, head)
	r.head++
	r.mu.Unlock()
	b.release()
	if reserved { // not if it was given back while the consumer wrote it
		r.e.mem.release(r.bs)
		if ahead {
			r.e.ahead.Add(-r.bs)
		}
	}
}

// giveBack is the reclaimer's: if the consumer has taken nothing of the
// data it has since before idleSince, the reader gives back the blocks
// ahead of the one being consumed (released, or no longer waited for) and
// stops counting that one against the budget (its consumer may be writing
// from it). It returns the bytes of budget it gave back.
func (r *Reader) giveBack(idleSince int64) int64 {
	if r.took.Load() > idleSince {
		return 0
	}
	r.mu.Lock()
	if r.closed || r.have[r.head] == nil || r.took.Load() > idleSince {
		r.mu.Unlock()
		return 0 // closed, or waiting for data (not its consumer's fault)
	}
	var freed []*block
	var unwant []int
	var bytes, ahead int64
	for idx, counted := range r.budget {
		bytes += r.bs
		if counted {
			ahead += r.bs
		}
		delete(r.budget, idx)
		if idx == r.head {
			continue
		}
		if b := r.have[idx]; b != nil {
			freed = append(freed, b)
			delete(r.have, idx)
		}
		if r.asked[idx] {
			unwant = append(unwant, idx)
			delete(r.asked, idx)
		}
		if r.rewind < 0 || idx < r.rewind {
			r.rewind = idx
		}
	}
	r.mu.Unlock()
	for _, b := range freed {
		b.release()
	}
	for _, idx := range unwant {
		r.e.post(evUnwant{r: r, obj: r.st, idx: uint32(idx)})
	}
	if bytes > 0 {
		r.e.ahead.Add(-ahead)
		r.e.mem.release(bytes)
	}
	return bytes
}

// Read reads the next bytes of the range in order.
func (r *Reader) Read(p []byte) (int, error) {
	c, err := r.chunk()
	if err != nil {
		return 0, err
	}
	n := copy(p, c)
	r.consume(n)
	return n, nil
}

// WriteTo writes the rest of the range to w straight from the block
// buffers.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		c, err := r.chunk()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(c)
		total += int64(n)
		r.consume(n)
		if err != nil {
			return total, err
		}
	}
}

// Remaining is how many bytes of the range are left to read.
func (r *Reader) Remaining() int64 { return r.end - r.pos }

// Close stops the reader, gives back its blocks and cancels what it still
// waits for. It is safe to call more than once.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	have, asked, budget := r.have, r.asked, r.budget
	r.have, r.asked, r.budget = nil, nil, nil
	r.mu.Unlock()
	r.e.mem.remove(r)
	var reserved, ahead int64
	for _, counted := range budget {
		reserved += r.bs
		if counted {
			ahead += r.bs
		}
	}
	r.e.ahead.Add(-ahead)
	for _, b := range have {
		b.release()
	}
	for idx := range asked {
		r.e.post(evUnwant{r: r, obj: r.st, idx: uint32(idx)})
	}
	if reserved > 0 {
		r.e.mem.release(reserved)
	}
	r.e.stats.readers.Add(-1)
	r.e.unref(r.st)
	r.stop()
	r.signal()
	return nil
}
