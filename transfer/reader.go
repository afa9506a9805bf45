package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Reader reads a byte range of an object in order while the engine fetches
// its blocks out of order. It is the reorder buffer (the MPQueue): it asks
// for blocks at most Config.Window bytes past its consumer, holds those
// that arrive early, and releases the contiguous prefix as soon as it is
// there.
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
	head   int             // block holding pos
	next   int             // next block to ask for
	last   int             // last block of the range
	window int             // blocks asked for ahead of head, at most

	mu       sync.Mutex
	have     map[int]*block // arrived, not consumed
	asked    map[int]bool   // asked for, not arrived
	reserved int64          // bytes of Engine.mem held
	ahead    map[int]bool   // blocks whose memory counts against Engine.ahead
	err      error
	closed   bool
	wake     chan struct{}
}

// NewReader returns a Reader of bytes [off, off+n) of the object, which must
// lie within it. It starts fetching at once. ctx bounds every read.
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
		have:   make(map[int]*block), asked: make(map[int]bool), ahead: make(map[int]bool),
		wake: make(chan struct{}, 1),
	}
	if n > 0 {
		r.head, r.last = m.BlockSpan(off, n)
		r.next = r.head
		r.fill(false)
	}
	return r, nil
}

// fill asks for blocks up to the window. It waits for memory only for the
// head block when wait is set; otherwise it stops when memory is short.
func (r *Reader) fill(wait bool) {
	for r.next <= r.last && r.next-r.head < r.window {
		r.mu.Lock()
		stop := r.closed || r.err != nil
		r.mu.Unlock()
		if stop {
			return
		}
		ahead := r.next != r.head
		switch {
		case !ahead && wait:
			if err := r.e.mem.acquire(r.ctx, r.bs); err != nil {
				r.fail(context.Cause(r.ctx))
				return
			}
		case ahead && r.e.ahead.Add(r.bs) > r.e.aheadLimit:
			// Blocks ahead of the consumer may take only part of the
			// memory: the rest is kept for readers' next blocks, so
			// that readers whose consumers stopped cannot hold it all.
			r.e.ahead.Add(-r.bs)
			return
		case !r.e.mem.tryAcquire(r.bs):
			if ahead {
				r.e.ahead.Add(-r.bs)
			}
			return
		}
		idx := r.next
		r.next++
		r.mu.Lock()
		r.reserved += r.bs
		if ahead {
			r.ahead[idx] = true
		}
		r.mu.Unlock()
		if r.fromStore(idx) {
			continue
		}
		r.mu.Lock()
		r.asked[idx] = true
		r.mu.Unlock()
		r.e.post(evWant{r: r, obj: r.st, idx: uint32(idx)})
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

// deliver hands the reader a verified block; the reader owns one reference.
func (r *Reader) deliver(idx int, b *block) {
	r.mu.Lock()
	if r.closed {
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
		b := r.have[r.head]
		err := r.err
		if r.closed {
			err = errReaderClosed
		}
		r.mu.Unlock()
		if b != nil {
			start := r.st.meta.BlockOffset(r.head)
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
	blockEnd := r.st.meta.BlockOffset(r.head) + r.st.meta.BlockLen(r.head)
	if r.pos < blockEnd && r.pos < r.end {
		return
	}
	r.mu.Lock()
	b := r.have[r.head]
	delete(r.have, r.head)
	r.reserved -= r.bs
	ahead := r.ahead[r.head]
	delete(r.ahead, r.head)
	r.mu.Unlock()
	b.release()
	r.e.mem.release(r.bs)
	if ahead {
		r.e.ahead.Add(-r.bs)
	}
	r.head++
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
	have, asked, reserved, ahead := r.have, r.asked, r.reserved, len(r.ahead)
	r.have, r.asked, r.reserved, r.ahead = nil, nil, 0, nil
	r.mu.Unlock()
	r.e.ahead.Add(-int64(ahead) * r.bs)
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
