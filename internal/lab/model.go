package lab

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// This file computes the TCP throughput predictions of seed 002, section V:
//
//	(1) T = s / (rtt·(√(2p/3) + 12·√(3p/8)·p·(1+32p²)))   Padhye et al., with RTO = 4·rtt
//	    T ≈ s·√1.5 / (rtt·√p)                              the simple form
//	(2) T ≈ min over hops i of s·√1.5 / (rtt_i·√p_i)       a chain of loosely coupled TCPs
//	(3) T ≈ s·√1.5 / (Σrtt_i · √(1 − Π(1 − p_i)))          the chain treated as one path
//
// Assumptions, stated in every report: s is the MSS, 1448 bytes (a 1500-byte
// MTU less 20 bytes of IPv4, 20 of TCP and 12 of timestamps); rtt_i is the
// hop's round trip from the configured one-way delays, without queueing or
// serialisation; p_i is the loss rate configured in the data direction
// (losses of ACKs are ignored); throughput is goodput, in bits of payload.

// ModelMSS is the segment size the model assumes.
const ModelMSS = 1448

// Hop is one TCP connection's path for the model.
type Hop struct {
	RTT  time.Duration
	Loss float64
}

// TCPSimple returns the simple form of equation (1), in bit/s, or +Inf for
// a lossless hop.
func TCPSimple(mss int, h Hop) float64 {
	if h.Loss <= 0 {
		return math.Inf(1)
	}
	return float64(mss) * 8 * math.Sqrt(1.5) / (h.RTT.Seconds() * math.Sqrt(h.Loss))
}

// TCPFull returns equation (1) with RTO = 4·rtt, in bit/s, or +Inf for a
// lossless hop.
func TCPFull(mss int, h Hop) float64 {
	p := h.Loss
	if p <= 0 {
		return math.Inf(1)
	}
	den := h.RTT.Seconds() * (math.Sqrt(2*p/3) + 12*math.Sqrt(3*p/8)*p*(1+32*p*p))
	return float64(mss) * 8 / den
}

// Prediction is the model's throughput for one data path, in Mbit/s.
type Prediction struct {
	Path    []string `json:"path"`
	MSS     int      `json:"mss"`
	Eq1Full float64  `json:"eq1_full_mbps"` // min over hops of equation (1), full form
	Eq2     float64  `json:"eq2_mbps"`      // equation (2): min over hops of the simple form
	Eq3     float64  `json:"eq3_mbps"`      // equation (3): the path as one TCP
}

// Predict returns the model's throughput over hops.
func Predict(path []string, hops []Hop, mss int) Prediction {
	pr := Prediction{Path: path, MSS: mss, Eq1Full: math.Inf(1), Eq2: math.Inf(1)}
	var rtt time.Duration
	keep := 1.0
	for _, h := range hops {
		pr.Eq1Full = math.Min(pr.Eq1Full, TCPFull(mss, h)/1e6)
		pr.Eq2 = math.Min(pr.Eq2, TCPSimple(mss, h)/1e6)
		rtt += h.RTT
		keep *= 1 - h.Loss
	}
	pr.Eq3 = TCPSimple(mss, Hop{RTT: rtt, Loss: 1 - keep}) / 1e6
	return pr
}

// modelHops returns the hops of a data path through the experiment's links:
// rtt from both directions' delays, loss from the data direction.
func (e *Experiment) modelHops(path []string) ([]Hop, error) {
	var hops []Hop
	for i := 1; i < len(path); i++ {
		l, ok := e.linkBetween(path[i-1], path[i])
		if !ok {
			return nil, fmt.Errorf("model: no link between %s and %s", path[i-1], path[i])
		}
		hops = append(hops, Hop{RTT: l.AB.Delay + l.BA.Delay, Loss: l.AB.Loss.Mean()})
	}
	return hops, nil
}

// MarshalJSON writes unbounded predictions (lossless hops) as null.
func (p Prediction) MarshalJSON() ([]byte, error) {
	fin := func(v float64) *float64 {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		Path    []string `json:"path"`
		MSS     int      `json:"mss"`
		Eq1Full *float64 `json:"eq1_full_mbps"`
		Eq2     *float64 `json:"eq2_mbps"`
		Eq3     *float64 `json:"eq3_mbps"`
	}{p.Path, p.MSS, fin(p.Eq1Full), fin(p.Eq2), fin(p.Eq3)})
}

// UnmarshalJSON reads what MarshalJSON writes, null as +Inf.
func (p *Prediction) UnmarshalJSON(b []byte) error {
	var v struct {
		Path    []string `json:"path"`
		MSS     int      `json:"mss"`
		Eq1Full *float64 `json:"eq1_full_mbps"`
		Eq2     *float64 `json:"eq2_mbps"`
		Eq3     *float64 `json:"eq3_mbps"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	inf := func(f *float64) float64 {
		if f == nil {
			return math.Inf(1)
		}
		return *f
	}
	*p = Prediction{Path: v.Path, MSS: v.MSS, Eq1Full: inf(v.Eq1Full), Eq2: inf(v.Eq2), Eq3: inf(v.Eq3)}
	return nil
}
