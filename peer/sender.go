package peer

import (
	"bufio"
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sender owns the write side of a connection. Control frames go out first:
// a node's own requests are queued without waiting (queue; their number is
// bounded by the request limits), answers to the peer wait while too many
// bytes of answers are queued (reply), which stops the connection's read
// loop and so the peer, whatever it sends. Streams carry the DATA of READs:
// the writer sends, among the streams with a frame ready, the one opened
// first. A stream holds at most streamDepth frames, so a producer waits for
// the connection instead of piling data up.
type sender struct {
	nc      net.Conn
	bw      *bufio.Writer
	timeout time.Duration // write deadline per flush

	mu           sync.Mutex
	cond         *sync.Cond
	control      [][]byte
	controlBytes int
	streams      []*stream // by seq
	err          error     // set once the sender is closed
	idle         bool      // the writer has written and flushed everything it took
	done         chan struct{}
	lastSent     atomic.Int64 // unix nanoseconds of the last write

	release func([]byte) // gives a sent stream frame back to its pool

	// gate, if set, lets data frames go under the congestion manager's
	// budget (a *congestion.Flow), for as long as gateCtx lives.
	gate    gate
	gateCtx context.Context
}

// A gate says when data may be sent: congestion.Flow's grants.
type gate interface {
	TryGrant(n int) bool
	Grant(ctx context.Context, n int) error
}

// maxReplyBytes bounds the answers queued on one connection; past it, reply
// waits.
const maxReplyBytes = 1 << 20

const streamDepth = 2

// stream is an ordered sequence of frames of one request.
type stream struct {
	s      *sender
	seq    uint64
	frames [][]byte
	ended  bool // no more frames will be pushed
}

func newSender(nc net.Conn, timeout time.Duration, release func([]byte)) *sender {
	s := &sender{nc: nc, bw: bufio.NewWriterSize(nc, 64<<10), timeout: timeout, done: make(chan struct{}), release: release}
	s.cond = sync.NewCond(&s.mu)
	s.lastSent.Store(time.Now().UnixNano())
	return s
}

// queue adds a control frame without waiting. It fails only when the
// sender is closed. Use it for the node's own requests, whose number the
// caller bounds.
func (s *sender) queue(frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.control = append(s.control, frame)
	s.controlBytes += len(frame)
	s.cond.Broadcast()
	return nil
}

// reply adds a control frame that answers the peer, waiting while more
// than maxReplyBytes of control frames are queued.
func (s *sender) reply(frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.err == nil && s.controlBytes > maxReplyBytes {
		s.cond.Wait()
	}
	if s.err != nil {
		return s.err
	}
	s.control = append(s.control, frame)
	s.controlBytes += len(frame)
	s.cond.Broadcast()
	return nil
}

// sinceSent is how long ago the sender last wrote.
func (s *sender) sinceSent() time.Duration { return time.Since(time.Unix(0, s.lastSent.Load())) }

// openStream registers a stream ordered by seq.
func (s *sender) openStream(seq uint64) *stream {
	st := &stream{s: s, seq: seq}
	s.mu.Lock()
	i, _ := slices.BinarySearchFunc(s.streams, seq, func(x *stream, seq uint64) int {
		switch {
		case x.seq < seq:
			return -1
		case x.seq > seq:
			return 1
		}
		return 0
	})
	s.streams = slices.Insert(s.streams, i, st)
	s.mu.Unlock()
	return st
}

// push queues a frame on the stream, waiting while the stream is full. If
// last is set, the stream ends after this frame. It fails when the sender
// is closed; the frame is then released.
func (st *stream) push(frame []byte, last bool) error {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.err == nil && len(st.frames) >= streamDepth {
		s.cond.Wait()
	}
	if s.err != nil {
		s.release(frame)
		return s.err
	}
	st.frames = append(st.frames, frame)
	st.ended = last
	s.cond.Broadcast()
	return nil
}

// abandon ends a stream without a terminal frame (the connection is gone).
func (st *stream) abandon() {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range st.frames {
		s.release(f)
	}
	st.frames = nil
	st.ended = true
	s.streams = slices.DeleteFunc(s.streams, func(x *stream) bool { return x == st })
	s.cond.Broadcast()
}

// run is the writer loop. It returns when the sender is closed or a write
// fails; it then closes the sender with that error and returns it.
func (s *sender) run() error {
	defer close(s.done)
	var batch [][]byte
	var pooled []bool
	for {
		s.mu.Lock()
		for s.err == nil && len(s.control) == 0 && s.nextStream() == nil {
			if s.bw.Buffered() > 0 {
				s.mu.Unlock()
				if err := s.flush(); err != nil {
					s.close(err)
					return err
				}
				s.mu.Lock()
				continue
			}
			s.idle = true
			s.cond.Broadcast() // for drain
			s.cond.Wait()
		}
		s.idle = false
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return err
		}
		batch, pooled = batch[:0], pooled[:0]
		for _, f := range s.control {
			batch = append(batch, f)
			pooled = append(pooled, false)
		}
		clear(s.control)
		s.control = s.control[:0]
		s.controlBytes = 0
		if st := s.nextStream(); st != nil {
			batch = append(batch, st.frames[0])
			pooled = append(pooled, true)
			st.frames[0] = nil
			st.frames = st.frames[1:]
			if st.ended && len(st.frames) == 0 {
				s.streams = slices.DeleteFunc(s.streams, func(x *stream) bool { return x == st })
			}
			s.cond.Broadcast()
		}
		s.mu.Unlock()

		for i, f := range batch {
			if pooled[i] && s.gate != nil {
				if err := s.waitGrant(len(f)); err != nil {
					s.close(err)
					return err
				}
			}
			if err := s.write(f); err != nil {
				s.close(err)
				return err
			}
			if pooled[i] {
				s.release(f)
			}
		}
	}
}

func (s *sender) nextStream() *stream {
	for _, st := range s.streams {
		if len(st.frames) > 0 {
			return st
		}
	}
	return nil
}

// waitGrant waits for the congestion manager to let n bytes of data go;
// if it must wait, what is buffered goes first, so that control frames are
// not held back.
func (s *sender) waitGrant(n int) error {
	if s.gate.TryGrant(n) {
		return nil
	}
	if s.bw.Buffered() > 0 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	return s.gate.Grant(s.gateCtx, n)
}

func (s *sender) write(f []byte) error {
	if s.timeout > 0 {
		if err := s.nc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
			return err
		}
	}
	_, err := s.bw.Write(f)
	s.lastSent.Store(time.Now().UnixNano())
	return err
}

func (s *sender) flush() error {
	if s.timeout > 0 {
		if err := s.nc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
			return err
		}
	}
	return s.bw.Flush()
}

// close stops the sender: queued frames are dropped, waiting producers
// fail with err.
func (s *sender) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	s.control = nil
	s.controlBytes = 0
	for _, st := range s.streams {
		for _, f := range st.frames {
			s.release(f)
		}
		st.frames = nil
	}
	s.streams = nil
	s.cond.Broadcast()
}

// drain waits until everything queued has been written and flushed, or the
// deadline passes.
func (s *sender) drain(deadline time.Time) {
	for time.Now().Before(deadline) {
		s.mu.Lock()
		idle := s.err != nil || (s.idle && len(s.control) == 0 && len(s.streams) == 0)
		s.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
