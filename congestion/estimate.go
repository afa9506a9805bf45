package congestion

import (
	"math"
	"time"
)

// A Sample is one observation of a flow. Its counters are cumulative over
// the flow's life, as TCP_INFO's are; the estimator takes differences. A
// counter that goes backwards starts a new baseline.
type Sample struct {
	At        time.Time
	Delivered uint64 // bytes the receiving end has acknowledged or received
	// Sent and Lost count in one unit of the flow's choosing (TCP flows:
	// segments sent and retransmitted); only their ratio is used.
	Sent, Lost uint64
	RTT        time.Duration // smoothed round trip; 0 when unknown
	MinRTT     time.Duration // the least seen; 0 when unknown
	// Busy is the time the flow had demand (data queued to send, requests
	// outstanding), cumulative. When the flow counts it, its rate is
	// delivered bytes per busy second: what the path gives the flow when
	// it asks, not how much it asked; an idle flow keeps its estimate.
	// Zero: not counted, the rate is per second of sample time.
	Busy time.Duration
	// Timeout says the flow saw persistent congestion (a retransmission
	// timeout, the paper's CM_LOST_FEEDBACK): the rate estimate halves at
	// once instead of waiting for the average to fall.
	Timeout bool
}

// An Estimate is what the CM believes of a flow or a macroflow.
type Estimate struct {
	// Rate is what the flow gets while it has demand, bytes per second:
	// per busy second where the flow counts its busy time (Sample.Busy),
	// else the same as Goodput.
	Rate float64
	// Goodput is what the flow delivered per second of sample time, idle
	// time included: what several flows moved together is the sum of their
	// goodputs, whether or not they were busy at once.
	Goodput float64
	RTT     time.Duration // smoothed round trip
	MinRTT  time.Duration // the path's delay without queueing
	Loss    float64       // fraction of what was sent that was lost, 0..1
	At      time.Time     // the newest sample folded in; zero: none yet
	// Shared says that the estimate is not the flow's own but its
	// macroflow's per-flow share: the flow has measured nothing yet (see
	// Flow.Query).
	Shared bool
}

// Known reports whether e rests on at least one measured interval (its
// Goodput does; its Rate may not yet, on a flow that has hardly been busy).
func (e Estimate) Known() bool { return !e.At.IsZero() }

// An Estimator turns one flow's samples into an estimate. It is called
// with the Manager's lock held, never concurrently.
type Estimator interface {
	Observe(Sample)
	Estimate() Estimate
}

// DefaultHalfLife is how fast NewEWMA forgets: an observation's weight
// halves after this long.
const DefaultHalfLife = 500 * time.Millisecond

// NewEWMA returns an Estimator that smooths goodput, loss and RTT with
// exponential weights that halve every halfLife, so that samples taken at
// an irregular interval weigh by the time they cover.
//
// A rate is measured over at least a quarter of halfLife: shorter samples
// accumulate into one. Data arrives in bursts (a retransmission fills a
// hole and releases everything behind it), and a rate over a few
// milliseconds says more about the burst than about the path. Where the
// flow counts its busy time, the rate is over the busy time within the
// interval and weighs by it: a flow that was busy for a moment of it says
// little, one that was idle all along nothing.
func NewEWMA(halfLife time.Duration) Estimator {
	if halfLife <= 0 {
		halfLife = DefaultHalfLife
	}
	return &ewma{halfLife: halfLife}
}

type ewma struct {
	halfLife time.Duration
	base     Sample    // the start of the rate interval in progress
	haveBase bool      //
	gbase    Sample    // the start of the goodput interval in progress
	lastAt   time.Time // the previous sample's time, for the RTT's weight
	est      Estimate
	haveRate bool
	haveGood bool
}

func (e *ewma) weight(d time.Duration) float64 {
	return 1 - math.Exp2(-float64(d)/float64(e.halfLife))
}

func (e *ewma) Observe(s Sample) {
	if s.MinRTT > 0 && (e.est.MinRTT == 0 || s.MinRTT < e.est.MinRTT) {
		e.est.MinRTT = s.MinRTT
	}
	if s.RTT > 0 {
		if e.est.RTT == 0 {
			e.est.RTT = s.RTT
		} else if dt := s.At.Sub(e.lastAt); dt > 0 {
			e.est.RTT += time.Duration(e.weight(dt) * float64(s.RTT-e.est.RTT))
		}
	}
	if s.At.After(e.lastAt) {
		e.lastAt = s.At
	}
	b := e.base
	if !e.haveBase || s.Delivered < b.Delivered || s.Sent < b.Sent || s.Lost < b.Lost || s.Busy < b.Busy {
		e.base, e.gbase, e.haveBase = s, s, true // a baseline: nothing to difference yet
		return
	}
	if dt := s.At.Sub(e.gbase.At); dt >= e.halfLife/4 {
		g := float64(s.Delivered-e.gbase.Delivered) / dt.Seconds()
		if !e.haveGood {
			e.est.Goodput, e.haveGood = g, true
		} else {
			e.est.Goodput += e.weight(dt) * (g - e.est.Goodput)
		}
		e.gbase = s
		e.est.At = s.At
	}
	if s.Timeout && e.haveRate {
		e.est.Rate /= 2
		e.est.Goodput /= 2
		e.est.At = s.At
		e.base = s // the interval that timed out says nothing more
		return
	}
	if s.At.Sub(b.At) < e.halfLife/4 {
		return // too short to measure: let it grow
	}
	interval := s.At.Sub(b.At)
	if s.Busy > 0 {
		interval = s.Busy - b.Busy
		if interval <= 0 {
			e.base = s // idle all along: nothing learnt, nothing owed
			return
		}
	}
	w := e.weight(interval)
	rate := float64(s.Delivered-b.Delivered) / interval.Seconds()
	if !e.haveRate {
		e.est.Rate, e.haveRate = rate, true
	} else {
		e.est.Rate += w * (rate - e.est.Rate)
	}
	if sent := s.Sent - b.Sent; sent > 0 {
		loss := min(1, float64(s.Lost-b.Lost)/float64(sent))
		e.est.Loss += w * (loss - e.est.Loss)
	}
	e.est.At = s.At
	e.base = s
}

func (e *ewma) Estimate() Estimate { return e.est }

// fold combines the estimates of a macroflow's flows: rates add, RTT and
// loss are weighted by rate (by count while no flow has a rate), the
// minimum RTT is the least.
func fold(ests []Estimate) Estimate {
	var out Estimate
	var rtt, rttWeight, loss, weight float64
	var n int
	for _, e := range ests {
		if !e.Known() {
			continue
		}
		n++
		out.Rate += e.Rate
		out.Goodput += e.Goodput
		if e.At.After(out.At) {
			out.At = e.At
		}
		if e.MinRTT > 0 && (out.MinRTT == 0 || e.MinRTT < out.MinRTT) {
			out.MinRTT = e.MinRTT
		}
	}
	for _, e := range ests {
		if !e.Known() {
			continue
		}
		w := 1.0
		if out.Rate > 0 {
			w = e.Rate / out.Rate
		}
		if e.RTT > 0 {
			rtt += w * float64(e.RTT)
			rttWeight += w
		}
		loss += w * e.Loss
		weight += w
	}
	if n > 0 && weight > 0 {
		out.Loss = loss / weight
	}
	if rttWeight > 0 {
		out.RTT = time.Duration(rtt / rttWeight)
	}
	return out
}
