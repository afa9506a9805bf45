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
	// Timeout says the flow saw persistent congestion (a retransmission
	// timeout, the paper's CM_LOST_FEEDBACK): the rate estimate halves at
	// once instead of waiting for the average to fall.
	Timeout bool
}

// An Estimate is what the CM believes of a flow or a macroflow.
type Estimate struct {
	Rate   float64       // goodput, bytes per second
	RTT    time.Duration // smoothed round trip
	MinRTT time.Duration // the path's delay without queueing
	Loss   float64       // fraction of what was sent that was lost, 0..1
	At     time.Time     // the newest sample folded in; zero: none yet
}

// Known reports whether e rests on at least one measured interval.
func (e Estimate) Known() bool { return !e.At.IsZero() }

// An Estimator turns one flow's samples into an estimate. It is called
// with the Manager's lock held, never concurrently.
type Estimator interface {
	Observe(Sample)
	Estimate() Estimate
}

// DefaultHalfLife is how fast NewEWMA forgets: an observation's weight
// halves after this long.
const DefaultHalfLife = time.Second

// NewEWMA returns an Estimator that smooths goodput, loss and RTT with
// exponential weights that halve every halfLife of sample time, so that
// samples taken at an irregular interval weigh by the time they cover.
func NewEWMA(halfLife time.Duration) Estimator {
	if halfLife <= 0 {
		halfLife = DefaultHalfLife
	}
	return &ewma{halfLife: halfLife}
}

type ewma struct {
	halfLife time.Duration
	prev     Sample
	havePrev bool
	est      Estimate
	haveRate bool
}

func (e *ewma) Observe(s Sample) {
	if s.MinRTT > 0 && (e.est.MinRTT == 0 || s.MinRTT < e.est.MinRTT) {
		e.est.MinRTT = s.MinRTT
	}
	prev, ok := e.prev, e.havePrev
	e.prev, e.havePrev = s, true
	if !ok || s.Delivered < prev.Delivered || s.Sent < prev.Sent || s.Lost < prev.Lost {
		return // a baseline: nothing to difference yet
	}
	dt := s.At.Sub(prev.At)
	if dt <= 0 {
		return
	}
	w := 1 - math.Exp2(-float64(dt)/float64(e.halfLife))
	rate := float64(s.Delivered-prev.Delivered) / dt.Seconds()
	if !e.haveRate {
		e.est.Rate, e.haveRate = rate, true
	} else {
		e.est.Rate += w * (rate - e.est.Rate)
	}
	if s.Timeout {
		e.est.Rate /= 2
	}
	if sent := s.Sent - prev.Sent; sent > 0 {
		loss := min(1, float64(s.Lost-prev.Lost)/float64(sent))
		e.est.Loss += w * (loss - e.est.Loss)
	}
	if s.RTT > 0 {
		if e.est.RTT == 0 {
			e.est.RTT = s.RTT
		} else {
			e.est.RTT += time.Duration(w * float64(s.RTT-e.est.RTT))
		}
	}
	e.est.At = s.At
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
