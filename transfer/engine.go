package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/singleflight"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/tcpinfo"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer/internal/sched"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// BlockStore keeps verified blocks (package store implements it). Errors
// are the store's business: a failed Put is a block not cached, a failed
// Get a miss.
type BlockStore interface {
	Get(d object.Digest, idx uint32, dst []byte) (int, bool)
	Put(d object.Digest, idx uint32, data []byte) error
	Remove(d object.Digest, idx uint32)
}

// Defaults of the Config fields of the same names.
const (
	DefaultConns        = 8
	DefaultMaxConns     = 128
	DefaultPipeline     = 64
	DefaultWindow       = 32 << 20
	DefaultMemoryLimit  = 256 << 20
	DefaultMemoryWait   = 10 * time.Second
	DefaultStaleIfError = time.Hour
)

// Config configures an Engine. Zero values mean the defaults given on each
// field; Upstreams and Peer.Key are required.
type Config struct {
	Upstreams []string    // HOST:PORT of each upstream peer server
	Peer      peer.Config // key, node name, MPTCP, limits of the connections

	Conns int // connections in all to start with, spread over the upstreams; default DefaultConns
	// MaxConns bounds the connections to one upstream; default
	// DefaultMaxConns. Each upstream starts with its share of Conns, and
	// its count grows while more connections carry proportionally more (a
	// path whose rate per connection loss limits: see congestion.Sizer).
	// At most the share (1, say): the count stays at the share.
	MaxConns  int
	Pipeline  int           // most requests in flight per connection; default DefaultPipeline, at most half of Peer.MaxRequests (see sched.Config)
	QueueTime time.Duration // requests a connection keeps queued, in time at its rate; default 500 ms
	// Window is how far ahead of its consumer a reader asks for blocks, in
	// bytes; default DefaultWindow. A reader asks for at least eight
	// blocks per ready connection, within its share of the read-ahead
	// memory (MemoryLimit), so that every connection has work.
	Window int64

	// MemoryLimit bounds the block buffers of all readers together;
	// default DefaultMemoryLimit.
	MemoryLimit int64

	Store BlockStore // optional cache of verified blocks

	// Forward marks the engine of a node that serves what it fetches to
	// other nodes (a relay): it adds Peer.NodeID to the via list of every
	// OPEN it sends (see wire.Open), so that a request that comes back to
	// this node through a loop of upstreams is refused with LOOP.
	Forward bool

	ManifestTTL time.Duration // how long an object's description is trusted before asking upstream again; default 5 s
	// StaleIfError is how long past its fetch a description is still
	// served when no upstream can be reached to revalidate it (the idea of
	// RFC 5861's stale-if-error): the blocks are verified against it as
	// ever, and Object.Stale says so. Default DefaultStaleIfError; a
	// negative value turns it off.
	StaleIfError time.Duration
	MaxObjects   int           // descriptions kept; default 4096
	MaxHashBytes int64         // block hashes kept with the descriptions; default 64 MiB
	OpenTimeout  time.Duration // for fetching a description; default 15 s
	DialTimeout  time.Duration // per connection attempt, handshake included; default 10 s
	StallTimeout time.Duration // see sched.Config; default 20 s

	// IdleReader is how long a reader's consumer may take nothing of the
	// data it has before the reader gives its blocks back when other
	// readers need memory; default 1 s. MemoryWait bounds how long a
	// reader's next block waits for memory before the read fails with
	// ErrBusy; default 10 s.
	IdleReader time.Duration
	MemoryWait time.Duration

	Logger *slog.Logger // nil discards

	// Congestion is the process's congestion manager: the engine opens a
	// flow in it for each connection (in the macroflow of the upstream's
	// host), has it sample the connection's TCP state, and takes each
	// connection's rate and round trip from it. Nil: the engine makes one
	// of its own, on its clock, and closes it with the engine.
	Congestion *congestion.Manager

	// dial replaces peer.Dial in tests.
	dial func(ctx context.Context, addr string, cfg peer.Config) (*peer.Conn, error)
	// clock is where the engine reads time and sets its timers: the
	// scheduler's time, the description cache's age; tests replace it with
	// a clock they step by hand. The connections' own deadlines (package
	// peer) and the dial and open timeouts stay on the wall clock.
	clock clockwork.Clock

	describes int // descriptions fetched at once per connection, from Peer.MaxRequests
}

func (c *Config) setDefaults() error {
	if len(c.Upstreams) == 0 {
		return errors.New("transfer: no upstreams")
	}
	if c.Forward && c.Peer.NodeID == 0 {
		return errors.New("transfer: Forward needs Peer.NodeID")
	}
	if len(c.Upstreams) > MaxUpstreams {
		return fmt.Errorf("transfer: %d upstreams, at most %d", len(c.Upstreams), MaxUpstreams)
	}
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Pipeline <= 0 {
		c.Pipeline = DefaultPipeline
	}
	// A connection's calls (peer.Config.MaxRequests) must hold the
	// pipeline and its cancelled requests, plus descriptions.
	calls := c.Peer.MaxRequests
	if calls <= 0 {
		calls = 128
	}
	c.Pipeline = max(1, min(c.Pipeline, calls/2))
	c.describes = max(1, min(maxDescribes, (calls-c.Pipeline)/2))
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.ManifestTTL <= 0 {
		c.ManifestTTL = 5 * time.Second
	}
	switch {
	case c.StaleIfError == 0:
		c.StaleIfError = DefaultStaleIfError
	case c.StaleIfError < 0:
		c.StaleIfError = 0
	}
	if c.MaxObjects <= 0 {
		c.MaxObjects = 4096
	}
	if c.MaxHashBytes <= 0 {
		c.MaxHashBytes = 64 << 20
	}
	if c.IdleReader <= 0 {
		c.IdleReader = time.Second
	}
	if c.MemoryWait <= 0 {
		c.MemoryWait = DefaultMemoryWait
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = 15 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.dial == nil {
		c.dial = peer.Dial
	}
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}
	return nil
}

// Engine fetches objects from its upstreams; see the package doc.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	pools  pools
	mem    *memory
	events chan any
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stored chan storeJob
	sf     singleflight.Group
	cm     *congestion.Manager
	ownCM  bool // cm is the engine's own: closed by Close

	// Owned by the loop goroutine.
	sched      *sched.Scheduler
	conns      map[sched.ConnID]*engConn
	wants      map[sched.ChunkKey]*want
	dialing    map[sched.ConnID]sched.UpstreamID
	readyDirty bool
	connected  bool   // the pool has been full once (logged)
	report     report // counts since the last stats log

	// Shared, under mu.
	mu        sync.Mutex
	manifests manifestCache
	byDigest  map[object.Digest]*objState
	nextObj   sched.ObjectID
	ready     []*engConn           // ready connections, for Open
	readyGen  chan struct{}        // closed and replaced when ready or usable changes
	usable    sched.UpSet          // upstreams reachable or being dialed
	dialErrs  map[string]dialError // the last failure to reach each upstream, by address

	stats  counters
	ups    []upCounters // by UpstreamID
	openRR atomic.Uint32

	// ahead is the memory held for blocks beyond readers' next ones; it
	// may not pass aheadLimit, three quarters of MemoryLimit.
	ahead      atomic.Int64
	aheadLimit int64
	readyConns atomic.Int64 // len(ready), for the readers' windows
}

// engConn is a connection the loop owns.
type engConn struct {
	id      sched.ConnID
	up      sched.UpstreamID
	addr    string
	pc      *peer.Conn
	handles map[sched.ObjectID]*connHandle
	reqs    map[*engReq]struct{}       // requests in flight, cancelled ones included
	current map[sched.ChunkKey]*engReq // the request the scheduler knows, per block
	retrans atomic.Uint32              // TCP segments retransmitted, when last read (Upstreams, removeConn)
	// flow is the connection in the congestion manager: busy while it
	// has requests in flight. When the CM cannot watch the connection
	// (not TCP), the engine feeds it the bytes of each block (fed).
	flow      *congestion.Flow
	fed       bool
	delivered uint64
	lastData  time.Time // the connection's LastData when last sampled (its wall clock)
	// describes bounds the descriptions fetched at once on the connection
	// (each takes two of its request slots), so that a burst of opens
	// leaves room for the reads.
	describes chan struct{}
}

// maxDescribes is the size of engConn.describes.
const maxDescribes = 16

// engReq is a request in flight on a connection.
type engReq struct {
	id        uint32 // the peer request id, for CANCEL
	key       sched.ChunkKey
	h         *connHandle
	cancelled bool // the scheduler no longer counts it as the block's copy
}

// connHandle is an object opened on one connection.
type connHandle struct {
	h        uint32
	state    atomic.Int32 // handlePending, handleOK, handleBad
	inflight int
	lastUse  time.Time
}

const (
	handlePending int32 = iota
	handleOK
	handleBad
)

// How long an upstream that could not open an object gets no requests for
// it: long when it says it does not have the object, short when it says it
// cannot reach its own upstreams now.
const (
	objectRefusal     = 10 * time.Second
	objectUnavailable = time.Second
)

// maxHandles bounds the objects open on one connection; past it the least
// recently used idle one is closed.
const maxHandles = 128

// want is a block that readers wait for.
type want struct {
	obj     *objState
	idx     uint32
	readers []*Reader
}

type storeJob struct {
	d   object.Digest
	idx uint32
	b   *block
}

// Loop events.
type (
	evWant struct {
		r   *Reader
		obj *objState
		idx uint32
	}
	evUnwant evWant
	evDialed struct {
		id  sched.ConnID
		pc  *peer.Conn
		err error
	}
	evDone struct {
		id       sched.ConnID
		r        *engReq
		obj      *objState
		b        *block
		err      error
		corrupt  bool
		mismatch bool
	}
	evDead struct {
		id sched.ConnID
	}
	evForget struct{ obj sched.ObjectID }
	evHurry  struct{}
	evOpened struct {
		id  sched.ConnID
		obj sched.ObjectID
		h   *connHandle
		ok  bool
		err error
	}
)

// New starts an Engine: it begins dialing its upstreams at once.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	// Each upstream starts from the count an earlier engine's sizing of
	// the same host settled on, if the congestion manager remembers one.
	var initial []int
	if cfg.Congestion != nil {
		for _, addr := range cfg.Upstreams {
			initial = append(initial, cfg.Congestion.Conns(congestion.Host(addr)))
		}
	}
	s, err := sched.New(sched.Config{
		Upstreams: len(cfg.Upstreams), Conns: cfg.Conns, MaxConns: cfg.MaxConns, Pipeline: cfg.Pipeline, QueueTime: cfg.QueueTime,
		StallTimeout: cfg.StallTimeout, Initial: initial,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg:        cfg,
		log:        cfg.Logger,
		mem:        newMemory(cfg.MemoryLimit, cfg.clock, cfg.IdleReader, cfg.MemoryWait),
		aheadLimit: cfg.MemoryLimit / 4 * 3,
		events:     make(chan any, 4096),
		ctx:        ctx,
		cancel:     cancel,
		stored:     make(chan storeJob, 64),
		sched:      s,
		conns:      make(map[sched.ConnID]*engConn),
		wants:      make(map[sched.ChunkKey]*want),
		dialing:    make(map[sched.ConnID]sched.UpstreamID),
		byDigest:   make(map[object.Digest]*objState),
		readyGen:   make(chan struct{}),
		usable:     ^sched.UpSet(0),
		ups:        make([]upCounters, len(cfg.Upstreams)),
	}
	if e.cm = cfg.Congestion; e.cm == nil {
		e.cm, e.ownCM = congestion.New(congestion.Config{Now: cfg.clock.Now}), true
	}
	e.manifests.init(cfg.MaxObjects, cfg.MaxHashBytes)
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.loop() }()
	e.wg.Go(func() { e.mem.reclaimer(ctx) })
	if cfg.Store != nil {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.storeWriter() }()
	}
	return e, nil
}

// Close stops the engine: readers fail, connections close. It waits for
// every goroutine the engine started.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	if e.ownCM {
		e.cm.Close()
	}
	return nil
}

// post hands an event to the loop. After Close it drops the event,
// releasing any block it carries.
func (e *Engine) post(ev any) {
	select {
	case e.events <- ev:
	case <-e.ctx.Done():
		if d, ok := ev.(evDone); ok && d.b != nil {
			d.b.release()
		}
	}
}

// hurry asks the loop to redial upstreams that are down now rather than
// after their backoff (see sched.Scheduler.Hurry): a client is waiting. It
// does not block; a full queue drops the request, as the loop is busy.
func (e *Engine) hurry() {
	select {
	case e.events <- evHurry{}:
	default:
	}
}

func (e *Engine) loop() {
	clock := e.cfg.clock
	timer := clock.NewTimer(time.Hour)
	defer timer.Stop()
	activity := clock.NewTicker(100 * time.Millisecond)
	defer activity.Stop()
	reports := clock.NewTicker(reportEvery)
	defer reports.Stop()
	e.report.start = e.cfg.clock.Now()
	e.sched.Tick(e.cfg.clock.Now())
	e.apply(timer)
	for {
		select {
		case <-e.ctx.Done():
			e.logReport()
			e.shutdown()
			return
		case ev := <-e.events:
			// Act on each event before the next: an event may fail a
			// block that the next one wants again.
			e.handle(ev)
		case <-timer.Chan():
			e.sched.Tick(e.cfg.clock.Now())
		case <-reports.Chan():
			e.logReport()
			continue
		case <-activity.Chan():
			// Progress is DATA arriving; keepalives do not count. The
			// scheduler hears it on the engine's clock, at this tick.
			now := clock.Now()
			for _, c := range e.conns {
				if len(c.reqs) > 0 {
					if ld := c.pc.LastData(); ld.After(c.lastData) {
						c.lastData = ld
						e.sched.Activity(c.id, now)
					}
					e.rate(c)
				}
			}
			continue // the new rates count from the next step
		}
		e.apply(timer)
	}
}

func (e *Engine) shutdown() {
	for _, c := range e.conns {
		c.pc.Close()
		c.flow.Close()
	}
	for _, w := range e.wants {
		for _, r := range w.readers {
			r.fail(ErrClosed)
		}
	}
	// Drain events so that blocks in them go back to their pools.
	for {
		select {
		case ev := <-e.events:
			if d, ok := ev.(evDone); ok && d.b != nil {
				d.b.release()
			}
		default:
			return
		}
	}
}

// Errors of the engine. ErrNoUpstream and ErrUnreachable fail a block (and
// the reads that wait for it) that no upstream can serve, or when none is
// reachable; errors.Is finds them in the errors that readers return.
var (
	ErrClosed      = errors.New("transfer: engine closed")
	ErrNoUpstream  = sched.ErrNoUpstream
	ErrUnreachable = sched.ErrUnreachable
)

// MaxUpstreams bounds the upstream list.
const MaxUpstreams = sched.MaxUpstreams

func (e *Engine) handle(ev any) {
	now := e.cfg.clock.Now()
	switch ev := ev.(type) {
	case evWant:
		key := sched.ChunkKey{Object: ev.obj.id, Index: ev.idx}
		w := e.wants[key]
		if w == nil {
			w = &want{obj: ev.obj, idx: ev.idx}
			e.wants[key] = w
		}
		w.readers = append(w.readers, ev.r)
		e.sched.Want(now, key, ev.obj.meta.BlockLen(int(ev.idx)))
	case evUnwant:
		key := sched.ChunkKey{Object: ev.obj.id, Index: ev.idx}
		w := e.wants[key]
		if w == nil {
			return
		}
		n := len(w.readers)
		w.readers = deleteReader(w.readers, ev.r)
		if len(w.readers) == n {
			return // already delivered to this reader
		}
		if len(w.readers) == 0 {
			delete(e.wants, key)
		}
		e.sched.Unwant(now, key)
	case evDialed:
		e.onDialed(now, ev)
	case evDone:
		e.onDone(now, ev)
	case evDead:
		if c := e.conns[ev.id]; c != nil {
			if !c.pc.GoingAway() { // a server that said GOAWAY closes when done
				e.ups[c.up].lost.Add(1)
			}
			e.log.Debug("upstream connection lost", "upstream", c.addr, "err", c.pc.Err())
			e.removeConn(c)
			e.readyDirty = true
			e.sched.Lost(now, ev.id)
		}
	case evOpened:
		if ev.ok {
			return
		}
		c := e.conns[ev.id]
		if c == nil {
			return
		}
		// Forget the handle, so that the object is opened again there
		// when the upstream may serve it again.
		if h := c.handles[ev.obj]; h != nil && h == ev.h {
			delete(c.handles, ev.obj)
			if ev.err == nil {
				c.pc.CloseHandle(h.h) // it opened, with other content
			}
		}
		if ev.err == nil {
			e.log.Warn("upstream describes an object differently from the others; not using it for that object",
				"upstream", c.addr, "object", ev.obj)
			e.sched.ObjectMismatch(now, ev.obj, c.up)
			return
		}
		var pe *peer.Error
		if !errors.As(ev.err, &pe) {
			return // the connection failed; evDead follows
		}
		var d time.Duration
		switch {
		case pe.Code.Refusal():
			d = objectRefusal
		case pe.Code.Transient():
			d = objectUnavailable
		default:
			return // cancelled, busy, going away: nothing to say about the object
		}
		e.ups[c.up].refused.Add(1)
		e.log.Debug("upstream cannot open an object; not asking it for a while",
			"upstream", c.addr, "object", ev.obj, "err", ev.err, "for", d)
		e.sched.ObjectRefused(now, ev.obj, c.up, d)
	case evHurry:
		e.sched.Hurry(now)
	case evForget:
		e.sched.ForgetObject(ev.obj)
		for _, c := range e.conns {
			if h := c.handles[ev.obj]; h != nil {
				c.pc.CloseHandle(h.h)
				delete(c.handles, ev.obj)
			}
		}
	}
}

func deleteReader(rs []*Reader, r *Reader) []*Reader {
	for i, x := range rs {
		if x == r {
			return append(rs[:i], rs[i+1:]...)
		}
	}
	return rs
}

func (e *Engine) onDialed(now time.Time, ev evDialed) {
	up := e.dialing[ev.id]
	delete(e.dialing, ev.id)
	e.readyDirty = true
	if ev.err != nil {
		e.stats.dialFails.Add(1)
		e.ups[up].dialFails.Add(1)
		e.sched.Dialed(now, ev.id, false)
		if errors.Is(ev.err, peer.ErrNotPeer) || errors.Is(ev.err, peer.ErrAuth) {
			// The address or the key is wrong: fail what waits for this
			// upstream now rather than after the redials.
			e.sched.Unusable(now, up)
		}
		return
	}
	e.mu.Lock()
	delete(e.dialErrs, e.cfg.Upstreams[up])
	e.mu.Unlock()
	c := &engConn{id: ev.id, up: up, addr: e.cfg.Upstreams[up], pc: ev.pc,
		handles: make(map[sched.ObjectID]*connHandle), reqs: make(map[*engReq]struct{}), current: make(map[sched.ChunkKey]*engReq),
		describes: make(chan struct{}, e.cfg.describes)}
	c.flow = e.cm.Open(c.addr)
	if err := c.flow.Watch(ev.pc.NetConn(), congestion.Receive); err != nil {
		c.fed = true
	}
	e.conns[ev.id] = c
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case <-c.pc.Done():
			e.post(evDead{id: c.id})
		case <-e.ctx.Done():
		}
	}()
	e.sched.Dialed(now, ev.id, true)
}

func (e *Engine) onDone(now time.Time, ev evDone) {
	key := ev.r.key
	c := e.conns[ev.id]
	stale := ev.r.cancelled
	if c != nil {
		delete(c.reqs, ev.r)
		c.flow.SetBusy(len(c.reqs) > 0)
		ev.r.h.inflight--
		if c.current[key] == ev.r {
			delete(c.current, key)
		}
		if c.fed && ev.err == nil {
			c.delivered += uint64(len(ev.b.buf))
			c.flow.Observe(congestion.Sample{Delivered: c.delivered})
		}
		e.rate(c)
	}
	if stale {
		// A request the scheduler cancelled: its slot is free now. Its
		// bytes are still good if they came whole and verified.
		e.sched.CancelEnded(now, ev.id)
	}
	var pe *peer.Error
	switch {
	case ev.err == nil && !ev.corrupt && !ev.mismatch:
		if w := e.wants[key]; w != nil {
			delete(e.wants, key)
			ev.b.retain(int32(len(w.readers)))
			for _, r := range w.readers {
				r.deliver(int(key.Index), ev.b)
			}
			if e.cfg.Store != nil {
				ev.b.retain(1)
				select {
				case e.stored <- storeJob{d: ev.obj.meta.Digest, idx: key.Index, b: ev.b}:
				default:
					ev.b.release()
					e.stats.storeDrops.Add(1)
				}
			}
			e.stats.blocks.Add(1)
			e.stats.bytes.Add(int64(len(ev.b.buf)))
			if c != nil {
				e.ups[c.up].bytes.Add(int64(len(ev.b.buf)))
				e.report.add(c.up, int64(len(ev.b.buf)))
			}
			if stale {
				// The block came whole on a request the scheduler no
				// longer counts: forget it and cancel its live copies.
				e.sched.Drop(now, key)
			} else {
				e.sched.Completed(now, ev.id, key)
			}
		} else {
			e.report.wasted += int64(len(ev.b.buf)) // a copy that lost, or nobody waits
			e.stats.wasted.Add(int64(len(ev.b.buf)))
			if !stale {
				e.sched.Completed(now, ev.id, key)
			}
		}
		ev.b.release()
	case stale && ev.corrupt:
		ev.b.release()
		e.stats.corrupt.Add(1)
		if c != nil {
			e.ups[c.up].corrupt.Add(1)
			e.log.Error("upstream sent a corrupt block; banning it", "upstream", c.addr, "object", ev.obj.meta.String(), "block", key.Index)
		}
		e.sched.BanUpstreamOf(now, ev.id)
	case stale:
		ev.b.release() // a cancelled copy that failed: nothing to report
	case ev.corrupt:
		ev.b.release()
		e.stats.corrupt.Add(1)
		if c != nil {
			e.ups[c.up].corrupt.Add(1)
			e.log.Error("upstream sent a corrupt block; banning it and fetching the block elsewhere",
				"upstream", c.addr, "object", ev.obj.meta.String(), "block", key.Index)
		}
		e.sched.Failed(now, ev.id, key, sched.CauseCorrupt)
	case ev.mismatch:
		ev.b.release()
		if c != nil {
			e.sched.ObjectMismatch(now, key.Object, c.up)
		}
		e.sched.Failed(now, ev.id, key, sched.CauseRefused)
	case errors.As(ev.err, &pe):
		ev.b.release()
		cause := sched.CauseRefused
		if pe.Code == wire.CodeCancelled {
			cause = sched.CauseCancelled
		} else if c != nil {
			e.ups[c.up].refused.Add(1)
			e.log.Debug("upstream refused a block", "upstream", c.addr, "object", ev.obj.meta.Path, "block", key.Index, "err", ev.err)
		}
		e.sched.Failed(now, ev.id, key, cause)
	default:
		// The connection failed; evDead requeues its requests.
		ev.b.release()
	}
}

// requestFailed handles a request that could not be sent on c: on a
// connection that ended, the connection goes; on one that is only full
// (peer.ErrTooMany), the block goes back to the queue.
func (e *Engine) requestFailed(now time.Time, c *engConn, rq sched.Request, err error) {
	e.sched.Failed(now, rq.Conn, rq.Chunk, sched.CauseCancelled)
	switch {
	case c.pc.Err() != nil:
		e.dropConn(now, c)
	case c.pc.GoingAway():
		e.sched.Drain(now, c.id)
	case errors.Is(err, peer.ErrTooMany):
	default:
		e.log.Warn("cannot send a request; closing the connection", "upstream", c.addr, "err", err)
		e.dropConn(now, c)
	}
}

// removeConn forgets c: its flow closes, and its retransmissions, read a
// last time, stay in its upstream's count. Only the loop calls it.
func (e *Engine) removeConn(c *engConn) {
	if ti, err := tcpinfo.Get(c.pc.NetConn()); err == nil {
		c.retrans.Store(max(c.retrans.Load(), ti.TotalRetrans))
	}
	e.ups[c.up].retransGone.Add(int64(c.retrans.Load()))
	c.flow.Close()
	delete(e.conns, c.id)
}

// closeConn closes a connection without holding up the loop (Close waits
// for the connection's read loop, which may be posting to the loop).
func (e *Engine) closeConn(pc *peer.Conn) {
	e.wg.Go(func() { pc.Close() })
}

// dropConn forgets a connection that can take no more requests (it failed
// or is going away) and closes it; its requests go back to the queue.
func (e *Engine) dropConn(now time.Time, c *engConn) {
	e.ups[c.up].lost.Add(1)
	e.removeConn(c)
	e.readyDirty = true
	e.closeConn(c.pc)
	e.sched.Lost(now, c.id)
}

// apply carries out the scheduler's actions, and those that carrying them
// out gives rise to, until there are none.
func (e *Engine) apply(timer clockwork.Timer) {
	for range 16 {
		if !e.applyOnce(timer) {
			return
		}
	}
}

// applyOnce carries out one batch of actions and reports whether there was
// any.
func (e *Engine) applyOnce(timer clockwork.Timer) bool {
	now := e.cfg.clock.Now()
	r := e.sched.Ready(now)
	changed := false
	for _, id := range r.Stalled {
		if c := e.conns[id]; c != nil {
			e.ups[c.up].stalls.Add(1)
			e.log.Info("upstream connection stalled; closing it", "upstream", c.addr, "for", e.sched.Config().StallTimeout)
		}
	}
	for _, id := range r.Closes {
		if c := e.conns[id]; c != nil {
			e.removeConn(c)
			e.closeConn(c.pc)
			changed = true
		}
	}
	for _, d := range r.Dials {
		e.dial(d)
	}
	for _, rq := range r.Cancels {
		c := e.conns[rq.Conn]
		if c == nil {
			continue // gone: the scheduler forgets it with the connection
		}
		if er := c.current[rq.Chunk]; er != nil {
			delete(c.current, rq.Chunk)
			er.cancelled = true
			c.pc.Cancel(er.id)
		} else {
			e.sched.CancelEnded(now, rq.Conn)
		}
	}
	for _, rq := range r.Requests {
		e.issue(now, rq)
	}
	for _, f := range r.Failures {
		if w := e.wants[f.Chunk]; w != nil {
			delete(e.wants, f.Chunk)
			for _, rd := range w.readers {
				rd.fail(fmt.Errorf("%w (%s block %d)", f.Err, w.obj.meta.Path, w.idx))
			}
		}
	}
	for _, rs := range r.Resized {
		e.ups[rs.Upstream].sizing.Store(&sizing{target: rs.To, reason: rs.Reason.String(), detail: rs.Detail})
		// What the next transfer to this host starts from: the count
		// that was measured to pay (a probe's target is not yet).
		switch rs.Reason {
		case congestion.ReasonGrowing, congestion.ReasonProbing:
			e.cm.SetConns(congestion.Host(e.cfg.Upstreams[rs.Upstream]), rs.From)
		case congestion.ReasonPlateau, congestion.ReasonMax:
			e.cm.SetConns(congestion.Host(e.cfg.Upstreams[rs.Upstream]), rs.To)
		}
		e.log.Info("connections to an upstream resized", "upstream", e.cfg.Upstreams[rs.Upstream],
			"from", rs.From, "to", rs.To, "reason", rs.Reason.String(), "detail", rs.Detail)
	}
	for _, u := range r.Banned {
		e.ups[u].bans.Add(1)
		e.log.Warn("upstream banned after sending a corrupt block", "upstream", e.cfg.Upstreams[u], "for", e.sched.Config().BanFor)
	}
	if !r.Deadline.IsZero() {
		timer.Reset(max(e.cfg.clock.Until(r.Deadline), time.Millisecond))
	}
	e.stats.copies.Store(int64(e.sched.Duplicates()))
	if changed || len(r.Dials) > 0 || e.readyDirty {
		e.readyDirty = false
		e.publish()
	}
	return !r.Empty()
}

// publish refreshes the snapshot of ready connections that Open uses.
func (e *Engine) publish() {
	var ready []*engConn
	for _, c := range e.conns {
		ready = append(ready, c)
	}
	usable := e.sched.Usable(e.cfg.clock.Now())
	e.readyConns.Store(int64(len(ready)))
	e.mu.Lock()
	e.ready = ready
	e.usable = usable
	close(e.readyGen)
	e.readyGen = make(chan struct{})
	e.mu.Unlock()
	if !e.connected && len(ready) >= e.cfg.Conns {
		e.connected = true
		e.log.Info("upstreams connected", "conns", len(ready), "upstreams", len(e.cfg.Upstreams))
	}
}

func (e *Engine) dial(d sched.Dial) {
	e.dialing[d.Conn] = d.Upstream
	e.stats.dials.Add(1)
	e.ups[d.Upstream].dials.Add(1)
	addr := e.cfg.Upstreams[d.Upstream]
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, e.cfg.DialTimeout)
		defer cancel()
		pc, err := e.cfg.dial(ctx, addr, e.cfg.Peer)
		if err != nil {
			e.logDialError(addr, err)
		}
		select {
		case e.events <- evDialed{id: d.Conn, pc: pc, err: err}:
		case <-e.ctx.Done():
			if pc != nil {
				pc.Close()
			}
		}
	}()
}

// dialError is the last failure to reach an upstream, and when the run of
// failures it belongs to was last logged at Warn.
type dialError struct {
	err    error
	logged time.Time
}

// logDialError remembers err as the upstream's last failure and logs the
// first failure of a run of failures to an upstream at Warn, the rest at
// Debug.
func (e *Engine) logDialError(addr string, err error) {
	e.mu.Lock()
	if e.dialErrs == nil {
		e.dialErrs = make(map[string]dialError)
	}
	last, seen := e.dialErrs[addr]
	loud := !seen || e.cfg.clock.Since(last.logged) > time.Minute
	if loud {
		last.logged = e.cfg.clock.Now()
	}
	last.err = err
	e.dialErrs[addr] = last
	e.mu.Unlock()
	if loud {
		e.log.Warn("cannot connect to upstream", "upstream", addr, "err", err)
	} else {
		e.log.Debug("cannot connect to upstream", "upstream", addr, "err", err)
	}
}

// issue sends the request for a block on a connection, opening the object
// there first if needed.
func (e *Engine) issue(now time.Time, rq sched.Request) {
	c := e.conns[rq.Conn]
	w := e.wants[rq.Chunk]
	switch {
	case c == nil:
		e.sched.Failed(now, rq.Conn, rq.Chunk, sched.CauseCancelled)
		return
	case w == nil:
		// Nobody waits for it (its readers failed or left in this same
		// batch): the scheduler must forget it, not requeue it.
		e.sched.Drop(now, rq.Chunk)
		return
	case c.pc.Err() != nil:
		e.sched.Failed(now, rq.Conn, rq.Chunk, sched.CauseCancelled)
		e.dropConn(now, c)
		return
	case c.pc.GoingAway():
		// The server finishes what it has: let it, and send the rest
		// elsewhere.
		e.sched.Failed(now, rq.Conn, rq.Chunk, sched.CauseCancelled)
		e.sched.Drain(now, rq.Conn)
		return
	}
	obj := w.obj
	h, err := e.handleFor(now, c, obj)
	if err != nil {
		e.requestFailed(now, c, rq, err)
		return
	}
	idx := int(rq.Chunk.Index)
	b := e.pools.get(obj.meta.BlockSize, obj.meta.BlockLen(idx))
	er := &engReq{key: rq.Chunk, h: h}
	id := c.id
	req, err := c.pc.Read(h.h, uint64(obj.meta.BlockOffset(idx)), b.buf, func(err error) {
		ev := evDone{id: id, r: er, obj: obj, b: b, err: err}
		if err == nil {
			switch {
			case h.state.Load() == handleBad:
				ev.mismatch = true
			case obj.hashes.Verify(idx, b.buf) != nil:
				ev.corrupt = true
			}
		}
		e.post(ev)
	})
	if err != nil {
		b.release()
		e.requestFailed(now, c, rq, err)
		return
	}
	er.id = req
	e.ups[c.up].requests.Add(1)
	c.reqs[er] = struct{}{}
	c.flow.SetBusy(true)
	c.current[rq.Chunk] = er
	h.inflight++
	h.lastUse = now
}

// handleFor returns the connection's handle for obj, sending OPEN if it has
// none yet.
func (e *Engine) handleFor(now time.Time, c *engConn, obj *objState) (*connHandle, error) {
	if h := c.handles[obj.id]; h != nil {
		return h, nil
	}
	if len(c.handles) >= maxHandles {
		var oldest sched.ObjectID
		var old *connHandle
		for id, h := range c.handles {
			if h.inflight == 0 && (old == nil || h.lastUse.Before(old.lastUse)) {
				oldest, old = id, h
			}
		}
		if old != nil {
			c.pc.CloseHandle(old.h)
			delete(c.handles, oldest)
		}
	}
	h := &connHandle{lastUse: now}
	id, objID, want := c.id, obj.id, obj.meta
	hd, err := c.pc.OpenAsync(obj.path(), e.blockVia(obj), func(o wire.Object, err error) {
		ok := err == nil && o.Size == uint64(want.Size) && o.BlockSize == uint32(want.BlockSize) && o.Digest == want.Digest
		if ok {
			h.state.Store(handleOK)
		} else {
			h.state.Store(handleBad)
		}
		e.post(evOpened{id: id, obj: objID, h: h, ok: ok, err: err})
	})
	if err != nil {
		return nil, err
	}
	h.h = hd
	c.handles[obj.id] = h
	return h, nil
}

func (e *Engine) storeWriter() {
	for {
		select {
		case <-e.ctx.Done():
			for {
				select {
				case j := <-e.stored:
					j.b.release()
				default:
					return
				}
			}
		case j := <-e.stored:
			if err := e.cfg.Store.Put(j.d, j.idx, j.b.buf); err != nil {
				e.log.Debug("block not cached", "err", err)
			}
			j.b.release()
		}
	}
}

// reportEvery is how often an engine that moved data logs what it moved.
const reportEvery = 5 * time.Second

// report counts what the engine fetched since the last stats log.
type report struct {
	start  time.Time
	bytes  map[sched.UpstreamID]int64
	wasted int64
	copies int // scheduler duplicates at start
}

func (r *report) add(u sched.UpstreamID, n int64) {
	if r.bytes == nil {
		r.bytes = make(map[sched.UpstreamID]int64)
	}
	r.bytes[u] += n
}

// logReport logs, at Info, the throughput per upstream, the copies made
// and the bytes fetched for nothing since the last report, if anything was
// fetched; and at Debug each connection's rate and pipeline depth.
func (e *Engine) logReport() {
	now := e.cfg.clock.Now()
	r := &e.report
	st := e.sched.Stats()
	if len(r.bytes) > 0 {
		secs := now.Sub(r.start).Seconds()
		var total int64
		attrs := []any{"seconds", fmt.Sprintf("%.1f", secs)}
		for u, n := range r.bytes {
			total += n
			attrs = append(attrs, "mbps_"+e.cfg.Upstreams[u], fmt.Sprintf("%.1f", float64(n)*8/secs/1e6))
		}
		attrs = append(attrs, "mbps", fmt.Sprintf("%.1f", float64(total)*8/secs/1e6),
			"copies", st.Duplicates-r.copies, "wasted_bytes", r.wasted, "conns", st.ReadyConns)
		e.log.Info("transfer stats", attrs...)
		if e.log.Enabled(context.Background(), slog.LevelDebug) {
			for _, c := range e.conns {
				e.log.Debug("connection", "upstream", c.addr, "conn", c.id,
					"mbps", fmt.Sprintf("%.1f", st.Rates[c.id]*8/1e6), "depth", st.Depths[c.id], "in_flight", len(c.reqs))
			}
		}
	}
	*r = report{start: now, copies: st.Duplicates}
}
