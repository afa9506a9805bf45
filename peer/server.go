package peer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Handler gives a Server its objects.
type Handler interface {
	// Open returns the object at path (relative, slash-separated, as the
	// client sent it: the Handler must check it). To choose the error code
	// sent to the client, return an *Error; fs.ErrNotExist maps to
	// NOT_FOUND; anything else is sent as INTERNAL without its text.
	// A handler that fetches the object from further upstream passes on
	// Via(ctx).
	Open(ctx context.Context, path string) (Object, error)
}

type viaKey struct{}

// Via returns the relays the OPEN being served has passed (wire.Open.Via),
// from a Handler's context: a handler that forwards the request upstream
// sends them on, its own node's ID added, so that a loop of upstreams is
// found. The Server has already refused an OPEN that passed it.
func Via(ctx context.Context) []wire.NodeID {
	v, _ := ctx.Value(viaKey{}).([]wire.NodeID)
	return v
}

// Object is an open object that a Server reads from. Its methods may be
// called concurrently.
type Object interface {
	Meta() object.Meta
	Hashes() object.Hashes
	// NewReader returns a reader of bytes [off, off+n), which lie within
	// the object. The reader must stop with an error when ctx ends.
	NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error)
	Close() error
}

// An Object that also has a method Stale() bool, true when its
// description could not be revalidated upstream (a relay serving what it
// holds while its origin is down), is described with wire.Object.Stale.

// Server answers peer connections with a Handler's objects.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	pool    sync.Pool // DATA frame buffers

	// base is the context of every connection: Serve's context only
	// stops new connections, so that requests in flight survive it and
	// Shutdown can let them finish. kill ends them all.
	base context.Context
	kill context.CancelFunc

	mu       sync.Mutex
	conns    map[*serverConn]struct{}
	shutdown bool
	wg       sync.WaitGroup

	stats serverCounters
	adm   *admission
}

// serverCounters are the Server's statistics; see ServerStats.
type serverCounters struct {
	accepted, authenticated, handshakeFailures atomic.Int64
	active                                     atomic.Int64
	opens, hashes, reads, errors, bytes        atomic.Int64
	loops                                      atomic.Int64
	refusedEarly, evicted                      atomic.Int64
	lastLoopLog                                atomic.Int64 // unix nanoseconds

	// Logged at most once a minute, with what happened meanwhile.
	logMu                      sync.Mutex
	wrongKey, otherFailures    int
	refusedBy                  map[string]int
	lastAuthLog, lastRefuseLog time.Time
}

// logHandshake logs a failed handshake: a wrong key (a misconfigured
// node) at Warn, anything else (port scanners, dropped connections) at
// Debug; at most one Warn a minute, saying how many came since.
func (s *Server) logHandshake(addr net.Addr, err error) {
	if !errors.Is(err, ErrAuth) {
		s.log.Debug("peer handshake failed", "peer", addr.String(), "err", err)
		return
	}
	c := &s.stats
	c.logMu.Lock()
	c.wrongKey++
	n := c.wrongKey
	loud := time.Since(c.lastAuthLog) >= time.Minute
	if loud {
		c.lastAuthLog, c.wrongKey = time.Now(), 0
	}
	c.logMu.Unlock()
	if loud {
		s.log.Warn("peer refused: wrong cluster key", "peer", addr.String(), "err", err, "refused_since_last_log", n)
	}
}

// noteRefused counts a connection refused before its handshake and logs,
// at most once a minute, how many were refused and why.
func (s *Server) noteRefused(why string) {
	c := &s.stats
	c.logMu.Lock()
	if c.refusedBy == nil {
		c.refusedBy = make(map[string]int)
	}
	c.refusedBy[why]++
	var counts map[string]int
	if time.Since(c.lastRefuseLog) >= time.Minute {
		counts, c.refusedBy, c.lastRefuseLog = c.refusedBy, nil, time.Now()
	}
	c.logMu.Unlock()
	if counts != nil {
		s.log.Info("refused peer connections before their handshake",
			"too_fast", counts[refusedRate], "too_many_from_one_address", counts[refusedHost])
	}
}

// logLoop logs an OPEN that came back, at most once every 10 s. Relays
// that are each other's upstream (a mesh) refuse each other this way for an
// object they both fetch, which is no fault; relays whose only upstreams
// lead back to them fail every request, which the edges' logs and the
// metric aqueduct_peer_loops_total show.
func (s *Server) logLoop(f wire.Open) {
	now := time.Now().UnixNano()
	last := s.stats.lastLoopLog.Load()
	if now-last < int64(10*time.Second) || !s.stats.lastLoopLog.CompareAndSwap(last, now) {
		return
	}
	via := make([]string, len(f.Via))
	for i, id := range f.Via {
		via[i] = fmt.Sprintf("%016x", uint64(id))
	}
	s.log.Info("refused a request that came back to this node (LOOP): if no other upstream of the nodes it passed leads to the origin, their upstreams form a loop",
		"path", f.Path, "via", strings.Join(via, ","), "node_id", fmt.Sprintf("%016x", uint64(s.cfg.NodeID)))
}

// ServerStats is a snapshot of a Server's counters, for metrics.
type ServerStats struct {
	Accepted          int64 // connections accepted
	Authenticated     int64 // connections whose handshake succeeded
	HandshakeFailures int64 // connections refused in the handshake (wrong key, not the protocol, timeout)
	Active            int64 // authenticated connections open now
	Opens             int64 // OPEN requests admitted
	Hashes            int64 // GETHASHES requests admitted
	Reads             int64 // READ requests admitted
	Errors            int64 // requests answered with ERROR (refusals, failures, cancellations)
	Loops             int64 // OPENs refused with LOOP: they had passed this node already
	RefusedEarly      int64 // connections closed before their handshake: too fast or too many from one address
	Evicted           int64 // connections in the handshake dropped for newer ones (MaxHandshakes)
	BytesSent         int64 // DATA payload bytes queued to clients
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	c := &s.stats
	return ServerStats{
		Accepted: c.accepted.Load(), Authenticated: c.authenticated.Load(), HandshakeFailures: c.handshakeFailures.Load(),
		Active: c.active.Load(), Opens: c.opens.Load(), Hashes: c.hashes.Load(), Reads: c.reads.Load(),
		Errors: c.errors.Load(), Loops: c.loops.Load(), BytesSent: c.bytes.Load(),
		RefusedEarly: c.refusedEarly.Load(), Evicted: c.evicted.Load(),
	}
}

// NewServer returns a Server; start it with Serve.
func NewServer(cfg Config, h Handler) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, handler: h, log: cfg.Logger, conns: make(map[*serverConn]struct{}),
		adm: newAdmission(cfg.MaxHandshakes, cfg.MaxHandshakesPerHost, cfg.HandshakeRate)}
	s.base, s.kill = context.WithCancel(context.Background())
	size := wire.HeaderLen + 16 + cfg.DataFrame
	s.pool.New = func() any { b := make([]byte, size); return &b }
	return s
}

// Listen opens a TCP listener on addr with cfg's socket options: MPTCP if
// cfg.MPTCP is set and the kernel offers it, and cfg.Congestion, which
// accepted connections inherit.
func Listen(ctx context.Context, addr string, cfg Config) (net.Listener, error) {
	ln, err := cfg.sockopts().ListenConfig().Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("peer: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve accepts connections on ln until ctx ends or Shutdown is called,
// then closes ln. It returns nil after a shutdown. The connections it
// accepted live on after it returns, so that requests in flight can
// finish: end them with Shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down || ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("peer accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.stats.accepted.Add(1)
		admitted, refused, evicted := s.adm.admit(nc)
		if evicted {
			s.stats.evicted.Add(1)
		}
		if refused != "" {
			// Before any buffer, goroutine or log line: a flood of bare
			// connections costs an accept and a close each.
			s.stats.refusedEarly.Add(1)
			s.noteRefused(refused)
			nc.Close()
			continue
		}
		sc := &serverConn{srv: s, nc: nc}
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			admitted()
			nc.Close()
			return nil
		}
		s.conns[sc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sc.serve(s.base, admitted)
			s.mu.Lock()
			delete(s.conns, sc)
			s.mu.Unlock()
		}()
	}
}

// Shutdown stops taking connections and requests: every connection gets
// GOAWAY and is closed when its outstanding requests have ended, or when
// ctx ends. The caller also closes the listener (or cancels Serve's ctx).
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	for _, sc := range conns {
		sc.goAway()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.kill()
		s.mu.Lock()
		for sc := range s.conns {
			sc.kill(ErrClosed)
		}
		s.mu.Unlock()
		<-done
	}
	s.kill()
}

// serverConn is one connection being served.
type serverConn struct {
	srv  *Server
	nc   net.Conn
	sess session
	fr   *frameReader
	snd  *sender
	log  *slog.Logger

	ctx    context.Context // ends with the connection
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	handles map[uint32]*handleState
	reqs    map[uint32]*request // by id, until the answer is queued
	active  int                 // requests admitted and not yet answered
	seq     uint64
	goaway  bool
	slots   chan struct{} // READ streams served at once
	hashing chan struct{} // HASHES answers built at once

	wg sync.WaitGroup // request goroutines
}

type handleState struct {
	ready  chan struct{} // closed when the open has finished
	obj    Object
	err    error
	closed bool // CLOSE arrived; the object is closed once open and unused
	users  int  // requests using obj
}

type request struct {
	handle uint32
	cancel context.CancelFunc
}

// serve runs one connection: the handshake, whose end it tells admitted,
// then the session.
func (sc *serverConn) serve(ctx context.Context, admitted func()) {
	s := sc.srv
	sc.fr = newFrameReader(sc.nc, wire.HandshakeMaxPayload)
	sess, err := serverHandshake(sc.nc, sc.fr, s.cfg)
	admitted()
	if err != nil {
		s.stats.handshakeFailures.Add(1)
		s.logHandshake(sc.nc.RemoteAddr(), err)
		sc.nc.Close()
		return
	}
	log := s.log.With("peer", sc.nc.RemoteAddr().String())
	s.stats.authenticated.Add(1)
	s.stats.active.Add(1)
	defer s.stats.active.Add(-1)
	sc.sess = sess
	sc.log = log.With("peer_name", sess.peerName)
	sc.log.Debug("peer connected")
	var flow *congestion.Flow
	if s.cfg.Flows != nil {
		flow = s.cfg.Flows.Open(sc.nc.RemoteAddr().String())
		defer flow.Close()
		if err := flow.Watch(sc.nc, congestion.Send); err != nil {
			sc.log.Debug("congestion manager cannot watch the connection", "err", err)
		}
	}
	sc.fr.idle = s.cfg.IdleTimeout
	sc.mu.Lock()
	sc.ctx, sc.cancel = context.WithCancelCause(ctx)
	sc.handles = make(map[uint32]*handleState)
	sc.reqs = make(map[uint32]*request)
	sc.slots = make(chan struct{}, s.cfg.MaxStreams)
	sc.hashing = make(chan struct{}, 1)
	sc.snd = newSender(sc.nc, s.cfg.IdleTimeout, func(b []byte) {
		if cap(b) == wire.HeaderLen+16+s.cfg.DataFrame {
			b = b[:cap(b)]
			s.pool.Put(&b)
		}
	})
	if flow != nil {
		// Under a budget the kernel paces the socket where it can; where
		// it cannot (MPTCP) the writer waits for the CM's grant.
		sc.snd.gate, sc.snd.gateCtx = flow, sc.ctx
	}
	sc.mu.Unlock()
	writerDone := make(chan struct{})
	go func() {
		err := sc.snd.run()
		sc.kill(cmp.Or(err, ErrClosed))
		close(writerDone)
	}()
	sc.wg.Go(func() { keepalive(sc.snd, sc.ctx.Done(), s.cfg.IdleTimeout) })
	s.mu.Lock()
	down := s.shutdown
	s.mu.Unlock()
	if down {
		sc.goAway()
	}
	err = sc.readLoop()
	sc.kill(err)
	sc.wg.Wait()
	<-writerDone
	sc.mu.Lock()
	for _, h := range sc.handles {
		if h.obj != nil {
			h.obj.Close()
		}
	}
	sc.handles = nil
	sc.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		sc.log.Info("peer connection ended", "err", err)
	} else {
		sc.log.Debug("peer disconnected")
	}
}

// kill ends the connection now.
func (sc *serverConn) kill(err error) {
	sc.mu.Lock()
	cancel, snd := sc.cancel, sc.snd
	sc.mu.Unlock()
	if cancel != nil {
		cancel(err)
		snd.close(err)
	}
	sc.nc.Close()
}

// goAway announces shutdown; the connection closes when idle.
func (sc *serverConn) goAway() {
	sc.mu.Lock()
	if sc.goaway || sc.snd == nil {
		sc.mu.Unlock()
		return
	}
	sc.goaway = true
	idle := sc.active == 0
	sc.mu.Unlock()
	_ = sc.snd.queue(wire.GoAway{Code: wire.CodeShuttingDown, Message: "node shutting down"}.Append(nil))
	if idle {
		sc.closeWhenFlushed()
	}
}

// closeWhenFlushed closes the connection once everything queued has been
// written, or after IdleTimeout (Server.Shutdown's context may end it
// sooner).
//
// It runs in the server's wait group, not the connection's: its callers
// (Shutdown, or a request of this connection) hold the server's group
// open, while the connection may already be waiting for its own.
func (sc *serverConn) closeWhenFlushed() {
	sc.srv.wg.Go(func() {
		sc.snd.drain(time.Now().Add(sc.srv.cfg.IdleTimeout))
		sc.kill(ErrClosed)
	})
}

func (sc *serverConn) readLoop() error {
	for {
		f, err := sc.fr.next()
		if err != nil {
			var pe *wire.ProtocolError
			if errors.As(err, &pe) {
				sc.protocolError(pe.Error())
			}
			return err
		}
		if err := sc.handle(f); err != nil {
			var pe *Error
			if errors.As(err, &pe) && pe.Code == wire.CodeProtocol {
				sc.protocolError(pe.Message)
			}
			return err
		}
	}
}

// sendError answers a request that was never admitted.
func (sc *serverConn) sendError(req uint32, code wire.Code, msg string) {
	_ = sc.snd.reply(wire.Error{Request: req, Code: code, Message: truncate(msg)}.Append(nil))
}

// protocolError tells the client why the connection is closing, without
// waiting for room in the queue.
func (sc *serverConn) protocolError(msg string) {
	_ = sc.snd.queue(wire.Error{Code: wire.CodeProtocol, Message: truncate(msg)}.Append(nil))
	sc.snd.drain(time.Now().Add(100 * time.Millisecond))
}

func (sc *serverConn) handle(f wire.Frame) error {
	switch f := f.(type) {
	case wire.Open:
		return sc.onOpen(f)
	case wire.GetHashes:
		return sc.onGetHashes(f)
	case wire.Read:
		return sc.onRead(f)
	case wire.Cancel:
		sc.mu.Lock()
		r := sc.reqs[f.Request]
		sc.mu.Unlock()
		if r != nil {
			r.cancel()
		}
	case wire.Close:
		sc.onClose(f.Handle)
	case wire.Ping:
		return sc.snd.reply(wire.Pong{Opaque: f.Opaque}.Append(nil))
	case wire.Pong:
	case wire.GoAway:
		sc.log.Debug("peer is going away", "message", f.Message)
	case wire.Error:
		if f.Request == 0 {
			return &Error{Code: f.Code, Message: f.Message}
		}
		return protoErr("ERROR for request %d from a client", f.Request)
	default:
		return unexpected(f, "from a client")
	}
	return nil
}

// admit registers a request, or answers it with an error and returns nil.
// A registered request counts against MaxRequests until finish has queued
// its answer, so that a client that sends requests without reading the
// answers runs into the limit instead of the server's memory.
func (sc *serverConn) admit(req, handle uint32) *request {
	sc.mu.Lock()
	var code wire.Code
	var msg string
	switch {
	case sc.goaway:
		code, msg = wire.CodeShuttingDown, "node shutting down"
	case sc.reqs[req] != nil:
		code, msg = wire.CodeBadRequest, fmt.Sprintf("request id %d in use", req)
	case sc.active >= sc.srv.cfg.MaxRequests:
		code, msg = wire.CodeTooMany, fmt.Sprintf("more than %d outstanding requests", sc.srv.cfg.MaxRequests)
	default:
		r := &request{handle: handle}
		sc.reqs[req] = r
		sc.active++
		sc.mu.Unlock()
		return r
	}
	sc.mu.Unlock()
	sc.sendError(req, code, msg)
	return nil
}

// finish ends request req: it forgets the id, so that the client may reuse
// it as soon as it sees the answer; queues the terminal frame with send;
// and then stops counting the request. A connection going away closes
// once its last request has been answered.
func (sc *serverConn) finish(req uint32, send func() error) {
	sc.mu.Lock()
	delete(sc.reqs, req)
	sc.mu.Unlock()
	send()
	sc.mu.Lock()
	sc.active--
	idle := sc.goaway && sc.active == 0
	sc.mu.Unlock()
	if idle {
		sc.closeWhenFlushed()
	}
}

// finishError ends request req with an error answer.
func (sc *serverConn) finishError(req uint32, err error) {
	sc.srv.stats.errors.Add(1)
	code, msg := CodeOf(err)
	sc.finish(req, func() error {
		return sc.snd.reply(wire.Error{Request: req, Code: code, Message: truncate(msg)}.Append(nil))
	})
}

func (sc *serverConn) onOpen(f wire.Open) error {
	r := sc.admit(f.Request, f.Handle)
	if r == nil {
		return nil
	}
	sc.srv.stats.opens.Add(1)
	sc.mu.Lock()
	var code wire.Code
	var msg string
	switch {
	case sc.handles[f.Handle] != nil:
		code, msg = wire.CodeBadRequest, fmt.Sprintf("handle %d in use", f.Handle)
	case len(sc.handles) >= sc.srv.cfg.MaxHandles:
		code, msg = wire.CodeTooMany, fmt.Sprintf("more than %d open handles", sc.srv.cfg.MaxHandles)
	}
	if code != 0 {
		sc.mu.Unlock()
		sc.finishError(f.Request, Errorf(code, "%s", msg))
		return nil
	}
	if id := sc.srv.cfg.NodeID; id != 0 && slices.Contains(f.Via, id) {
		sc.mu.Unlock()
		sc.srv.stats.loops.Add(1)
		sc.srv.logLoop(f)
		sc.finishError(f.Request, Errorf(wire.CodeLoop, "the request came back to %s (node %016x) after passing %d relays: the upstreams form a loop",
			sc.srv.cfg.Name, uint64(id), len(f.Via)))
		return nil
	}
	h := &handleState{ready: make(chan struct{})}
	sc.handles[f.Handle] = h
	ctx, cancel := context.WithCancel(context.WithValue(sc.ctx, viaKey{}, f.Via))
	r.cancel = cancel
	sc.wg.Add(1)
	sc.mu.Unlock()
	go func() {
		defer sc.wg.Done()
		defer cancel()
		obj, err := sc.srv.handler.Open(ctx, f.Path)
		if err != nil {
			code, _ := CodeOf(err)
			sc.log.Debug("peer open refused", "path", f.Path, "code", code, "err", err)
			// A handle whose open failed is not open: forget it, so that
			// it neither counts against MaxHandles nor blocks its reuse.
			// READs behind it fail with BAD_REQUEST either way.
			sc.mu.Lock()
			h.err = err
			if sc.handles[f.Handle] == h {
				delete(sc.handles, f.Handle)
			}
			close(h.ready)
			sc.mu.Unlock()
			sc.finishError(f.Request, err)
			return
		}
		m := obj.Meta()
		stale := false
		if s, ok := obj.(interface{ Stale() bool }); ok {
			stale = s.Stale()
		}
		// The OBJECT goes into the queue before any READ on the handle can
		// proceed, so the client sees it before their DATA.
		sc.finish(f.Request, func() error {
			return sc.snd.reply(wire.Object{
				Request: f.Request, Handle: f.Handle,
				Size: uint64(m.Size), ModTime: m.ModTime.UnixNano(), BlockSize: uint32(m.BlockSize),
				Digest: m.Digest, ETag: m.ETag, ContentType: m.ContentType, Stale: stale,
			}.Append(nil))
		})
		sc.mu.Lock()
		h.obj = obj
		if h.closed {
			// CLOSE came first: nobody will use it.
			obj.Close()
			h.obj = nil
		}
		close(h.ready)
		sc.mu.Unlock()
	}()
	return nil
}

func (sc *serverConn) onClose(handle uint32) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	h := sc.handles[handle]
	if h == nil {
		return
	}
	delete(sc.handles, handle)
	h.closed = true
	for _, r := range sc.reqs {
		if r.handle == handle && r.cancel != nil {
			r.cancel()
		}
	}
	select {
	case <-h.ready:
		if h.obj != nil && h.users == 0 {
			h.obj.Close()
			h.obj = nil
		}
	default: // closed when its open finishes
	}
}

// use waits for handle's open to finish and pins its object. The caller
// calls release when done.
func (sc *serverConn) use(ctx context.Context, handle uint32) (Object, *handleState, error) {
	sc.mu.Lock()
	h := sc.handles[handle]
	sc.mu.Unlock()
	if h == nil {
		return nil, nil, Errorf(wire.CodeBadRequest, "handle %d is not open", handle)
	}
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, nil, Errorf(wire.CodeCancelled, "cancelled")
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if h.err != nil || h.obj == nil {
		return nil, nil, Errorf(wire.CodeBadRequest, "handle %d did not open", handle)
	}
	h.users++
	return h.obj, h, nil
}

func (sc *serverConn) release(h *handleState) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	h.users--
	if h.closed && h.users == 0 && h.obj != nil {
		h.obj.Close()
		h.obj = nil
	}
}

// start runs fn for a registered request on its own goroutine, with a
// context that CANCEL, CLOSE of its handle or the connection's end cancel.
func (sc *serverConn) start(r *request, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(sc.ctx)
	sc.mu.Lock()
	r.cancel = cancel
	sc.wg.Add(1)
	sc.mu.Unlock()
	go func() {
		defer sc.wg.Done()
		defer cancel()
		fn(ctx)
	}()
}

func (sc *serverConn) onGetHashes(f wire.GetHashes) error {
	r := sc.admit(f.Request, f.Handle)
	if r == nil {
		return nil
	}
	sc.srv.stats.hashes.Add(1)
	sc.start(r, func(ctx context.Context) {
		obj, h, err := sc.use(ctx, f.Handle)
		if err != nil {
			sc.finishError(f.Request, err)
			return
		}
		defer sc.release(h)
		hs := obj.Hashes()
		limit := int(sc.sess.peerMaxFrame-8) / wire.DigestLen
		// A request past the last block gets the hashes up to it, so that
		// a client may ask for the first page before it knows the size.
		end := min(uint64(f.First)+uint64(f.Count), uint64(len(hs)))
		switch {
		case uint64(f.First) >= uint64(len(hs)):
			sc.finishError(f.Request, Errorf(wire.CodeBadRequest, "hashes from %d of %d blocks", f.First, len(hs)))
			return
		case int(f.Count) > limit:
			sc.finishError(f.Request, Errorf(wire.CodeBadRequest, "%d hashes exceed your max frame (%d)", f.Count, limit))
			return
		}
		// One answer is built at a time per connection: a hash list is up
		// to 2 MiB.
		select {
		case sc.hashing <- struct{}{}:
			defer func() { <-sc.hashing }()
		case <-ctx.Done():
			sc.finishError(f.Request, Errorf(wire.CodeCancelled, "cancelled"))
			return
		}
		b := make([]byte, 0, int(end-uint64(f.First))*wire.DigestLen)
		for _, d := range hs[f.First:end] {
			b = append(b, d[:]...)
		}
		sc.finish(f.Request, func() error {
			return sc.snd.reply(wire.Hashes{Request: f.Request, First: f.First, Hashes: b}.Append(nil))
		})
	})
	return nil
}

func (sc *serverConn) onRead(f wire.Read) error {
	r := sc.admit(f.Request, f.Handle)
	if r == nil {
		return nil
	}
	sc.srv.stats.reads.Add(1)
	sc.mu.Lock()
	sc.seq++
	seq := sc.seq
	sc.mu.Unlock()
	sc.start(r, func(ctx context.Context) { sc.serveRead(ctx, f, seq) })
	return nil
}

// cancelled turns the error of a request whose context ended into
// CANCELLED, unless the whole connection is ending.
func (sc *serverConn) cancelled(ctx context.Context, err error) error {
	if ctx.Err() != nil && sc.ctx.Err() == nil {
		return Errorf(wire.CodeCancelled, "cancelled")
	}
	return err
}

func (sc *serverConn) serveRead(ctx context.Context, f wire.Read, seq uint64) {
	obj, h, err := sc.use(ctx, f.Handle)
	if err != nil {
		sc.finishError(f.Request, sc.cancelled(ctx, err))
		return
	}
	defer sc.release(h)
	size := uint64(obj.Meta().Size)
	if f.Offset > size || uint64(f.Length) > size-f.Offset {
		sc.finishError(f.Request, Errorf(wire.CodeBadRequest, "range %d+%d outside the object (%d bytes)", f.Offset, f.Length, size))
		return
	}
	select {
	case sc.slots <- struct{}{}:
		defer func() { <-sc.slots }()
	case <-ctx.Done():
		sc.finishError(f.Request, sc.cancelled(ctx, ctx.Err()))
		return
	}
	rd, err := obj.NewReader(ctx, int64(f.Offset), int64(f.Length))
	if err != nil {
		sc.finishError(f.Request, sc.cancelled(ctx, err))
		return
	}
	defer rd.Close()
	st := sc.snd.openStream(seq)
	per := min(sc.srv.cfg.DataFrame, int(sc.sess.peerMaxFrame)-16)
	const pre = wire.HeaderLen + 16
	off, end := f.Offset, f.Offset+uint64(f.Length)
	for n := uint32(0); off < end; n++ {
		bp := sc.srv.pool.Get().(*[]byte)
		buf := *bp
		k := int(min(uint64(per), end-off))
		_, err := io.ReadFull(rd, buf[pre:pre+k])
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			sc.srv.pool.Put(bp)
			if ctx.Err() == nil {
				sc.log.Info("peer read failed", "path", obj.Meta().Path, "offset", off, "err", err)
			}
			code, msg := CodeOf(sc.cancelled(ctx, err))
			sc.finish(f.Request, func() error {
				return st.push(wire.Error{Request: f.Request, Code: code, Message: truncate(msg)}.Append(nil), true)
			})
			return
		}
		last := off+uint64(k) == end
		wire.AppendDataHeader(buf[:0], f.Request, n, off, last, k)
		sc.srv.stats.bytes.Add(int64(k))
		push := func() error { return st.push(buf[:pre+k], last) }
		if last {
			var perr error
			sc.finish(f.Request, func() error { perr = push(); return perr })
			if perr != nil {
				st.abandon()
			}
			return
		}
		if err := push(); err != nil {
			st.abandon()
			sc.finish(f.Request, func() error { return nil })
			return
		}
		off += uint64(k)
	}
}
