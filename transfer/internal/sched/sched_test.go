package sched

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
)

// sim drives a Scheduler against simulated upstreams in virtual time: each
// connection serves its requests in order at its upstream's rate after one
// round trip. It checks the Scheduler's invariants after every step.
type sim struct {
	t      *testing.T
	s      *Scheduler
	now    time.Time
	ups    []*simUp
	conns  map[ConnID]*simConn
	events eventQueue
	seq    int

	wanted    map[ChunkKey]bool
	completed map[ChunkKey]ConnID
	failed    map[ChunkKey]error
	perConn   map[ConnID]int
	perUp     map[UpstreamID]int
	requests  int
	cancels   int
	banned    []UpstreamID
	deadline  time.Time
	cm        *congestion.Manager // the rates, as the engine's come from its CM
	// stream serves the connections as a fluid (see flow), not block by
	// block, so that data arrives as it is served, as on a real connection.
	stream bool

	onComplete func(ChunkKey) // called for each first completion
}

type simUp struct {
	rate float64 // bytes per second per connection
	// capacity, if set, bounds the rate of all the upstream's connections
	// together (stream sims only): it is shared evenly among those that
	// are sending.
	capacity float64
	rtt      time.Duration
	down     bool // dials fail
	corrupt  bool // every block fails verification
	refuse   bool // every request is refused
}

type simConn struct {
	id        ConnID
	up        UpstreamID
	busyUntil time.Time
	pending   map[ChunkKey]bool
	rate      float64 // overrides the upstream's if set

	// The connection's flow in the sim's congestion manager: busy while
	// it has requests pending, observed at every completion.
	flow      *congestion.Flow
	delivered uint64
	reported  uint64     // delivered when Activity was last reported, for stream
	fluid     []fluidReq // requests queued on the connection, for stream
}

// fluidReq is a request a stream sim serves: from ready on, its bytes
// left go at the connection's share of its upstream's rate.
type fluidReq struct {
	key   ChunkKey
	ready time.Time
	left  float64
}

// fluidStep is the time step of a stream sim.
const fluidStep = 10 * time.Millisecond

// flow serves stream sims' connections as a fluid, one step at a time:
// each connection whose head request is ready gets min(its rate, its
// upstream's capacity shared evenly), as TCP flows through one bottleneck
// would; data arrives continuously, and the driver hears of it (Activity,
// the flow's samples) every 100 ms as the engine's sampler would.
func (m *sim) flow() {
	m.at(fluidStep, func() {
		active := map[UpstreamID]int{}
		for _, sc := range m.conns {
			m.dropCancelled(sc)
			if len(sc.fluid) > 0 && !m.now.Before(sc.fluid[0].ready) {
				active[sc.up]++
			}
		}
		report := m.now.Sub(time.Unix(1_000_000, 0))%(100*time.Millisecond) == 0
		for _, sc := range sortedSimConns(m.conns) {
			if len(sc.fluid) > 0 && !m.now.Before(sc.fluid[0].ready) {
				up := m.ups[sc.up]
				rate := up.rate
				if sc.rate > 0 {
					rate = sc.rate
				}
				if up.capacity > 0 {
					rate = min(rate, up.capacity/float64(active[sc.up]))
				}
				head := &sc.fluid[0]
				got := min(head.left, rate*fluidStep.Seconds())
				head.left -= got
				sc.delivered += uint64(got)
				if head.left <= 0 {
					key := head.key
					sc.fluid = sc.fluid[1:]
					m.complete(sc, key)
					continue
				}
			}
			if report && m.conns[sc.id] == sc {
				sc.flow.Observe(congestion.Sample{At: m.now, Delivered: sc.delivered})
				m.s.SetRate(sc.id, sc.flow.Query().Rate, sc.delivered, 0)
				if sc.delivered > sc.reported {
					sc.reported = sc.delivered
					m.s.Activity(sc.id, m.now)
				}
			}
		}
		if report {
			m.apply()
		}
		m.flow()
	})
}

// dropCancelled removes from the head of sc's fluid queue the requests
// cancelled (no longer pending): the server stops sending them.
func (m *sim) dropCancelled(sc *simConn) {
	for len(sc.fluid) > 0 && !sc.pending[sc.fluid[0].key] {
		sc.fluid = sc.fluid[1:]
	}
}

func sortedSimConns(conns map[ConnID]*simConn) []*simConn {
	out := make([]*simConn, 0, len(conns))
	for _, sc := range conns {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *simConn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// setBusy tells the flow whether sc has requests pending.
func (sc *simConn) setBusy() { sc.flow.SetBusy(len(sc.pending) > 0) }

type event struct {
	at  time.Time
	seq int
	fn  func()
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func newSim(t *testing.T, cfg Config, ups ...*simUp) *sim {
	t.Helper()
	cfg.Upstreams = len(ups)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &sim{
		t: t, s: s, now: time.Unix(1_000_000, 0), ups: ups,
		conns:     make(map[ConnID]*simConn),
		wanted:    make(map[ChunkKey]bool),
		completed: make(map[ChunkKey]ConnID),
		failed:    make(map[ChunkKey]error),
		perConn:   make(map[ConnID]int),
		perUp:     make(map[UpstreamID]int),
	}
	m.cm = congestion.New(congestion.Config{Now: func() time.Time { return m.now }})
	t.Cleanup(m.cm.Close)
	return m
}

func (m *sim) at(d time.Duration, fn func()) {
	m.seq++
	heap.Push(&m.events, event{at: m.now.Add(d), seq: m.seq, fn: fn})
}

// apply carries out the Scheduler's actions.
func (m *sim) apply() {
	r := m.s.Ready(m.now)
	m.banned = append(m.banned, r.Banned...)
	for _, id := range r.Closes {
		if sc := m.conns[id]; sc != nil {
			sc.flow.Close()
		}
		delete(m.conns, id)
	}
	for _, d := range r.Dials {
		d := d
		up := m.ups[d.Upstream]
		m.at(up.rtt, func() {
			if m.ups[d.Upstream].down {
				m.s.Dialed(m.now, d.Conn, false)
			} else {
				sc := &simConn{id: d.Conn, up: d.Upstream, pending: map[ChunkKey]bool{},
					flow: m.cm.Open(fmt.Sprintf("up%d:%d", d.Upstream, d.Conn))}
				sc.flow.Observe(congestion.Sample{At: m.now}) // the baseline, as Watch takes it
				m.conns[d.Conn] = sc
				m.s.Dialed(m.now, d.Conn, true)
				m.s.SetRTT(d.Conn, up.rtt) // as the engine does from TCP_INFO
			}
			m.apply()
		})
	}
	for _, c := range r.Cancels {
		m.cancels++
		sc := m.conns[c.Conn]
		if sc == nil {
			continue
		}
		delete(sc.pending, c.Chunk)
		sc.setBusy()
		// The server answers the CANCEL a round trip later; the driver
		// then reports that the cancelled request ended.
		id := c.Conn
		m.at(m.ups[sc.up].rtt, func() {
			m.s.CancelEnded(m.now, id)
			m.apply()
		})
	}
	for _, rq := range r.Requests {
		m.requests++
		sc := m.conns[rq.Conn]
		if sc == nil {
			m.t.Fatalf("request on unknown conn %d", rq.Conn)
		}
		if sc.pending[rq.Chunk] {
			m.t.Fatalf("chunk %v requested twice on conn %d", rq.Chunk, rq.Conn)
		}
		sc.pending[rq.Chunk] = true
		sc.setBusy()
		up := m.ups[sc.up]
		if m.stream {
			sc.fluid = append(sc.fluid, fluidReq{key: rq.Chunk, ready: m.now.Add(up.rtt), left: blockSize})
			continue
		}
		rate := up.rate
		if sc.rate > 0 {
			rate = sc.rate
		}
		start := m.now.Add(up.rtt)
		if sc.busyUntil.After(start) {
			start = sc.busyUntil
		}
		finish := start.Add(time.Duration(float64(blockSize) / rate * float64(time.Second)))
		sc.busyUntil = finish
		rq := rq
		m.at(finish.Sub(m.now), func() {
			sc2 := m.conns[rq.Conn]
			if sc2 != sc || !sc.pending[rq.Chunk] {
				return // closed or cancelled
			}
			sc.delivered += blockSize
			m.complete(sc, rq.Chunk)
		})
	}
	for _, f := range r.Failures {
		if _, done := m.completed[f.Chunk]; done {
			m.t.Fatalf("chunk %v failed after completing", f.Chunk)
		}
		m.failed[f.Chunk] = f.Err
	}
	m.check()
	if !r.Deadline.IsZero() && (m.deadline.IsZero() || r.Deadline.Before(m.deadline) || !m.deadline.After(m.now)) {
		m.deadline = r.Deadline
		m.at(r.Deadline.Sub(m.now), func() {
			if !m.now.Before(m.deadline) {
				m.deadline = time.Time{}
				m.s.Tick(m.now)
				m.apply()
			}
		})
	}
}

// complete ends sc's request for k: the block arrived whole.
func (m *sim) complete(sc *simConn, k ChunkKey) {
	delete(sc.pending, k)
	sc.flow.Observe(congestion.Sample{At: m.now, Delivered: sc.delivered})
	sc.setBusy()
	m.s.SetRate(sc.id, sc.flow.Query().Rate, sc.delivered, 0)
	m.s.Activity(sc.id, m.now)
	switch {
	case m.ups[sc.up].corrupt:
		m.s.Failed(m.now, sc.id, k, CauseCorrupt)
	case m.ups[sc.up].refuse:
		m.s.Failed(m.now, sc.id, k, CauseRefused)
	default:
		first := false
		if _, dup := m.completed[k]; !dup && m.wanted[k] {
			m.completed[k] = sc.id
			m.perConn[sc.id]++
			m.perUp[sc.up]++
			first = true
		}
		m.s.Completed(m.now, sc.id, k)
		if first && m.onComplete != nil {
			m.onComplete(k)
		}
	}
	m.apply()
}

// check verifies the Scheduler's invariants.
func (m *sim) check() {
	s := m.s
	for _, cn := range s.conns {
		if cn.busy() > s.cfg.Pipeline {
			m.t.Fatalf("conn %d has %d requests in flight and %d cancelled, pipeline %d", cn.id, len(cn.inflight), cn.cancelling, s.cfg.Pipeline)
		}
		if cn.cancelling < 0 {
			m.t.Fatalf("conn %d: %d cancelling", cn.id, cn.cancelling)
		}
		if !cn.ready && len(cn.inflight) > 0 {
			m.t.Fatalf("conn %d not ready but has requests", cn.id)
		}
		for _, c := range cn.inflight {
			if !c.hasCopy(cn.id) {
				m.t.Fatalf("conn %d lists chunk %v that has no copy there", cn.id, c.key)
			}
		}
	}
	queued := 0
	for _, c := range s.chunks {
		if c.queued {
			queued++
			if len(c.copies) > 0 {
				m.t.Fatalf("chunk %v queued with copies", c.key)
			}
		} else if len(c.copies) == 0 {
			m.t.Fatalf("chunk %v neither queued nor in flight", c.key)
		}
		if len(c.copies) > s.cfg.MaxCopies {
			m.t.Fatalf("chunk %v has %d copies", c.key, len(c.copies))
		}
	}
	if queued != len(s.queue) {
		m.t.Fatalf("queue has %d, %d chunks marked queued", len(s.queue), queued)
	}
	for i := 1; i < len(s.queue); i++ {
		if s.queue[i-1].seq >= s.queue[i].seq {
			m.t.Fatal("queue out of order")
		}
	}
}

// run processes events until all wanted chunks ended, or no event is left,
// or the virtual time limit passes (a test failure).
func (m *sim) run(limit time.Duration) {
	end := m.now.Add(limit)
	for m.events.Len() > 0 && len(m.completed)+len(m.failed) < len(m.wanted) {
		e := heap.Pop(&m.events).(event)
		if e.at.After(end) {
			m.t.Fatalf("virtual time limit: %d of %d chunks done, %d failed", len(m.completed), len(m.wanted), len(m.failed))
		}
		m.now = e.at
		e.fn()
	}
}

// settle processes the events of the next d of virtual time.
func (m *sim) settle(d time.Duration) {
	end := m.now.Add(d)
	for m.events.Len() > 0 && !m.events[0].at.After(end) {
		e := heap.Pop(&m.events).(event)
		m.now = e.at
		e.fn()
	}
	m.now = end
}

const blockSize = 256 << 10

func (m *sim) want(obj ObjectID, n int) {
	for i := range n {
		k := ChunkKey{Object: obj, Index: uint32(i)}
		m.wanted[k] = true
		m.s.Want(m.now, k, blockSize)
	}
	m.apply()
}

func (m *sim) start() {
	m.s.Tick(m.now)
	m.apply()
}

func mbps(v float64) float64 { return v * 1e6 / 8 }

func TestScheduler_spreadsConnections(t *testing.T) {
	for _, tc := range []struct {
		conns, ups int
		want       []int
	}{
		{8, 2, []int{4, 4}},
		{8, 3, []int{3, 3, 2}},
		{1, 1, []int{1}},
		{2, 4, []int{1, 1, 0, 0}},
	} {
		var ups []*simUp
		for range tc.ups {
			ups = append(ups, &simUp{rate: mbps(100), rtt: time.Millisecond})
		}
		m := newSim(t, Config{Conns: tc.conns}, ups...)
		m.start()
		got := make([]int, tc.ups)
		for _, cn := range m.s.conns {
			got[cn.up]++
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("conns=%d ups=%d: per upstream %v, want %v", tc.conns, tc.ups, got, tc.want)
				break
			}
		}
	}
}

func TestScheduler_allChunksOnceInOrderOfUrgency(t *testing.T) {
	m := newSim(t, Config{Conns: 4, Pipeline: 2}, &simUp{rate: mbps(50), rtt: 10 * time.Millisecond})
	m.start()
	m.settle(time.Second) // connections up
	m.want(1, 64)
	m.run(time.Minute)
	if len(m.completed) != 64 || len(m.failed) != 0 {
		t.Fatalf("completed %d failed %d", len(m.completed), len(m.failed))
	}
	if m.requests != 64 {
		t.Errorf("%d requests for 64 chunks with equal connections", m.requests)
	}
}

// A connection that is faster carries more blocks: assignment is pulled by
// free pipeline slots, not split in advance.
func TestScheduler_fasterConnectionCarriesMore(t *testing.T) {
	fast := &simUp{rate: mbps(80), rtt: 20 * time.Millisecond}
	slow := &simUp{rate: mbps(20), rtt: 20 * time.Millisecond}
	m := newSim(t, Config{Conns: 2, Pipeline: 2, MaxCopies: 1}, fast, slow)
	m.start()
	m.settle(time.Second)
	m.want(1, 400)
	m.run(10 * time.Minute)
	f, s := m.perUp[0], m.perUp[1]
	if f+s != 400 {
		t.Fatalf("completed %d", f+s)
	}
	ratio := float64(f) / float64(s)
	if ratio < 3 || ratio > 5 {
		t.Fatalf("fast carried %d, slow %d (ratio %.2f), want about 4", f, s, ratio)
	}
}

func TestScheduler_lostConnectionRequeues(t *testing.T) {
	a := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond}
	b := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond}
	m := newSim(t, Config{Conns: 4, Pipeline: 4}, a, b)
	m.start()
	m.settle(time.Second)
	m.want(1, 200)
	// Kill upstream a mid-sched: its connections are lost and it
	// refuses new ones.
	m.at(200*time.Millisecond, func() {
		a.down = true
		for id, sc := range m.conns {
			if sc.up == 0 {
				delete(m.conns, id)
				m.s.Lost(m.now, id)
			}
		}
		m.apply()
	})
	m.run(10 * time.Minute)
	if len(m.completed) != 200 || len(m.failed) != 0 {
		t.Fatalf("completed %d failed %d", len(m.completed), len(m.failed))
	}
	if m.perUp[0] == 0 || m.perUp[1] <= m.perUp[0] {
		t.Fatalf("per upstream %v: want a to have carried some before it died, b most", m.perUp)
	}
	// b took over a's share of connections.
	live := 0
	for _, cn := range m.s.conns {
		if cn.up == 1 && !cn.drain {
			live++
		}
	}
	if live != 4 {
		t.Fatalf("upstream b has %d connections after a died, want all 4", live)
	}
}

func TestScheduler_corruptUpstreamBanned(t *testing.T) {
	good := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond}
	bad := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond, corrupt: true}
	m := newSim(t, Config{Conns: 4}, good, bad)
	m.start()
	m.settle(time.Second)
	m.want(1, 50)
	m.run(10 * time.Minute)
	if len(m.completed) != 50 || len(m.failed) != 0 {
		t.Fatalf("completed %d failed %d", len(m.completed), len(m.failed))
	}
	if len(m.banned) != 1 || m.banned[0] != 1 {
		t.Fatalf("banned %v, want [1]", m.banned)
	}
	for _, cn := range m.s.conns {
		if cn.up == 1 {
			t.Fatalf("conn %d to the banned upstream still open", cn.id)
		}
	}
	if m.perUp[1] != 0 {
		t.Fatal("a block from the corrupt upstream counted")
	}
}

func TestScheduler_failures(t *testing.T) {
	for _, tc := range []struct {
		name string
		ups  []*simUp
		want error
	}{
		{"all refuse", []*simUp{{rate: mbps(10), refuse: true}, {rate: mbps(10), refuse: true}}, ErrNoUpstream},
		{"all corrupt", []*simUp{{rate: mbps(10), corrupt: true}}, ErrNoUpstream},
		{"all down", []*simUp{{rate: mbps(10), down: true}, {rate: mbps(10), down: true}}, ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newSim(t, Config{Conns: 2}, tc.ups...)
			m.start()
			m.want(7, 3)
			m.run(10 * time.Minute)
			if len(m.failed) != 3 {
				t.Fatalf("failed %d of 3", len(m.failed))
			}
			for k, err := range m.failed {
				if !errors.Is(err, tc.want) {
					t.Fatalf("chunk %v: %v, want %v", k, err, tc.want)
				}
			}
			if len(m.s.chunks) != 0 || len(m.s.queue) != 0 {
				t.Fatal("failed chunks still tracked")
			}
		})
	}
}

func TestScheduler_stalledConnectionClosed(t *testing.T) {
	a := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond}
	m := newSim(t, Config{Conns: 2, StallTimeout: time.Second, MaxCopies: 1}, a)
	m.start()
	m.settle(time.Second)
	// Conn 1 goes silent: it never delivers.
	for _, sc := range m.conns {
		if sc.id == 1 {
			sc.rate = 1 // a byte per second
		}
	}
	m.want(1, 20)
	m.run(time.Minute)
	if len(m.completed) != 20 {
		t.Fatalf("completed %d of 20", len(m.completed))
	}
	if _, ok := m.s.conns[1]; ok {
		t.Fatal("stalled conn 1 still open")
	}
}

// An idle connection takes a copy of the block everyone waits for when the
// copy in flight is on a much slower connection; the loser is cancelled.
func TestScheduler_duplicateStraggler(t *testing.T) {
	a := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond}
	m := newSim(t, Config{Conns: 2, Pipeline: 1}, a)
	m.start()
	m.settle(time.Second)
	// Warm both connections up so their rates are known (a rate is
	// measured over a quarter of a second at least).
	m.want(1, 40)
	m.run(time.Minute)
	for _, sc := range m.conns {
		if sc.id == 2 {
			sc.rate = mbps(1) // 2 s per block
		}
	}
	m.want(2, 2)
	m.run(time.Minute)
	if len(m.completed) != 42 {
		t.Fatalf("completed %d of 42", len(m.completed))
	}
	if m.cancels == 0 {
		t.Fatal("no duplicate was cancelled")
	}
	for k, c := range m.completed {
		if k.Object == 2 && c != 1 {
			t.Fatalf("block %v completed on the slow conn %d; the fast copy should win", k, c)
		}
	}
}

func TestScheduler_unwant(t *testing.T) {
	a := &simUp{rate: mbps(10), rtt: 5 * time.Millisecond}
	m := newSim(t, Config{Conns: 1, Pipeline: 1}, a)
	m.start()
	m.settle(time.Second)
	k0, k1 := ChunkKey{1, 0}, ChunkKey{1, 1}
	m.s.Want(m.now, k0, blockSize)
	m.s.Want(m.now, k1, blockSize)
	m.s.Want(m.now, k1, blockSize) // second waiter
	r := m.s.Ready(m.now)
	if len(r.Requests) != 1 || r.Requests[0].Chunk != k0 {
		t.Fatalf("requests %v", r.Requests)
	}
	m.s.Unwant(m.now, k1)
	if len(m.s.queue) != 1 {
		t.Fatal("k1 dropped while a waiter remains")
	}
	m.s.Unwant(m.now, k1)
	if len(m.s.queue) != 0 {
		t.Fatal("k1 still queued with no waiter")
	}
	m.s.Unwant(m.now, k0)
	r = m.s.Ready(m.now)
	if len(r.Cancels) != 1 || r.Cancels[0].Chunk != k0 {
		t.Fatalf("cancels %v, want k0", r.Cancels)
	}
	if len(m.s.chunks) != 0 {
		t.Fatal("chunks left")
	}
}

// A down upstream is probed, and when it answers it gets its share of
// connections back; the others' extra connections are drained.
func TestScheduler_recoveryRebalances(t *testing.T) {
	a := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond, down: true}
	b := &simUp{rate: mbps(100), rtt: 5 * time.Millisecond}
	m := newSim(t, Config{Conns: 4, DialBackoff: 100 * time.Millisecond, MaxDialBackoff: time.Second}, a, b)
	m.start()
	m.want(1, 40)
	m.run(time.Minute)
	count := func(u UpstreamID) (n int) {
		for _, cn := range m.s.conns {
			if cn.up == u && !cn.drain {
				n++
			}
		}
		return n
	}
	if count(1) != 4 {
		t.Fatalf("b has %d conns while a is down, want 4", count(1))
	}
	a.down = false
	m.want(2, 400)
	m.run(time.Minute)
	if count(0) != 2 || count(1) != 2 {
		t.Fatalf("after recovery a has %d, b %d; want 2 and 2", count(0), count(1))
	}
	if m.perUp[0] == 0 {
		t.Fatal("recovered upstream carried nothing")
	}
}

// Random failures never lose or duplicate a delivery, and every wanted
// block ends.
func TestScheduler_randomized(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var ups []*simUp
		for range 1 + rng.IntN(4) {
			ups = append(ups, &simUp{rate: mbps(float64(1 + rng.IntN(200))), rtt: time.Duration(1+rng.IntN(150)) * time.Millisecond})
		}
		m := newSim(t, Config{Conns: 1 + rng.IntN(12), Pipeline: 1 + rng.IntN(6), DialBackoff: 50 * time.Millisecond}, ups...)
		m.start()
		m.want(1, 100+rng.IntN(200))
		for i := range 5 {
			m.at(time.Duration(100+rng.IntN(3000))*time.Millisecond, func() {
				// Drop a random connection.
				for id := range m.conns {
					delete(m.conns, id)
					m.s.Lost(m.now, id)
					break
				}
				if i == 2 && len(ups) > 1 {
					ups[rng.IntN(len(ups))].corrupt = true
				}
				m.apply()
			})
		}
		m.run(time.Hour)
		if len(m.completed)+len(m.failed) != len(m.wanted) {
			t.Fatalf("seed %d: %d completed + %d failed of %d", seed, len(m.completed), len(m.failed), len(m.wanted))
		}
		healthy := false
		for _, u := range ups {
			healthy = healthy || !u.corrupt
		}
		if healthy && len(m.failed) > 0 {
			t.Fatalf("seed %d: %d chunks failed with a healthy upstream", seed, len(m.failed))
		}
	}
}

// BenchmarkScheduler measures one block's turn through the Scheduler: a
// Want, a Request and a Completed, with 64 blocks wanted and 32 in flight.
func BenchmarkScheduler(b *testing.B) {
	s, _ := New(Config{Upstreams: 2, Conns: 8, Pipeline: 4})
	now := time.Unix(0, 0)
	s.Tick(now)
	for _, d := range s.Ready(now).Dials {
		s.Dialed(now, d.Conn, true)
	}
	var pending []Request
	idx := uint32(0)
	for ; idx < 64; idx++ {
		s.Want(now, ChunkKey{1, idx}, blockSize)
	}
	pending = append(pending, s.Ready(now).Requests...)
	b.ReportAllocs()
	for b.Loop() {
		rq := pending[0]
		pending = pending[1:]
		now = now.Add(time.Millisecond)
		s.Completed(now, rq.Conn, rq.Chunk)
		s.Want(now, ChunkKey{1, idx}, blockSize)
		idx++
		pending = append(pending, s.Ready(now).Requests...)
	}
}

// At the end of a transfer the last blocks do not sit on the slow path:
// connections that would finish the rest of the queue first leave it to the
// faster ones, so the transfer ends close to the ideal time, with or without
// copies of late blocks.
func TestScheduler_tailEndsNearIdeal(t *testing.T) {
	run := func(copies int) (time.Duration, int) {
		fast := &simUp{rate: mbps(40), rtt: 20 * time.Millisecond}
		slow := &simUp{rate: mbps(5), rtt: 60 * time.Millisecond}
		m := newSim(t, Config{Conns: 4, Pipeline: 4, MaxCopies: copies}, fast, slow)
		m.start()
		m.settle(time.Second)
		start := m.now
		m.want(1, 200)
		m.run(10 * time.Minute)
		if len(m.completed) != 200 {
			t.Fatalf("copies=%d: completed %d", copies, len(m.completed))
		}
		return m.now.Sub(start), m.requests
	}
	// Two connections per path: 80 + 10 Mbit/s.
	ideal := time.Duration(200 * blockSize * 8 * int64(time.Second) / 90e6)
	for _, copies := range []int{1, 2} {
		d, requests := run(copies)
		t.Logf("copies=%d: 200 blocks in %v (ideal %v), %d requests", copies, d, ideal, requests)
		if d > ideal*105/100 {
			t.Errorf("copies=%d: %v, more than 5%% over the ideal %v", copies, d, ideal)
		}
		if requests > 200*105/100 {
			t.Errorf("copies=%d: %d requests for 200 blocks", copies, requests)
		}
	}
}

// wantWindowed models a reader: it wants blocks 0..n-1 of obj at most
// window ahead of the first block it has not received yet.
func (m *sim) wantWindowed(obj ObjectID, n, window int) {
	head, next := 0, 0
	got := map[int]bool{}
	var fill func()
	fill = func() {
		for next < n && next-head < window {
			k := ChunkKey{Object: obj, Index: uint32(next)}
			m.wanted[k] = true
			m.s.Want(m.now, k, blockSize)
			next++
		}
	}
	m.onComplete = func(k ChunkKey) {
		if k.Object != obj {
			return
		}
		got[int(k.Index)] = true
		for got[head] {
			head++
		}
		fill()
	}
	fill()
	m.apply()
}

// windowedThroughput starts the simulation, lets connections settle for a
// second, then has a reader with a window of window blocks fetch n blocks
// of object 1 and returns how long that took and the goodput in Mbit/s.
func (m *sim) windowedThroughput(n, window int, limit time.Duration) (time.Duration, float64) {
	m.start()
	m.settle(time.Second)
	start := m.now
	m.wantWindowed(1, n, window)
	m.run(limit)
	d := m.now.Sub(start)
	return d, float64(n*blockSize*8) / d.Seconds() / 1e6
}

// On two paths of different speed and delay, with a reader's window, the
// transfer runs near the sum of the paths, with one connection per path or
// four each, with a short pipeline or the default one.
func TestScheduler_twoPathsWindowed(t *testing.T) {
	// Seed 001's lab paths: 100 Mbit/s at 150 ms and 40 Mbit/s at 200 ms,
	// split over the connections of each path.
	for _, tc := range []struct {
		name           string
		cfg            Config
		rate1, rate2   float64 // per connection, Mbit/s
		carry, atLeast float64 // Mbit/s
	}{
		{"four connections each, pipeline 4", Config{Conns: 8, Pipeline: 4}, 25, 10, 140, 120},
		// One connection per path fills both paths: each keeps enough
		// requests in flight to cover its round trip at its rate.
		{"one connection each", Config{Conns: 2}, 80, 35, 115, 100},
		{"four connections each, default pipeline", Config{Conns: 8}, 25, 10, 140, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p1 := &simUp{rate: mbps(tc.rate1), rtt: 150 * time.Millisecond}
			p2 := &simUp{rate: mbps(tc.rate2), rtt: 200 * time.Millisecond}
			m := newSim(t, tc.cfg, p1, p2)
			const n = 800
			d, got := m.windowedThroughput(n, 64, 10*time.Minute)
			if len(m.completed) != n {
				t.Fatalf("completed %d", len(m.completed))
			}
			t.Logf("%d blocks in %v: %.1f Mbit/s of %.0f; per upstream %v, %d requests", n, d, got, tc.carry, m.perUp, m.requests)
			if got < tc.atLeast {
				t.Fatalf("%.1f Mbit/s, want at least %.0f of the %.0f the paths carry", got, tc.atLeast, tc.carry)
			}
		})
	}
}

// An upstream that failed is redialed on demand at once, not after its
// backoff, but at most once a HurryEvery; an Unusable one keeps its wait.
func TestScheduler_hurry(t *testing.T) {
	s, err := New(Config{Upstreams: 2, Conns: 2, DownAfter: 1, MaxDialBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	// Both upstreams refuse their dials until the backoff is long.
	for range 10 {
		for _, d := range s.Ready(now).Dials {
			s.Dialed(now, d.Conn, false)
		}
		now = now.Add(time.Minute)
		s.Tick(now)
	}
	for _, d := range s.Ready(now).Dials {
		s.Dialed(now, d.Conn, false)
	}
	s.Unusable(now, 1)
	if r := s.Ready(now); len(r.Dials) != 0 {
		t.Fatalf("dials %v right after failures", r.Dials)
	}
	dials := func() []UpstreamID {
		var ups []UpstreamID
		for _, d := range s.Ready(now).Dials {
			ups = append(ups, d.Upstream)
			s.Dialed(now, d.Conn, false)
		}
		return ups
	}
	now = now.Add(10 * time.Millisecond)
	s.Hurry(now)
	if got := dials(); len(got) != 1 || got[0] != 0 {
		t.Fatalf("Hurry dialed %v, want upstream 0 only", got)
	}
	now = now.Add(HurryEvery / 2)
	s.Hurry(now)
	if got := dials(); len(got) != 0 {
		t.Fatalf("a second Hurry within HurryEvery dialed %v", got)
	}
	now = now.Add(HurryEvery)
	s.Hurry(now)
	if got := dials(); len(got) != 1 || got[0] != 0 {
		t.Fatalf("Hurry after HurryEvery dialed %v, want upstream 0", got)
	}
}

// A block whose connection goes silent before any rate was measured (its
// node froze) gets a copy on an idle connection of another upstream once
// the silence passes a second, not after StallTimeout/4; and an idle
// connection with no rate of its own may carry it.
func TestScheduler_copyFromFrozenUpstream(t *testing.T) {
	s, err := New(Config{Upstreams: 2, Conns: 4, StallTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	for _, d := range s.Ready(now).Dials {
		s.Dialed(now, d.Conn, true)
	}
	s.Ready(now)
	x := ChunkKey{1, 0}
	s.Want(now, x, 1<<18)
	r := s.Ready(now)
	if len(r.Requests) != 1 {
		t.Fatalf("requests %v, want one", r.Requests)
	}
	owner := s.conns[r.Requests[0].Conn]
	for _, step := range []time.Duration{500 * time.Millisecond, 400 * time.Millisecond} {
		now = now.Add(step)
		s.Tick(now)
		if r := s.Ready(now); len(r.Requests) != 0 {
			t.Fatalf("a copy %v after %v of silence", r.Requests, now.Sub(time.Unix(1000, 0)))
		}
	}
	now = now.Add(200 * time.Millisecond)
	s.Tick(now)
	r = s.Ready(now)
	if len(r.Requests) != 1 {
		t.Fatalf("after 1.1 s of silence: requests %v, want one copy", r.Requests)
	}
	if cp := s.conns[r.Requests[0].Conn]; cp.up == owner.up {
		t.Errorf("the copy went to upstream %d, the frozen one's", cp.up)
	}
}

// With sizing on, a loss-limited upstream (each connection gets 2 Mbit/s)
// gets connections until they fill its path; one where a single
// connection fills it keeps its share; two loss-limited upstreams of
// different capacities each grow to fill their own.
func TestScheduler_sizing(t *testing.T) {
	type upstream struct {
		perConn, capacity  float64
		minConns, maxConns int
	}
	tests := []struct {
		name     string
		ups      []upstream
		minShare float64 // of the capacities together, over the last 20 s
	}{
		{"loss-limited", []upstream{{mbps(2), mbps(40), 16, 48}}, 0.8},
		{"one connection fills the path", []upstream{{mbps(40), mbps(40), 4, 4}}, 0.95},
		{"two loss-limited paths", []upstream{{mbps(2), mbps(40), 12, 48}, {mbps(2), mbps(20), 6, 24}}, 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ups []*simUp
			var capacity float64
			for _, u := range tt.ups {
				ups = append(ups, &simUp{rate: u.perConn, capacity: u.capacity, rtt: 150 * time.Millisecond})
				capacity += u.capacity
			}
			m := newSim(t, Config{Conns: 4 * len(ups), MaxConns: 256}, ups...)
			m.stream = true
			m.flow()
			m.start()
			m.wantWindowed(1, 20000, 600) // a reader 150 MiB ahead, of more than 60 s of the paths
			var done []time.Time
			fill := m.onComplete
			m.onComplete = func(k ChunkKey) { done = append(done, m.now); fill(k) }
			start := m.now
			m.settle(60 * time.Second)
			var last int
			for _, at := range done {
				if at.Sub(start) >= 40*time.Second {
					last++
				}
			}
			got := float64(last*blockSize) / 20
			if got < tt.minShare*capacity {
				t.Errorf("%.1f Mbit/s over the last 20 s, want at least %.0f%% of %.0f", got*8/1e6, tt.minShare*100, capacity*8/1e6)
			}
			for i, u := range tt.ups {
				target, reason, detail, ok := m.s.Sizing(UpstreamID(i))
				if !ok || detail == "" {
					t.Fatalf("upstream %d: no sizing reported", i)
				}
				kept := target
				if reason == congestion.ReasonProbing {
					kept /= 2 // it tries again now and then: the count before the step is the one it keeps
				}
				if kept < u.minConns || kept > u.maxConns {
					t.Errorf("upstream %d: %d connections kept after 60 s (target %d, %v), want %d..%d", i, kept, target, reason, u.minConns, u.maxConns)
				}
				t.Logf("upstream %d: target %d: %v: %s", i, target, reason, detail)
			}
			t.Logf("%d connections, %.1f Mbit/s", len(m.conns), got*8/1e6)
		})
	}
}
