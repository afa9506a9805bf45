package transfer

import (
	"sync/atomic"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
	"github.com/aqueduct-cdn/aqueduct/internal/tcpinfo"
)

// counters are the engine's statistics; see Stats.
type counters struct {
	blocks, bytes, corrupt, storeHits, storeDrops, dials, dialFails atomic.Int64
	copies, wasted                                                  atomic.Int64
	objects, readers                                                atomic.Int64
	stale, hedges                                                   atomic.Int64
}

// upCounters are one upstream's statistics; see UpstreamStats.
type upCounters struct {
	requests, bytes, refused, corrupt, bans, dials, dialFails, lost, stalls atomic.Int64
	retransGone                                                             atomic.Int64 // of connections no longer held
	sizing                                                                  atomic.Pointer[sizing]
}

// sizing is an upstream's connection target and its reason, as the loop
// last heard them from the scheduler.
type sizing struct {
	target         int
	reason, detail string
}

// Stats is a snapshot of an Engine's counters.
type Stats struct {
	Blocks, Bytes    int64 // fetched from upstreams and verified
	Corrupt          int64 // blocks that failed verification
	StoreHits        int64 // blocks served from the store
	StoreDrops       int64 // verified blocks not cached because the writer was busy
	Dials, DialFails int64
	Copies           int64 // second copies of late blocks requested
	WastedBytes      int64 // bytes fetched that nobody wanted any more (the copy that lost)
	Conns            int   // ready connections

	Objects     int64 // open Objects
	Readers     int64 // open Readers
	Memory      int64 // bytes of block buffers the readers hold
	MemoryLimit int64 // Config.MemoryLimit

	Reclaimed    int64 // bytes of budget that stalled readers gave back
	MemoryWaits  int64 // next blocks that waited for memory
	MemoryBusies int64 // reads that failed with ErrBusy after MemoryWait

	StaleOpens int64 // opens served a stale description because no upstream could revalidate it
	Hedges     int64 // descriptions asked for again elsewhere because the first upstream was slow to answer
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	n := len(e.ready)
	e.mu.Unlock()
	c := &e.stats
	return Stats{
		Blocks: c.blocks.Load(), Bytes: c.bytes.Load(), Corrupt: c.corrupt.Load(),
		StoreHits: c.storeHits.Load(), StoreDrops: c.storeDrops.Load(),
		Dials: c.dials.Load(), DialFails: c.dialFails.Load(),
		Copies: c.copies.Load(), WastedBytes: c.wasted.Load(), Conns: n,
		Objects: c.objects.Load(), Readers: c.readers.Load(),
		Memory: e.mem.used.Load(), MemoryLimit: e.cfg.MemoryLimit,
		Reclaimed: e.mem.reclaimed.Load(), MemoryWaits: e.mem.waits.Load(), MemoryBusies: e.mem.timeouts.Load(),
		StaleOpens: c.stale.Load(), Hedges: c.hedges.Load(),
	}
}

// UpstreamStats is what the engine knows of one upstream, for metrics.
type UpstreamStats struct {
	Addr             string
	Requests         int64 // block requests sent
	Bytes            int64 // verified bytes received
	Refused          int64 // opens and requests it refused (no such object, cannot reach its own upstreams)
	Corrupt          int64 // blocks that failed verification
	Bans             int64 // times it was banned for a corrupt block
	Dials, DialFails int64
	Lost             int64 // connections that failed (not those closed after GOAWAY)
	Stalls           int64 // connections closed because no data came for StallTimeout
	Retransmits      int64 // TCP segments its connections retransmitted (read when stats are asked for, and at each connection's end)
	// Target is the count of connections the engine wants to the upstream,
	// Reason the word for why (congestion.Reason: "start", "growing",
	// "plateau", ...) and Detail the sentence the log gave; zero values
	// until the count was first resized.
	Target         int
	Reason, Detail string
	Conns          []ConnStats
}

// ConnStats is the kernel's view of one ready connection (Linux TCP_INFO;
// of one subflow on an MPTCP connection). The TCP fields are zero where
// the kernel cannot tell.
type ConnStats struct {
	ID           uint32
	MPTCP        bool
	RTT          time.Duration // smoothed round-trip time
	MinRTT       time.Duration
	Cwnd         uint32 // congestion window, in segments
	DeliveryRate uint64 // bytes per second, the kernel's estimate
	Retransmits  uint32 // segments retransmitted over the connection's life

	// The congestion manager's estimates, bytes per second: while the
	// connection has requests outstanding (Rate), and per second, idle
	// time included (Goodput).
	Rate, Goodput float64
}

// Upstreams returns a snapshot per upstream, in Config.Upstreams order,
// with the kernel's view of each ready connection read now.
func (e *Engine) Upstreams() []UpstreamStats {
	e.mu.Lock()
	ready := e.ready
	e.mu.Unlock()
	out := make([]UpstreamStats, len(e.cfg.Upstreams))
	for i, addr := range e.cfg.Upstreams {
		u := &e.ups[i]
		out[i] = UpstreamStats{
			Addr: addr, Requests: u.requests.Load(), Bytes: u.bytes.Load(), Refused: u.refused.Load(),
			Corrupt: u.corrupt.Load(), Bans: u.bans.Load(), Dials: u.dials.Load(), DialFails: u.dialFails.Load(),
			Lost: u.lost.Load(), Stalls: u.stalls.Load(), Retransmits: u.retransGone.Load(),
		}
		if sz := u.sizing.Load(); sz != nil {
			out[i].Target, out[i].Reason, out[i].Detail = sz.target, sz.reason, sz.detail
		}
	}
	for _, c := range ready {
		if c.pc.Err() != nil {
			continue
		}
		est := c.flow.Query()
		cs := ConnStats{ID: uint32(c.id), MPTCP: sockopt.MultipathTCP(c.pc.NetConn()), Rate: est.Rate, Goodput: est.Goodput}
		if ti, err := tcpinfo.Get(c.pc.NetConn()); err == nil {
			cs.RTT, cs.MinRTT, cs.Cwnd, cs.DeliveryRate, cs.Retransmits = ti.RTT, ti.MinRTT, ti.Cwnd, ti.DeliveryRate, ti.TotalRetrans
			c.retrans.Store(max(c.retrans.Load(), ti.TotalRetrans))
		}
		out[c.up].Retransmits += int64(c.retrans.Load())
		out[c.up].Conns = append(out[c.up].Conns, cs)
	}
	return out
}

// rate hands the scheduler the CM's estimate of c: its round trip, which
// sizes its pipeline, and its rate while busy, which orders the
// connections and predicts when each delivers. Only the loop calls it.
func (e *Engine) rate(c *engConn) {
	est := c.flow.Query()
	if est.Shared {
		// A connection's rate is its upstream node's as much as its
		// path's, and a macroflow may hold several nodes (all of them,
		// on loopback): one that has measured nothing is scheduled as
		// unmeasured, not with the others' rates (it would look fast to
		// a node that is frozen).
		est = congestion.Estimate{}
	}
	e.sched.SetRTT(c.id, est.RTT)
	e.sched.SetRate(c.id, est.Rate, c.flow.Delivered(), est.Loss)
}
