package sched

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
)

// ConnID names a connection in the Scheduler. The Scheduler assigns them in
// Dial actions.
type ConnID uint32

// UpstreamID is an upstream's index in the engine's upstream list.
type UpstreamID int

// ObjectID names an object in the Scheduler; the driver assigns them.
type ObjectID uint64

// ChunkKey names one block of one object: the unit the Scheduler assigns.
type ChunkKey struct {
	Object ObjectID
	Index  uint32
}

func (k ChunkKey) String() string { return fmt.Sprintf("%d/%d", k.Object, k.Index) }

// Cause says why a request for a block failed.
type Cause uint8

const (
	// CauseRefused: the upstream answered with an error (it does not have
	// the object, cannot reach its own upstream, is shutting down).
	CauseRefused Cause = iota + 1
	// CauseCorrupt: the block's bytes did not match its hash, or the
	// upstream described the object differently from the others.
	CauseCorrupt
	// CauseCancelled: the request ended because it was cancelled.
	CauseCancelled
)

// Errors a Failure carries.
var (
	ErrNoUpstream  = errors.New("transfer: no upstream can serve the block")
	ErrUnreachable = errors.New("transfer: no upstream is reachable")
)

// MaxUpstreams bounds the upstream list.
const MaxUpstreams = 64

// Config configures a Scheduler. Zero values mean the defaults
// given on each field.
type Config struct {
	Upstreams int // number of upstreams, 1..MaxUpstreams
	Conns     int // connections in all, spread over the reachable upstreams; default 8

	// MaxConns turns on sizing: each reachable upstream starts with its
	// share of Conns and a congestion.Sizer grows its count while more
	// connections carry proportionally more (a loss-limited path), up to
	// MaxConns per upstream. Zero, or no more than the share: the count
	// stays at the share.
	MaxConns int
	// Sizing tunes the sizers (Min, Max and Initial are the scheduler's).
	Sizing congestion.SizerConfig
	// Initial is, per upstream, the count its sizer starts at: what an
	// earlier sizing of the same destination settled on. Zero or missing:
	// its share of Conns.
	Initial []int

	// Pipeline bounds the requests in flight per connection; default 64.
	// Within it, each connection keeps about QueueTime of requests at its
	// measured rate (at least two, and MinPipeline until it has a rate):
	// enough to cover a round trip, so that one connection can fill a long
	// path, and no more, so that a slow connection does not hold blocks
	// the reader needs soon.
	Pipeline    int
	MinPipeline int           // default 4
	QueueTime   time.Duration // default 500 ms
	MaxCopies   int           // copies of one block in flight at once; default 2 (1 disables duplicate requests)
	// Copies spend a budget that blocks delivered refill: CopyShare of
	// their bytes (default 0.1), up to CopyBurst bytes (default 4 MiB,
	// which the budget starts with). Tail copies (an idle connection that
	// would finish a block sooner than the one that has it) are made only
	// while the budget lasts; copies of late blocks, which a reader waits
	// for, always. On a lossy path, where a reader's window is often held
	// up behind one slow block and the idle connections all made tail
	// copies, copies took two fifths of a link's bytes, the losing copy
	// mostly arriving whole (the kernel had it queued already).
	CopyShare float64
	CopyBurst int64

	StallTimeout   time.Duration // a connection with requests in flight and no data for this long is closed; default 20 s
	DialBackoff    time.Duration // first redial delay after a failure; default 250 ms
	MaxDialBackoff time.Duration // redial delays double up to this; default 15 s
	DownAfter      int           // consecutive failures after which an upstream loses its share of connections; default 3
	BanFor         time.Duration // an upstream that sent a bad block gets nothing for this long; default 5 min
	MaxRefusals    int           // refusals of one block, summed over upstreams, before the block fails; default 3 per upstream
}

func (c *Config) setDefaults() error {
	if c.Upstreams < 1 || c.Upstreams > MaxUpstreams {
		return fmt.Errorf("sched: %d upstreams, want 1..%d", c.Upstreams, MaxUpstreams)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Conns, 8)
	def(&c.Pipeline, 64)
	def(&c.MinPipeline, 4)
	c.MinPipeline = min(c.MinPipeline, c.Pipeline)
	defDur(&c.QueueTime, 500*time.Millisecond)
	def(&c.MaxCopies, 2)
	if c.CopyShare <= 0 {
		c.CopyShare = 0.1
	}
	if c.CopyBurst <= 0 {
		c.CopyBurst = 4 << 20
	}
	def(&c.DownAfter, 3)
	def(&c.MaxRefusals, 3*c.Upstreams)
	defDur(&c.StallTimeout, 20*time.Second)
	defDur(&c.DialBackoff, 250*time.Millisecond)
	defDur(&c.MaxDialBackoff, 15*time.Second)
	defDur(&c.BanFor, 5*time.Minute)
	return nil
}

// Dial asks the driver to open connection Conn to Upstream and to report
// the outcome with Scheduler.Dialed.
type Dial struct {
	Conn     ConnID
	Upstream UpstreamID
}

// Request asks the driver to request (or, in Ready.Cancels, to cancel) a
// block on a connection. Every Request the driver sends ends with exactly
// one Completed or Failed call, or with Lost for its connection.
type Request struct {
	Conn  ConnID
	Chunk ChunkKey
}

// Failure reports a block that cannot be fetched; its waiters should fail.
// The Scheduler has forgotten the block.
type Failure struct {
	Chunk ChunkKey
	Err   error
}

// Ready is the batch of actions the driver must carry out, in this order:
// close, dial, cancel, request; then fail the blocks in Failures.
type Ready struct {
	Closes   []ConnID
	Dials    []Dial
	Cancels  []Request
	Requests []Request
	Failures []Failure
	Banned   []UpstreamID // upstreams banned by this batch, for the log
	Stalled  []ConnID     // connections among Closes closed because they stalled, for the metrics
	Resized  []Resize     // upstreams whose connection count the sizing changed, for the log
	// Deadline is when Tick must be called next at the latest; zero if
	// nothing is timed.
	Deadline time.Time
}

// Empty reports whether r holds no action.
func (r *Ready) Empty() bool {
	return len(r.Closes)+len(r.Dials)+len(r.Cancels)+len(r.Requests)+len(r.Failures) == 0
}

// Resize reports that sizing changed an upstream's connection count.
type Resize struct {
	Upstream UpstreamID
	From, To int
	Reason   congestion.Reason
	Detail   string
}

// UpSet is a set of upstreams.
type UpSet uint64

func (s UpSet) Has(u UpstreamID) bool { return s&(1<<uint(u)) != 0 }
func (s *UpSet) Add(u UpstreamID)     { *s |= 1 << uint(u) }

type upstream struct {
	failures    int       // consecutive failures; reset by a completed request
	failedAt    time.Time // the last failure counted
	retryAt     time.Time // no dial before this
	bannedUntil time.Time
	unusable    bool      // said it does not speak the protocol or hold the key; see Unusable
	hurriedAt   time.Time // the last Hurry that brought retryAt forward

	// Sizing (Config.MaxConns): the upstream's sizer, made when it first
	// gets its share of connections; how long it has been saturated (see
	// markSaturation): satTotal, and since satSince if it is now.
	sizer    *congestion.Sizer
	satTotal time.Duration
	satSince time.Time
}

// conn is a connection's state. Invariants: inflight holds at most
// cfg.Pipeline entries, each also listed in its chunk's copies; a conn that
// is not ready has none.
type conn struct {
	id       ConnID
	up       UpstreamID
	dialedAt time.Time // when the Dial action was issued
	ready    bool      // dialed and authenticated
	drain    bool      // takes no new requests; closed when its last one ends
	inflight []*chunk
	// cancelling counts requests cancelled on this connection that have
	// not ended yet: they still hold a buffer and the connection's
	// bandwidth, so they take pipeline slots until CancelEnded.
	cancelling int
	// rate is the connection's service rate in bytes per second: what it
	// delivers while it has requests outstanding, as the congestion
	// manager estimates it (SetRate); 0 until known.
	rate      float64
	delivered uint64        // bytes it delivered in all (SetRate)
	loss      float64       // the fraction of segments its path loses (SetRate)
	avgSize   float64       // moving average of the sizes of the blocks it served
	rtt       time.Duration // the connection's round trip, from the kernel; 0 if unknown
	lastDone  time.Time     // last completion, start of the next service period
	lastData  time.Time     // last time data arrived (Activity) or a request was sent to an idle conn
	served    int           // completed requests
}

type chunkCopy struct {
	conn  ConnID
	start time.Time
}

// chunk is a wanted block. Invariants: it is in the queue iff queued; a
// queued chunk has no copies; an unqueued chunk has at least one copy.
type chunk struct {
	key      ChunkKey
	size     int64
	seq      uint64 // position in want order; lower is more urgent
	waiters  int
	queued   bool
	copies   []chunkCopy
	refused  UpSet // upstreams that refused this chunk
	refusals int
}

// Scheduler decides which connection fetches which block. It is not safe
// for concurrent use; the driver calls it from one goroutine.
type Scheduler struct {
	cfg      Config
	ups      []upstream
	conns    map[ConnID]*conn
	nextConn ConnID
	chunks   map[ChunkKey]*chunk
	queue    []*chunk // sorted by seq
	seq      uint64
	objBad   map[ObjectID]UpSet // upstreams that described an object wrongly
	// objRefused holds, per object, upstreams that could not open it and
	// until when they get no requests for it.
	objRefused map[ObjectID]map[UpstreamID]time.Time
	refusedNow map[ObjectID]UpSet // objRefused's live entries, per step
	ready      Ready

	// poolDirty says that connections or upstream states changed since the
	// pool was last balanced.
	poolDirty bool
	// Per-step masks: upstreams banned now, and upstreams that are
	// reachable or have a connection being dialed.
	bannedNow, liveNow UpSet
	target             []int // connections each upstream gets, from balance
	scratch            []*conn
	duplicates         int     // copies sent, for stats
	copyTokens         float64 // bytes of copies the budget allows now (see Config.CopyShare)
	satScratch         []int   // markSaturation's counts: ready, then stalled connections per upstream
}

// New returns a Scheduler with no connections. Call Tick (or any
// event) to get the first Dial actions.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Scheduler{
		copyTokens: float64(cfg.CopyBurst),
		satScratch: make([]int, 2*cfg.Upstreams),
		poolDirty:  true,
		cfg:        cfg,
		ups:        make([]upstream, cfg.Upstreams),
		conns:      make(map[ConnID]*conn),
		chunks:     make(map[ChunkKey]*chunk),
		objBad:     make(map[ObjectID]UpSet),

		objRefused: make(map[ObjectID]map[UpstreamID]time.Time),
		refusedNow: make(map[ObjectID]UpSet),
	}, nil
}

// Config returns the configuration, with its defaults filled in.
func (s *Scheduler) Config() Config { return s.cfg }

// Want registers one more waiter for block k of size bytes.
func (s *Scheduler) Want(now time.Time, k ChunkKey, size int64) {
	if c := s.chunks[k]; c != nil {
		c.waiters++
		return
	}
	s.seq++
	c := &chunk{key: k, size: size, seq: s.seq, waiters: 1}
	s.chunks[k] = c
	s.enqueue(c)
	s.step(now)
}

// Unwant drops one waiter of block k. A block nobody waits for is dropped
// from the queue or cancelled.
func (s *Scheduler) Unwant(now time.Time, k ChunkKey) {
	c := s.chunks[k]
	if c == nil {
		return
	}
	if c.waiters--; c.waiters > 0 {
		return
	}
	s.drop(c)
	s.step(now)
}

// Drop forgets block k whatever its waiters, cancelling its copies: the
// driver has nobody to hand it to.
func (s *Scheduler) Drop(now time.Time, k ChunkKey) {
	if c := s.chunks[k]; c != nil {
		s.drop(c)
		s.step(now)
	}
}

// Completed reports that conn finished block k and that it verified. The
// block is forgotten; the driver hands it to its waiters.
func (s *Scheduler) Completed(now time.Time, id ConnID, k ChunkKey) {
	cn := s.conns[id]
	c := s.chunks[k]
	var start time.Time
	if cn != nil {
		if i := cn.indexOf(k); i >= 0 {
			start = cn.removeAt(i)
		}
	}
	if c != nil {
		c.removeCopy(id)
		s.drop(c) // cancels the other copies
	}
	if cn != nil {
		if !start.IsZero() && c != nil {
			cn.observe(c.size)
			s.copyTokens = min(float64(s.cfg.CopyBurst), s.copyTokens+s.cfg.CopyShare*float64(c.size))
		}
		cn.lastDone = now
		cn.lastData = now
		cn.served++
		if s.ups[cn.up].failures != 0 {
			s.ups[cn.up].failures = 0
			s.poolDirty = true
		}
		s.maybeFinishDrain(cn)
	}
	s.step(now)
}

// Failed reports that conn's request for block k ended without the block.
func (s *Scheduler) Failed(now time.Time, id ConnID, k ChunkKey, cause Cause) {
	cn := s.conns[id]
	if cn != nil {
		if i := cn.indexOf(k); i >= 0 {
			cn.removeAt(i)
		}
	}
	c := s.chunks[k]
	if c != nil {
		c.removeCopy(id)
	}
	if cn != nil {
		cn.lastData = now
		switch cause {
		case CauseCorrupt:
			s.ban(now, cn.up)
		case CauseRefused:
			if c != nil {
				c.refused.Add(cn.up)
				c.refusals++
			}
		}
		s.maybeFinishDrain(cn)
	}
	if c != nil && len(c.copies) == 0 && !c.queued {
		s.enqueue(c)
	}
	s.step(now)
}

// ObjectMismatch reports that upstream u described object obj differently
// from the upstream it was opened at; u gets no more requests for it.
func (s *Scheduler) ObjectMismatch(now time.Time, obj ObjectID, u UpstreamID) {
	set := s.objBad[obj]
	set.Add(u)
	s.objBad[obj] = set
	s.step(now)
}

// ObjectRefused reports that upstream u could not open object obj (it does
// not have it, or cannot reach its own upstreams now); u gets no requests
// for obj for the duration d.
func (s *Scheduler) ObjectRefused(now time.Time, obj ObjectID, u UpstreamID, d time.Duration) {
	m := s.objRefused[obj]
	if m == nil {
		m = make(map[UpstreamID]time.Time)
		s.objRefused[obj] = m
	}
	m[u] = now.Add(d)
	s.step(now)
}

// ForgetObject drops what the Scheduler remembers about obj once no block
// of it is wanted.
func (s *Scheduler) ForgetObject(obj ObjectID) {
	delete(s.objBad, obj)
	delete(s.objRefused, obj)
	delete(s.refusedNow, obj)
}

// Dialed reports the outcome of a Dial action.
func (s *Scheduler) Dialed(now time.Time, id ConnID, ok bool) {
	cn := s.conns[id]
	if cn == nil {
		if ok {
			// Not wanted any more (its upstream was banned while it was
			// dialed): the driver has it now and must close it.
			s.ready.Closes = append(s.ready.Closes, id)
		}
		return
	}
	if cn.ready {
		return
	}
	s.poolDirty = true
	switch {
	case !ok:
		delete(s.conns, id)
		s.failConn(now, cn)
	case cn.drain:
		// Not needed any more.
		delete(s.conns, id)
		s.ready.Closes = append(s.ready.Closes, id)
	default:
		cn.ready = true
		cn.lastData = now
		cn.lastDone = now
		// A successful dial brings a down upstream back with one failure
		// of credit: it loses its share again if this connection dies
		// before it serves anything.
		up := &s.ups[cn.up]
		up.failures = min(up.failures, s.cfg.DownAfter-1)
		up.unusable = false
	}
	s.step(now)
}

// Lost reports that a connection died. Its requests go back to the queue.
func (s *Scheduler) Lost(now time.Time, id ConnID) {
	cn := s.conns[id]
	if cn == nil {
		return
	}
	s.remove(cn)
	s.poolDirty = true
	if cn.served == 0 {
		s.failConn(now, cn)
	}
	s.step(now)
}

// CancelEnded reports that a request the driver cancelled on connection id
// has ended (its terminal frame arrived). Every Cancel action gets one.
func (s *Scheduler) CancelEnded(now time.Time, id ConnID) {
	if cn := s.conns[id]; cn != nil && cn.cancelling > 0 {
		cn.cancelling--
		s.maybeFinishDrain(cn)
		s.step(now)
	}
}

// SetRTT reports a connection's round-trip time (the kernel's smoothed
// RTT), which sizes its pipeline.
func (s *Scheduler) SetRTT(id ConnID, rtt time.Duration) {
	if cn := s.conns[id]; cn != nil && rtt > 0 {
		cn.rtt = rtt
	}
}

// SetRate reports what the congestion manager knows of a connection's
// flow: its rate in bytes per second while it has requests outstanding
// (its service rate; 0 if not known yet), and the bytes it has delivered
// in all (which sizing adds up per upstream). The scheduler keeps no rate
// estimate of its own. It takes effect at the next step.
func (s *Scheduler) SetRate(id ConnID, rate float64, delivered uint64, loss float64) {
	cn := s.conns[id]
	if cn == nil {
		return
	}
	if rate > 0 {
		cn.rate = rate
	}
	cn.delivered = max(cn.delivered, delivered)
	cn.loss = loss
}

// Unusable reports that upstream u answered in a way that retrying soon
// will not change (it does not speak the protocol, or does not hold the
// cluster key): it is down at once, its blocks go elsewhere or fail, and it
// is probed again only after MaxDialBackoff.
func (s *Scheduler) Unusable(now time.Time, u UpstreamID) {
	up := &s.ups[u]
	up.failures = max(up.failures+1, s.cfg.DownAfter)
	up.failedAt = now
	up.retryAt = now.Add(s.cfg.MaxDialBackoff)
	up.unusable = true
	s.poolDirty = true
	s.step(now)
}

// HurryEvery is how often Hurry may bring one upstream's redial forward.
const HurryEvery = time.Second

// Hurry reports that a request found no upstream to serve it: the redial
// of every upstream that failed is brought forward to now, so that a
// client asking while an upstream comes back does not wait out a backoff
// of up to MaxDialBackoff. Demand probes an upstream at most once a
// HurryEvery; upstreams that are banned or Unusable keep their wait.
func (s *Scheduler) Hurry(now time.Time) {
	for u := range s.ups {
		up := &s.ups[u]
		if up.failures == 0 || up.unusable || s.banned(now, UpstreamID(u)) ||
			!up.retryAt.After(now) || now.Before(up.hurriedAt.Add(HurryEvery)) {
			continue
		}
		up.retryAt = now
		up.hurriedAt = now
		s.poolDirty = true
	}
	s.step(now)
}

// Drain stops giving work to a connection that can take no more (its peer
// is going away); it is closed once its requests have ended.
func (s *Scheduler) Drain(now time.Time, id ConnID) {
	if cn := s.conns[id]; cn != nil && !cn.drain {
		cn.drain = true
		s.poolDirty = true
		s.maybeFinishDrain(cn)
		s.step(now)
	}
}

// BanUpstreamOf bans the upstream of connection id, as a corrupt block
// does, for a corrupt block that arrived on a request no longer counted.
func (s *Scheduler) BanUpstreamOf(now time.Time, id ConnID) {
	if cn := s.conns[id]; cn != nil {
		s.ban(now, cn.up)
		s.step(now)
	}
}

// Activity reports that data arrived on a connection at time at.
func (s *Scheduler) Activity(id ConnID, at time.Time) {
	if cn := s.conns[id]; cn != nil && at.After(cn.lastData) {
		cn.lastData = at
	}
}

// Tick lets time pass: stalled connections are closed, redials and
// duplicate requests become due.
func (s *Scheduler) Tick(now time.Time) {
	s.poolDirty = true
	for _, cn := range s.sortedConns() {
		if len(cn.inflight) > 0 && now.Sub(cn.lastData) >= s.cfg.StallTimeout {
			s.ready.Closes = append(s.ready.Closes, cn.id)
			s.ready.Stalled = append(s.ready.Stalled, cn.id)
			s.remove(cn)
			s.failConn(now, cn)
		}
	}
	s.step(now)
}

// Ready returns the actions accumulated since the last call and clears
// them.
func (s *Scheduler) Ready(now time.Time) Ready {
	r := s.ready
	s.ready = Ready{}
	r.Deadline = s.deadline(now)
	return r
}

// Usable is the set of upstreams worth waiting for: those with a ready
// connection, and those being dialed that have not failed since they last
// worked (a node starting, a connection being replaced). If it is empty,
// new work fails at once: an upstream whose last dials failed is not
// waited for while it is dialed again.
func (s *Scheduler) Usable(now time.Time) UpSet {
	var set UpSet
	for _, cn := range s.conns {
		if cn.ready || s.ups[cn.up].failures == 0 {
			set.Add(cn.up)
		}
	}
	return set
}

// Stats is a snapshot for metrics and tests.
type Stats struct {
	Queued, InFlight, Conns, ReadyConns int
	Duplicates                          int                // copies of late blocks sent so far
	Rates                               map[ConnID]float64 // bytes per second
	Depths                              map[ConnID]int     // requests each may have in flight
}

// Duplicates is the number of second copies of blocks sent so far.
func (s *Scheduler) Duplicates() int { return s.duplicates }

// Stats returns a snapshot.
func (s *Scheduler) Stats() Stats {
	st := Stats{Queued: len(s.queue), Conns: len(s.conns), Duplicates: s.duplicates,
		Rates: make(map[ConnID]float64), Depths: make(map[ConnID]int)}
	for _, cn := range s.conns {
		st.InFlight += len(cn.inflight)
		if cn.ready {
			st.ReadyConns++
		}
		st.Rates[cn.id] = cn.rate
		st.Depths[cn.id] = s.depth(cn)
	}
	return st
}

// ---- internals ----

func (s *Scheduler) enqueue(c *chunk) {
	i, _ := slices.BinarySearchFunc(s.queue, c.seq, func(q *chunk, seq uint64) int { return cmp.Compare(q.seq, seq) })
	s.queue = slices.Insert(s.queue, i, c)
	c.queued = true
}

func (s *Scheduler) dequeue(c *chunk) {
	if !c.queued {
		return
	}
	i, found := slices.BinarySearchFunc(s.queue, c.seq, func(q *chunk, seq uint64) int { return cmp.Compare(q.seq, seq) })
	if found {
		s.queue = slices.Delete(s.queue, i, i+1)
	}
	c.queued = false
}

// drop forgets chunk c, cancelling its copies.
func (s *Scheduler) drop(c *chunk) {
	s.dequeue(c)
	for _, cp := range c.copies {
		if cn := s.conns[cp.conn]; cn != nil {
			if i := cn.indexOf(c.key); i >= 0 {
				cn.removeAt(i)
			}
			s.ready.Cancels = append(s.ready.Cancels, Request{Conn: cp.conn, Chunk: c.key})
			cn.cancelling++
			s.maybeFinishDrain(cn)
		}
	}
	c.copies = nil
	delete(s.chunks, c.key)
}

// remove forgets a connection and requeues its requests.
func (s *Scheduler) remove(cn *conn) {
	s.forget(cn)
	for _, c := range cn.inflight {
		c.removeCopy(cn.id)
		if len(c.copies) == 0 && !c.queued {
			s.enqueue(c)
		}
	}
	cn.inflight = nil
}

// forget deletes a ready connection.
func (s *Scheduler) forget(cn *conn) {
	delete(s.conns, cn.id)
}

func (s *Scheduler) maybeFinishDrain(cn *conn) {
	if cn.drain && cn.ready && cn.busy() == 0 {
		s.ready.Closes = append(s.ready.Closes, cn.id)
		delete(s.conns, cn.id)
	}
}

// failConn counts the failure of connection cn (its dial failed, or it died
// or stalled before serving anything) against its upstream. Connections
// dialed together that fail together (an upstream that is down refuses
// them all) are one failure, not one each: only a connection dialed after
// the last counted failure counts.
func (s *Scheduler) failConn(now time.Time, cn *conn) {
	if up := &s.ups[cn.up]; up.failures == 0 || cn.dialedAt.After(up.failedAt) {
		s.failUpstream(now, cn.up)
	}
}

func (s *Scheduler) failUpstream(now time.Time, u UpstreamID) {
	up := &s.ups[u]
	up.failures++
	up.failedAt = now
	d := s.cfg.DialBackoff << min(up.failures-1, 16)
	up.retryAt = now.Add(min(d, s.cfg.MaxDialBackoff))
}

func (s *Scheduler) ban(now time.Time, u UpstreamID) {
	s.poolDirty = true
	s.ups[u].bannedUntil = now.Add(s.cfg.BanFor)
	s.ready.Banned = append(s.ready.Banned, u)
	for _, cn := range s.sortedConns() {
		if cn.up == u {
			s.ready.Closes = append(s.ready.Closes, cn.id)
			s.remove(cn)
		}
	}
}

func (s *Scheduler) banned(now time.Time, u UpstreamID) bool { return now.Before(s.ups[u].bannedUntil) }

// reachable: not banned and not down. A down upstream gets one probe
// connection when its retry time comes.
func (s *Scheduler) reachable(now time.Time, u UpstreamID) bool {
	return !s.banned(now, u) && s.ups[u].failures < s.cfg.DownAfter
}

// eligibleSet is the set of upstreams that may be asked for c, using the
// masks of this step.
func (s *Scheduler) eligibleSet(c *chunk) UpSet {
	all := UpSet(1)<<uint(len(s.ups)) - 1
	if len(s.ups) == MaxUpstreams {
		all = ^UpSet(0)
	}
	return all &^ s.bannedNow &^ s.objBad[c.key.Object] &^ s.refusedNow[c.key.Object] &^ c.refused
}

// sortedConns returns the connections by id in a scratch slice that the
// next call reuses.
func (s *Scheduler) sortedConns() []*conn {
	out := s.scratch[:0]
	for _, cn := range s.conns {
		out = append(out, cn)
	}
	slices.SortFunc(out, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	s.scratch = out
	return slices.Clone(out)
}

// step brings the connection pool to its targets and assigns work.
func (s *Scheduler) step(now time.Time) {
	s.resize(now)
	if s.poolDirty {
		s.poolDirty = false
		s.balance(now)
	}
	s.bannedNow, s.liveNow = 0, 0
	for u := range s.ups {
		uid := UpstreamID(u)
		if s.banned(now, uid) {
			s.bannedNow.Add(uid)
		} else if s.reachable(now, uid) {
			s.liveNow.Add(uid)
		}
	}
	// Live: upstreams with a connection, dialing or ready, and reachable
	// ones that balance gives connections to (they are being redialed).
	// A block only live upstreams could serve waits; others fail.
	for u := range s.ups {
		uid := UpstreamID(u)
		if !s.liveNow.Has(uid) {
			continue
		}
		if u >= len(s.target) || s.target[u] == 0 {
			s.liveNow &^= 1 << uint(u)
		}
	}
	for _, cn := range s.conns {
		if !cn.drain {
			s.liveNow.Add(cn.up)
		}
	}
	clear(s.refusedNow)
	for obj, m := range s.objRefused {
		var set UpSet
		for u, until := range m {
			if now.Before(until) {
				set.Add(u)
			} else {
				delete(m, u)
			}
		}
		if set == 0 {
			delete(s.objRefused, obj)
		} else {
			s.refusedNow[obj] = set
		}
	}
	s.failUnservable()
	s.assign(now)
	s.duplicate(now)
	if s.cfg.MaxConns > 0 {
		s.markSaturation(now)
	}
}

// markSaturation records, for sizing, which upstreams are saturated after
// this step: work waits for them, none of their connections has room
// that assign left empty (work that went to faster connections elsewhere
// leaves room), and no more than half of them are stalled. More
// connections to an upstream that is not would get nothing more to do.
func (s *Scheduler) markSaturation(now time.Time) {
	var room, shallow UpSet
	// Counts per upstream in reused scratch: this runs at every step.
	ready, stalled := s.satScratch[:len(s.ups)], s.satScratch[len(s.ups):]
	clear(s.satScratch)
	for _, cn := range s.conns {
		if !cn.ready || cn.drain {
			continue
		}
		ready[cn.up]++
		switch {
		case s.stalled(now, cn):
			stalled[cn.up]++
			continue
		case cn.busy() < s.depth(cn):
			room.Add(cn.up)
		}
		if cn.busy() < 2 {
			shallow.Add(cn.up)
		}
	}
	for u := range s.ups {
		up := &s.ups[u]
		uid := UpstreamID(u)
		// Saturated: work waits and no connection has room for it; or
		// every connection has a block waiting behind the one it is
		// sending (a reader's window is all in flight, queued on too few
		// connections: more would carry those blocks side by side). An
		// upstream whose connections mostly stall (a frozen node, a path
		// that black-holes) is not saturated either: more connections to
		// it would stall too.
		waits := !room.Has(uid) && s.firstEligible(uid) != nil
		queued := !shallow.Has(uid) && ready[u] > stalled[u]
		sat := (waits || queued) && 2*stalled[u] <= ready[u]
		switch {
		case sat && up.satSince.IsZero():
			up.satSince = now
		case !sat && !up.satSince.IsZero():
			up.satTotal += now.Sub(up.satSince)
			up.satSince = time.Time{}
		}
	}
}

// saturated is how long in all u has been saturated, up to now.
func (up *upstream) saturated(now time.Time) time.Duration {
	d := up.satTotal
	if !up.satSince.IsZero() {
		d += now.Sub(up.satSince)
	}
	return d
}

// resize feeds each sized upstream's sizer the state of its connections:
// how many are up, the bytes they delivered, and how long they have been
// saturated. A changed target rebalances the pool.
func (s *Scheduler) resize(now time.Time) {
	if s.cfg.MaxConns <= 0 {
		return
	}
	for u := range s.ups {
		up := &s.ups[u]
		if up.sizer == nil || s.banned(now, UpstreamID(u)) || !s.reachable(now, UpstreamID(u)) {
			continue
		}
		// The connections that count: not those draining after a step
		// down, which may take seconds to finish what they were asked on a
		// slow path (their bytes leave the sum, and the measurement starts
		// again without them).
		// Round trip and loss weighted by rate: one connection's
		// outlier does not set the whole upstream's.
		var o congestion.Observation
		var weight, rtt, rttWeight float64
		for _, cn := range s.conns {
			if cn.up != UpstreamID(u) || !cn.ready || cn.drain {
				continue
			}
			o.Conns++
			o.Delivered += cn.delivered
			w := max(cn.rate, 1)
			if cn.rtt > 0 {
				rtt += float64(cn.rtt) * w
				rttWeight += w
			}
			o.Loss += cn.loss * w
			weight += w
		}
		if weight > 0 {
			o.Loss /= weight
		}
		if rttWeight > 0 {
			o.RTT = time.Duration(rtt / rttWeight)
		}
		o.Saturated = up.saturated(now)
		from := up.sizer.Target()
		if up.sizer.Observe(now, o) {
			r, detail := up.sizer.Reason()
			s.ready.Resized = append(s.ready.Resized, Resize{Upstream: UpstreamID(u), From: from, To: up.sizer.Target(), Reason: r, Detail: detail})
			s.poolDirty = true
		}
	}
}

// Sizing returns an upstream's connection target and why it is what it
// is; ok is false if the upstream is not sized.
func (s *Scheduler) Sizing(u UpstreamID) (target int, r congestion.Reason, detail string, ok bool) {
	if int(u) >= len(s.ups) || s.ups[u].sizer == nil {
		return 0, 0, "", false
	}
	sz := s.ups[u].sizer
	r, detail = sz.Reason()
	return sz.Target(), r, detail, true
}

// balance dials and drains so that each reachable upstream has its share
// of cfg.Conns, and each down upstream gets one probe when due.
func (s *Scheduler) balance(now time.Time) {
	var reach []UpstreamID
	for u := range s.ups {
		if s.reachable(now, UpstreamID(u)) {
			reach = append(reach, UpstreamID(u))
		}
	}
	live := make([]int, len(s.ups)) // dialing or ready conns per upstream
	for _, cn := range s.conns {
		if !cn.drain {
			live[cn.up]++
		}
	}
	target := s.target[:0]
	for range s.ups {
		target = append(target, 0)
	}
	s.target = target
	for i, u := range reach {
		target[u] = s.cfg.Conns / len(reach)
		if i < s.cfg.Conns%len(reach) {
			target[u]++
		}
		if share := target[u]; share > 0 && s.cfg.MaxConns > share {
			up := &s.ups[u]
			if up.sizer == nil {
				cfg := s.cfg.Sizing
				cfg.Min, cfg.Initial, cfg.Max = share, share, s.cfg.MaxConns
				if int(u) < len(s.cfg.Initial) && s.cfg.Initial[u] > share {
					cfg.Initial, cfg.Remembered = s.cfg.Initial[u], true
				}
				up.sizer = congestion.NewSizer(cfg)
			}
			up.sizer.SetMin(share)
			target[u] = up.sizer.Target()
		}
	}
	for u := range s.ups {
		uid := UpstreamID(u)
		switch {
		case s.banned(now, uid):
			continue
		case !s.reachable(now, uid):
			// A probe: one connection when the retry time has come.
			if live[u] == 0 && !now.Before(s.ups[u].retryAt) {
				s.dial(now, uid)
			}
			continue
		}
		for live[u] < target[u] && !now.Before(s.ups[u].retryAt) {
			s.dial(now, uid)
			live[u]++
		}
		if live[u] > target[u] {
			// Drain the newest extra connections.
			conns := s.sortedConns()
			for i := len(conns) - 1; i >= 0 && live[u] > target[u]; i-- {
				cn := conns[i]
				if cn.up != uid || cn.drain {
					continue
				}
				live[u]--
				cn.drain = true // a dialing one is closed when Dialed reports
				s.maybeFinishDrain(cn)
			}
		}
	}
}

func (s *Scheduler) dial(now time.Time, u UpstreamID) {
	s.nextConn++
	id := s.nextConn
	s.conns[id] = &conn{id: id, up: u, dialedAt: now}
	s.ready.Dials = append(s.ready.Dials, Dial{Conn: id, Upstream: u})
}

// failUnservable fails the queued chunks that no upstream can serve: those
// every upstream refused or was banned for, and those whose upstreams are
// all down with no connection to them being dialed.
func (s *Scheduler) failUnservable() {
	var failed []*chunk
	for _, c := range s.queue {
		el := s.eligibleSet(c)
		if el == 0 && c.refused != 0 && c.refusals < s.cfg.MaxRefusals {
			// Every upstream refused it once; try them all again.
			c.refused = 0
			el = s.eligibleSet(c)
		}
		if el == 0 || el&s.liveNow == 0 {
			failed = append(failed, c)
		}
	}
	for _, c := range failed {
		err := ErrUnreachable
		if s.eligibleSet(c) == 0 {
			err = ErrNoUpstream
		}
		s.dequeue(c)
		delete(s.chunks, c.key)
		s.ready.Failures = append(s.ready.Failures, Failure{Chunk: c.key, Err: err})
	}
}

// assign hands queued chunks to ready connections with room, in rounds of
// one chunk per connection, fastest connection first, so the most urgent
// chunks go to the fastest connections and the work spreads at once.
//
// Blocks are wanted one at a time (each Want is a step), so a burst of a
// few blocks goes to the fastest connections until their pipelines are
// full, while others wait empty: a small read over two relays can go all
// to one. Serving idle connections first in each round fixed that, but
// then a frozen relay's idle connections (idle because they hear nothing,
// with no stalled request to show it) took the new blocks, and plays
// waited for the stall timeout (TestBrowserLikePlays_relayFrozen); not
// done until that is told apart.
//
// A connection does not take a chunk when the faster connections, at their
// rates and behind what they already have, would deliver everything that
// is queued before it delivered that one chunk: the earliest-completion-
// first rule of multipath schedulers. It matters at the end of a
// transfer, where the last blocks would otherwise go to whatever slow path
// has room and hold the transfer's end; while much is queued, every
// connection takes its share.
func (s *Scheduler) assign(now time.Time) {
	if len(s.queue) == 0 {
		return
	}
	conns := s.readyByRate(now)
	s.copyLateAhead(now, conns)
	for progress := true; progress && len(s.queue) > 0; {
		progress = false
		for _, cn := range conns {
			if cn.busy() >= s.depth(cn) || s.stalled(now, cn) {
				continue
			}
			c := s.firstEligible(cn.up)
			if c == nil {
				continue
			}
			if s.othersFinishFirst(now, cn, c, conns) {
				continue
			}
			s.dequeue(c)
			s.send(now, cn, c)
			progress = true
		}
	}
}

// stalled reports whether cn has requests in flight (or cancelled ones
// that have not ended) and no data has come on it for a second or three
// round trips, whichever is longer: a retransmission timeout or a path
// that black-holes, not the ordinary unevenness of a lossy link. A stalled
// connection takes no new work. The cancelled requests count because a
// live server ends them within a round trip: a connection whose cancels
// stay unanswered leads to a node that is frozen.
func (s *Scheduler) stalled(now time.Time, cn *conn) bool {
	if cn.busy() == 0 {
		return false
	}
	return now.Sub(cn.lastData) > max(time.Second, 3*cn.rtt)
}

// copyLateAhead gives the most urgent blocks held by stalled connections,
// those queued work would otherwise pass, a copy on a connection with
// room, before queued blocks are handed out: a reader waits for its next
// block, and a stalled connection holds it.
func (s *Scheduler) copyLateAhead(now time.Time, conns []*conn) {
	if s.cfg.MaxCopies < 2 || len(s.queue) == 0 {
		return
	}
	head := s.queue[0].seq
	var late []*chunk
	for _, c := range s.chunks {
		if c.queued || c.seq >= head || len(c.copies) >= s.cfg.MaxCopies {
			continue
		}
		if owner := s.conns[c.copies[0].conn]; owner != nil && s.stalled(now, owner) {
			late = append(late, c)
		}
	}
	slices.SortFunc(late, func(a, b *chunk) int { return cmp.Compare(a.seq, b.seq) })
	for _, c := range late[:min(len(late), 4)] {
		// Another upstream's connection first: the others to the stalled
		// connection's node may well be stalled too, without showing it
		// yet (idle ones have nothing to be late with).
		owner := s.conns[c.copies[0].conn].up
	pick:
		for _, otherUp := range []bool{true, false} {
			for _, cn := range conns {
				if otherUp && cn.up == owner {
					continue
				}
				if cn.busy() < s.depth(cn) && !s.stalled(now, cn) && !c.hasCopy(cn.id) && s.eligibleSet(c).Has(cn.up) {
					s.send(now, cn, c)
					s.copied(c)
					break pick
				}
			}
		}
	}
}

// finishIfSent estimates when cn would deliver one more block of size bytes
// sent now, behind what it has in flight; ok is false if cn has no rate
// yet or is stalled (its oldest block overdue by two service times).
func (s *Scheduler) finishIfSent(now time.Time, cn *conn, size int64) (t time.Time, ok bool) {
	if cn.rate <= 0 {
		return time.Time{}, false
	}
	svc := serviceTime(size, cn.rate)
	base := cn.lastDone
	if len(cn.inflight) > 0 {
		if now.After(base.Add(3*svc + lateSlack)) {
			return time.Time{}, false // stalled
		}
	}
	if now.After(base) {
		base = now
	}
	return base.Add(time.Duration(cn.busy()+1) * svc), true
}

// othersFinishFirst reports whether the connections other than cn that
// may serve c would together deliver as many blocks as are queued before cn
// would deliver c.
func (s *Scheduler) othersFinishFirst(now time.Time, cn *conn, c *chunk, conns []*conn) bool {
	mine, ok := s.finishIfSent(now, cn, c.size)
	if !ok {
		return false
	}
	el := s.eligibleSet(c)
	n := 0
	for _, o := range conns {
		if o == cn || !el.Has(o.up) {
			continue
		}
		t, ok := s.finishIfSent(now, o, c.size)
		if !ok || !t.Add(lateSlack).Before(mine) {
			continue
		}
		n += 1 + int(mine.Sub(t)/max(serviceTime(c.size, o.rate), time.Microsecond))
		if n >= len(s.queue) {
			return true
		}
	}
	return false
}

func (s *Scheduler) firstEligible(u UpstreamID) *chunk {
	for _, c := range s.queue {
		if s.eligibleSet(c).Has(u) {
			return c
		}
	}
	return nil
}

func (s *Scheduler) send(now time.Time, cn *conn, c *chunk) {
	if len(cn.inflight) == 0 {
		// An idle connection: its next service period starts now, and
		// silence is counted from now; a rate sample in progress ends.
		cn.lastDone = now
		cn.lastData = now
	}
	cn.inflight = append(cn.inflight, c)
	c.copies = append(c.copies, chunkCopy{conn: cn.id, start: now})
	s.ready.Requests = append(s.ready.Requests, Request{Conn: cn.id, Chunk: c.key})
}

// readyByRate lists ready connections, fastest first; connections without
// a measured rate come after measured ones, by id. Connections to an
// upstream with a stalled connection come after all others: when one
// connection to a node stalls, the others to it may well be about to.
func (s *Scheduler) readyByRate(now time.Time) []*conn {
	out := s.sortedConns()
	var suspect UpSet
	for _, cn := range out {
		if cn.ready && s.stalled(now, cn) {
			suspect.Add(cn.up)
		}
	}
	out = slices.DeleteFunc(out, func(cn *conn) bool { return !cn.ready || cn.drain })
	slices.SortStableFunc(out, func(a, b *conn) int {
		if sa, sb := suspect.Has(a.up), suspect.Has(b.up); sa != sb {
			if sa {
				return 1
			}
			return -1
		}
		return cmp.Compare(b.rate, a.rate)
	})
	return out
}

// duplicate gives each idle connection, while nothing is queued, a copy of
// an in-flight block that it can be expected to deliver clearly sooner than
// the connection that has it (see pickCopy). The first copy to arrive wins
// and the other is cancelled. A block never has more than cfg.MaxCopies
// copies in flight.
func (s *Scheduler) duplicate(now time.Time) {
	if s.cfg.MaxCopies < 2 || len(s.queue) > 0 {
		return
	}
	// Copies go to other upstreams first: a connection that stalls with
	// its node (frozen, or its path black-holed) stalls with every other
	// connection to that node.
	for _, otherUp := range []bool{true, false} {
		for _, cn := range s.readyByRate(now) {
			if cn.busy() > 0 {
				continue
			}
			if c := s.pickCopy(now, cn, otherUp, s.mayCopy()); c != nil {
				s.send(now, cn, c)
				s.copied(c)
			}
		}
	}
}

// mayCopy reports whether the copy budget allows a tail copy now.
func (s *Scheduler) mayCopy() bool { return s.copyTokens > 0 }

// copied counts a copy of c sent; it spends the budget, which may go
// below zero (late copies are not refused: they serve a reader that
// waits).
func (s *Scheduler) copied(c *chunk) {
	s.duplicates++
	s.copyTokens -= float64(c.size)
}

// lateSlack is added to every estimate before a copy is made: below it, a
// difference is scheduling noise (a garbage collection, a busy CPU), not a
// slow or stalled connection; the stalls worth a copy (a loss burst, a
// retransmission timeout) last a round trip or more.
const lateSlack = 50 * time.Millisecond

// pickCopy chooses the in-flight block that the idle connection cn should
// fetch too, or nil. Each block's copy in flight is expected to finish when
// its connection, at its measured rate, has served the requests ahead of it
// and it. Two cases earn a copy:
//
//   - late: that time has passed by more than two service times; the
//     connection is stalled (a loss burst, a retransmission timeout) or has
//     slowed down;
//   - tail: cn, at its own rate and allowing for a round trip, would finish
//     the block well before that time. This is the end of a transfer, when
//     the last blocks sit on slow paths while fast ones are idle.
//
// Late blocks come first, then tail blocks, each the most urgent first: a
// reader waits for its next block, both when its window is held up behind
// it and at the end of a transfer. Tail copies spend the copy budget (see
// Config.CopyShare): with tail false, when it is spent, only late blocks
// are taken. A connection whose rate is not measured yet (one that has
// been idle) takes late blocks only; with otherUp, only blocks whose copy
// is on another upstream's connection.
func (s *Scheduler) pickCopy(now time.Time, cn *conn, otherUp, tail bool) *chunk {
	var best *chunk
	var bestLate bool
	for _, c := range s.chunks {
		if c.queued || len(c.copies) >= s.cfg.MaxCopies || c.hasCopy(cn.id) || !s.eligibleSet(c).Has(cn.up) {
			continue
		}
		owner := s.conns[c.copies[0].conn]
		if owner == nil || (otherUp && owner.up == cn.up) {
			continue
		}
		pos := slices.Index(owner.inflight, c)
		if pos < 0 {
			continue
		}
		var late bool
		var finish time.Time
		if owner.rate <= 0 {
			// No measure yet: late once no data has come for a second
			// or three round trips (see stalled).
			late = s.stalled(now, owner)
		} else {
			service := serviceTime(c.size, owner.rate)
			finish = owner.lastDone.Add(time.Duration(pos+1) * service)
			late = now.After(finish.Add(2*service + lateSlack))
		}
		if !late {
			if !tail || owner.rate <= 0 || cn.rate <= 0 {
				continue
			}
			if mine := serviceTime(c.size, cn.rate) * 3 / 2; finish.Sub(now) < mine+lateSlack {
				continue
			}
		}
		switch {
		case best == nil,
			late && !bestLate,
			late == bestLate && c.seq < best.seq:
			best, bestLate = c, late
		}
	}
	return best
}

func serviceTime(size int64, rate float64) time.Duration {
	return time.Duration(float64(size) / rate * float64(time.Second))
}

// deadline is the next time Tick must run.
func (s *Scheduler) deadline(now time.Time) time.Time {
	var d time.Time
	earlier := func(t time.Time) {
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	inflight := false
	for _, cn := range s.conns {
		if len(cn.inflight) > 0 {
			inflight = true
			earlier(cn.lastData.Add(s.cfg.StallTimeout))
		}
	}
	if inflight {
		// Duplicate requests depend on elapsed time; look again soon.
		earlier(now.Add(100 * time.Millisecond))
	}
	for _, m := range s.objRefused {
		for _, until := range m {
			earlier(until)
		}
	}
	for u := range s.ups {
		up := &s.ups[u]
		if s.banned(now, UpstreamID(u)) {
			earlier(up.bannedUntil)
		} else if up.retryAt.After(now) {
			earlier(up.retryAt)
		}
	}
	return d
}

// depth is how many requests cn may have in flight: QueueTime of blocks at
// its rate, within [2, Pipeline] once its rate is known, MinPipeline
// before.
func (s *Scheduler) depth(cn *conn) int {
	if cn.rate <= 0 || cn.avgSize <= 0 {
		return s.cfg.MinPipeline
	}
	// A request takes a round trip before its first byte comes back, so
	// the connection must keep a round trip's worth in flight on top of
	// the queue it should hold; without it, on a path whose round trip
	// exceeds QueueTime, rate and depth would shrink each other.
	d := int(math.Ceil(cn.rate * (s.cfg.QueueTime + cn.rtt).Seconds() / cn.avgSize))
	// A measured connection slower than a block per QueueTime keeps two:
	// one arriving, one behind it so that the link never waits for a
	// request. More would only hold blocks others could fetch sooner, and
	// the window a reader asks for would run out with fewer connections.
	return min(max(d, min(2, s.cfg.MinPipeline)), s.cfg.Pipeline)
}

// busy is the number of pipeline slots in use.
func (cn *conn) busy() int { return len(cn.inflight) + cn.cancelling }

func (cn *conn) indexOf(k ChunkKey) int {
	return slices.IndexFunc(cn.inflight, func(c *chunk) bool { return c.key == k })
}

// removeAt removes inflight[i] and returns when it was requested on cn.
func (cn *conn) removeAt(i int) time.Time {
	c := cn.inflight[i]
	cn.inflight = slices.Delete(cn.inflight, i, i+1)
	for _, cp := range c.copies {
		if cp.conn == cn.id {
			return cp.start
		}
	}
	return time.Time{}
}

// observe folds one completion's size into the average block size.
func (cn *conn) observe(size int64) {
	if cn.avgSize == 0 {
		cn.avgSize = float64(size)
	} else {
		cn.avgSize = 0.75*cn.avgSize + 0.25*float64(size)
	}
}

func (c *chunk) removeCopy(id ConnID) {
	c.copies = slices.DeleteFunc(c.copies, func(cp chunkCopy) bool { return cp.conn == id })
}

func (c *chunk) hasCopy(id ConnID) bool {
	return slices.ContainsFunc(c.copies, func(cp chunkCopy) bool { return cp.conn == id })
}
