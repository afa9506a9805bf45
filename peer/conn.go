package peer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Conn is the client end of a peer connection: it opens objects and reads
// byte ranges of them from the server. It is safe for concurrent use.
//
// Asynchronous calls (OpenAsync, Read) take a callback that runs on the
// connection's reader goroutine exactly once: when the request ends, or
// when the connection fails. A callback must return quickly and must not
// call blocking methods of the same Conn.
type Conn struct {
	nc   net.Conn
	cfg  Config
	sess session
	fr   *frameReader
	snd  *sender
	log  *slog.Logger

	mu         sync.Mutex
	calls      map[uint32]*call
	handles    map[uint32]bool
	nextReq    uint32
	nextHandle uint32
	goaway     bool
	err        error // why the connection ended; nil while open

	closed   chan struct{}
	lastRecv atomic.Int64 // unix nanoseconds of the last frame received
	lastData atomic.Int64 // unix nanoseconds of the last DATA bytes received
	wg       sync.WaitGroup
}

type callKind uint8

const (
	kindOpen callKind = iota + 1
	kindHashes
	kindRead
)

type call struct {
	kind   callKind
	handle uint32

	onOpen   func(wire.Object, error)
	onHashes func(first uint32, hashes []byte, err error)

	// READ: the bytes go to dst, which covers [base, base+len(dst)).
	dst    []byte
	base   uint64
	filled int
	seq    uint32
	onRead func(error)
}

// Dial connects to a peer server at addr and runs the handshake.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	nc, err := cfg.sockopts().Dialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("peer: dial %s: %w", addr, err)
	}
	c, err := Client(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Client runs the client handshake on an established connection and
// returns the Conn. On error the caller closes nc.
func Client(ctx context.Context, nc net.Conn, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	fr := newFrameReader(nc, wire.HandshakeMaxPayload)
	sess, err := clientHandshake(nc, fr, cfg)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, err
	}
	fr.idle = cfg.IdleTimeout
	c := &Conn{
		nc:      nc,
		cfg:     cfg,
		sess:    sess,
		fr:      fr,
		log:     cfg.Logger.With("peer", nc.RemoteAddr().String(), "peer_name", sess.peerName),
		calls:   make(map[uint32]*call),
		handles: make(map[uint32]bool),
		closed:  make(chan struct{}),
	}
	c.snd = newSender(nc, cfg.IdleTimeout, func([]byte) {})
	c.lastRecv.Store(time.Now().UnixNano())
	c.lastData.Store(time.Now().UnixNano())
	c.wg.Add(3)
	go func() { defer c.wg.Done(); c.fail(cmp.Or(c.snd.run(), ErrClosed)) }()
	go func() { defer c.wg.Done(); c.readLoop() }()
	go func() { defer c.wg.Done(); keepalive(c.snd, c.closed, cfg.IdleTimeout) }()
	return c, nil
}

// PeerName is the name the server gave in the handshake.
func (c *Conn) PeerName() string { return c.sess.peerName }

// RemoteAddr is the server's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// MultipathTCP reports whether the connection runs over MPTCP.
func (c *Conn) MultipathTCP() bool { return sockopt.MultipathTCP(c.nc) }

// Congestion reports the congestion control of the connection's socket.
func (c *Conn) Congestion() (string, error) { return sockopt.Congestion(c.nc) }

// NetConn is the underlying connection, for socket statistics.
func (c *Conn) NetConn() net.Conn { return c.nc }

// LastActivity is when the last frame arrived.
func (c *Conn) LastActivity() time.Time { return time.Unix(0, c.lastRecv.Load()) }

// LastData is when DATA bytes last arrived (or the connection started):
// progress of reads, which keepalives do not fake.
func (c *Conn) LastData() time.Time { return time.Unix(0, c.lastData.Load()) }

// GoingAway reports whether the server has sent GOAWAY: it takes no new
// requests on this connection.
func (c *Conn) GoingAway() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goaway
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Err says why the connection ended, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// MaxHashes is the most hashes one GETHASHES may ask for on this
// connection.
func (c *Conn) MaxHashes() int {
	return int(min(c.sess.peerMaxFrame, c.cfg.MaxFrame)-8) / wire.DigestLen
}

// Close closes the connection; outstanding calls fail with ErrClosed. It
// waits for the connection's goroutines.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

// fail ends the connection with err (the first error wins): no new call
// starts, the socket closes, and the read loop, which alone writes into the
// calls' buffers, ends and fails the calls still outstanding (finishAll).
// Failing them here, from another goroutine, could hand a buffer back to
// its owner while the read loop is still filling it.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.closed)
	c.mu.Unlock()
	c.snd.close(err)
	c.nc.Close()
	if !errors.Is(err, ErrClosed) {
		c.log.Debug("peer connection ended", "err", err)
	}
}

// finishAll fails every outstanding call with the connection's error. Only
// the read loop calls it, as it exits.
func (c *Conn) finishAll() {
	c.mu.Lock()
	calls, err := c.calls, c.err
	c.calls = nil
	c.mu.Unlock()
	for _, cl := range calls {
		cl.finish(err)
	}
}

func (cl *call) finish(err error) {
	switch cl.kind {
	case kindOpen:
		cl.onOpen(wire.Object{}, err)
	case kindHashes:
		cl.onHashes(0, nil, err)
	case kindRead:
		cl.onRead(err)
	}
}

// start registers cl and queues its request frame, built by mk from the
// request id.
func (c *Conn) start(cl *call, mk func(req uint32) wire.Frame) (uint32, error) {
	c.mu.Lock()
	if c.err != nil || c.calls == nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if c.goaway {
		c.mu.Unlock()
		return 0, ErrGoingAway
	}
	if len(c.calls) >= c.cfg.MaxRequests {
		c.mu.Unlock()
		return 0, ErrTooMany
	}
	req := c.nextReq
	for {
		req++
		if _, used := c.calls[req]; req != 0 && !used {
			break
		}
	}
	c.nextReq = req
	c.calls[req] = cl
	c.mu.Unlock()
	if err := c.snd.queue(mk(req).Append(nil)); err != nil {
		c.mu.Lock()
		mine := c.calls != nil && c.calls[req] == cl
		if mine {
			delete(c.calls, req)
		}
		c.mu.Unlock()
		if mine {
			return 0, err
		}
		// The read loop has failed the call already: its callback
		// reports the error, so this call must look started.
	}
	return req, nil
}

// OpenAsync opens path under a new handle and returns the handle at once;
// done runs when the server has described the object (or refused). READs
// on the handle may be sent before that. via lists the relays the request
// has passed (see wire.Open); nil for a request that starts here.
func (c *Conn) OpenAsync(path string, via []wire.NodeID, done func(wire.Object, error)) (uint32, error) {
	if len(via) > wire.MaxVia || slices.Contains(via, 0) {
		return 0, fmt.Errorf("peer: via list of %d nodes: want at most %d non-zero node IDs", len(via), wire.MaxVia)
	}
	c.mu.Lock()
	h := c.nextHandle
	for {
		h++
		if h != 0 && !c.handles[h] {
			break
		}
	}
	c.nextHandle = h
	c.handles[h] = true
	c.mu.Unlock()
	_, err := c.start(&call{kind: kindOpen, handle: h, onOpen: done}, func(req uint32) wire.Frame {
		return wire.Open{Request: req, Handle: h, Path: path, Via: via}
	})
	if err != nil {
		c.mu.Lock()
		delete(c.handles, h)
		c.mu.Unlock()
		return 0, err
	}
	return h, nil
}

// Open opens path and waits for the server's description.
func (c *Conn) Open(ctx context.Context, path string) (uint32, wire.Object, error) {
	type result struct {
		o   wire.Object
		err error
	}
	ch := make(chan result, 1)
	h, err := c.OpenAsync(path, nil, func(o wire.Object, err error) { ch <- result{o, err} })
	if err != nil {
		return 0, wire.Object{}, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			c.CloseHandle(h)
			return 0, wire.Object{}, r.err
		}
		return h, r.o, nil
	case <-ctx.Done():
		c.CloseHandle(h)
		return 0, wire.Object{}, ctx.Err()
	}
}

// Hashes fetches up to count block hashes from first (fewer if the object
// ends sooner); count must not exceed MaxHashes. The result is a copy.
func (c *Conn) Hashes(ctx context.Context, handle, first, count uint32) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	req, err := c.start(&call{kind: kindHashes, handle: handle, onHashes: func(got uint32, b []byte, err error) {
		switch {
		case err != nil:
		case got != first || len(b) > int(count)*wire.DigestLen:
			err = fmt.Errorf("peer: HASHES for %d+%d answered with %d+%d", first, count, got, len(b)/wire.DigestLen)
		}
		ch <- result{append([]byte(nil), b...), err}
	}}, func(req uint32) wire.Frame {
		return wire.GetHashes{Request: req, Handle: handle, First: first, Count: count}
	})
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		c.Cancel(req)
		return nil, ctx.Err()
	}
}

// Read asks for len(dst) bytes of the object under handle from offset off,
// written into dst as they arrive. done runs once: with nil when dst is
// full, or with the error. dst must not be touched until done has run. It
// returns the request id, for Cancel.
func (c *Conn) Read(handle uint32, off uint64, dst []byte, done func(error)) (uint32, error) {
	if len(dst) == 0 || len(dst) > wire.MaxReadLength {
		return 0, fmt.Errorf("peer: read of %d bytes", len(dst))
	}
	return c.start(&call{kind: kindRead, handle: handle, dst: dst, base: off, onRead: done}, func(req uint32) wire.Frame {
		return wire.Read{Request: req, Handle: handle, Offset: off, Length: uint32(len(dst))}
	})
}

// Cancel asks the server to stop request req. Its callback still runs,
// with the normal result or a CANCELLED error.
func (c *Conn) Cancel(req uint32) {
	c.mu.Lock()
	_, ok := c.calls[req]
	c.mu.Unlock()
	if ok {
		_ = c.snd.queue(wire.Cancel{Request: req}.Append(nil))
	}
}

// CloseHandle releases a handle on the server.
func (c *Conn) CloseHandle(handle uint32) {
	c.mu.Lock()
	ok := c.handles[handle]
	delete(c.handles, handle)
	c.mu.Unlock()
	if ok {
		_ = c.snd.queue(wire.Close{Handle: handle}.Append(nil))
	}
}

// take removes and returns the call for req, or nil.
func (c *Conn) take(req uint32) *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.calls[req]
	if cl != nil {
		delete(c.calls, req)
	}
	return cl
}

func (c *Conn) lookup(req uint32) *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[req]
}

func (c *Conn) readLoop() {
	defer c.finishAll()
	for {
		h, err := c.fr.header()
		if err != nil {
			c.protocolFail(err)
			return
		}
		if h.Type == wire.TypeData {
			err = c.readData(h)
		} else {
			var f wire.Frame
			if f, err = c.fr.payload(h); err == nil {
				err = c.handle(f)
			}
		}
		if err != nil {
			c.protocolFail(err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
	}
}

// protocolFail tells the server about a malformed frame where that makes
// sense, then fails the connection.
func (c *Conn) protocolFail(err error) {
	var pe *wire.ProtocolError
	var ours *Error
	if errors.As(err, &pe) || (errors.As(err, &ours) && ours.Code == wire.CodeProtocol) {
		_ = c.snd.queue(wire.Error{Code: wire.CodeProtocol, Message: truncate(err.Error())}.Append(nil))
		c.snd.drain(time.Now().Add(100 * time.Millisecond))
	}
	c.fail(err)
}

func (c *Conn) handle(f wire.Frame) error {
	switch f := f.(type) {
	case wire.Object:
		cl := c.lookup(f.Request)
		if cl == nil || cl.kind != kindOpen {
			return protoErr("OBJECT for request %d that is not an open", f.Request)
		}
		if f.Handle != cl.handle {
			return protoErr("OBJECT for handle %d, opened %d", f.Handle, cl.handle)
		}
		c.take(f.Request)
		cl.onOpen(f, nil)
	case wire.Hashes:
		cl := c.lookup(f.Request)
		if cl == nil || cl.kind != kindHashes {
			return protoErr("HASHES for request %d that did not ask", f.Request)
		}
		c.take(f.Request)
		cl.onHashes(f.First, f.Hashes, nil)
	case wire.Error:
		if f.Request == 0 {
			return &Error{Code: f.Code, Message: f.Message}
		}
		cl := c.take(f.Request)
		if cl == nil {
			return protoErr("ERROR for unknown request %d", f.Request)
		}
		if cl.kind == kindOpen {
			// The handle did not open: it may be used again.
			c.mu.Lock()
			delete(c.handles, cl.handle)
			c.mu.Unlock()
		}
		cl.finish(&Error{Code: f.Code, Message: f.Message})
	case wire.Ping:
		return c.snd.reply(wire.Pong{Opaque: f.Opaque}.Append(nil))
	case wire.Pong:
	case wire.GoAway:
		c.mu.Lock()
		c.goaway = true
		c.mu.Unlock()
		c.log.Debug("peer is going away", "code", f.Code, "message", f.Message)
	default:
		return unexpected(f, "from a server")
	}
	return nil
}

// readData reads a DATA frame, whose header was just read, straight into
// its request's buffer, after checking it against the request.
func (c *Conn) readData(h wire.Header) error {
	var pre [wire.DataPrefixLen]byte
	if h.Length < wire.DataPrefixLen {
		_, err := wire.ParsePayload(h, nil) // the decoder's own error
		return err
	}
	if err := c.fr.readFull(pre[:]); err != nil {
		return err
	}
	d, n, err := wire.ParseDataPrefix(h, pre[:])
	if err != nil {
		return err
	}
	cl := c.lookup(d.Request)
	if cl == nil || cl.kind != kindRead {
		return protoErr("DATA for request %d that is not a read", d.Request)
	}
	switch {
	case d.Seq != cl.seq:
		return protoErr("DATA seq %d, want %d", d.Seq, cl.seq)
	case d.Offset != cl.base+uint64(cl.filled):
		return protoErr("DATA at offset %d, want %d", d.Offset, cl.base+uint64(cl.filled))
	case n > len(cl.dst)-cl.filled:
		return protoErr("DATA runs %d bytes past the requested range", n-(len(cl.dst)-cl.filled))
	case d.Fin && cl.filled+n != len(cl.dst):
		return protoErr("DATA FIN with %d of %d bytes", cl.filled+n, len(cl.dst))
	case !d.Fin && cl.filled+n == len(cl.dst):
		return protoErr("DATA fills the range without FIN")
	}
	// LastData moves with every read while the payload arrives: on a slow
	// connection one 128 KiB frame takes seconds, and a connection that is
	// receiving must not look silent (stalled) then.
	if err := c.fr.readFullProgress(cl.dst[cl.filled:cl.filled+n], func() {
		c.lastData.Store(time.Now().UnixNano())
	}); err != nil {
		return err
	}
	cl.filled += n
	cl.seq++
	c.lastData.Store(time.Now().UnixNano())
	if d.Fin {
		c.take(d.Request)
		cl.onRead(nil)
	}
	return nil
}

func protoErr(format string, args ...any) error {
	return &Error{Code: wire.CodeProtocol, Message: fmt.Sprintf(format, args...)}
}

// truncate fits s into an ERROR message: at most wire.MaxMessageLen bytes
// of valid UTF-8.
func truncate(s string) string {
	if len(s) > wire.MaxMessageLen {
		s = s[:wire.MaxMessageLen]
	}
	return strings.ToValidUTF8(s, "")
}
