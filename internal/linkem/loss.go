package linkem

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Loss describes a packet loss process as a Gilbert–Elliott chain: a
// two-state Markov chain, Good and Bad, that moves from Good to Bad with
// probability P and from Bad to Good with probability R after each packet,
// and loses a packet with probability Good in the Good state and Bad in the
// Bad state. Independent (Bernoulli) loss is the chain that never leaves
// Good. The zero value loses nothing.
//
// Build one with [IID], [Bursty] or [GilbertElliott].
type Loss struct {
	P    float64 // probability of moving Good→Bad after a packet
	R    float64 // probability of moving Bad→Good after a packet
	Good float64 // loss probability in the Good state
	Bad  float64 // loss probability in the Bad state
}

// IID returns independent loss with probability p per packet.
func IID(p float64) Loss { return Loss{Good: p} }

// Bursty returns the simple Gilbert model with a mean loss rate of mean and
// a mean loss burst of burst packets: every packet in the Bad state is lost,
// none in the Good state. It panics unless 0 ≤ mean < 1 and burst ≥ 1.
func Bursty(mean, burst float64) Loss {
	if mean < 0 || mean >= 1 || burst < 1 {
		panic(fmt.Sprintf("linkem: Bursty(%v, %v): need 0 ≤ mean < 1 and burst ≥ 1", mean, burst))
	}
	if mean == 0 {
		return Loss{}
	}
	r := 1 / burst
	return Loss{P: mean * r / (1 - mean), R: r, Good: 0, Bad: 1}
}

// GilbertElliott returns the general chain with the given transition and
// per-state loss probabilities.
func GilbertElliott(p, r, good, bad float64) Loss {
	return Loss{P: p, R: r, Good: good, Bad: bad}
}

// Mean returns the long-run fraction of packets lost.
func (l Loss) Mean() float64 {
	if l.P == 0 {
		return l.Good
	}
	return (l.R*l.Good + l.P*l.Bad) / (l.P + l.R)
}

// MeanBurst returns the mean number of consecutive packets spent in the Bad
// state, or 0 for independent loss.
func (l Loss) MeanBurst() float64 {
	if l.P == 0 || l.R == 0 {
		return 0
	}
	return 1 / l.R
}

// IsZero reports whether l never loses a packet.
func (l Loss) IsZero() bool { return l.Good == 0 && (l.P == 0 || l.Bad == 0) }

// Validate reports whether every probability is in [0, 1] and the chain can
// leave the Bad state once it has entered it.
func (l Loss) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"p", l.P}, {"r", l.R}, {"good", l.Good}, {"bad", l.Bad}} {
		if !(f.v >= 0 && f.v <= 1) { // also catches NaN
			return fmt.Errorf("loss %s = %v outside [0, 1]", f.name, f.v)
		}
	}
	if l.P > 0 && l.R == 0 {
		return errors.New("loss: r = 0 with p > 0 would stay in the Bad state forever")
	}
	return nil
}

// String describes l, for instance "1%" or "1% in bursts of 4 (GE p=… r=…)".
func (l Loss) String() string {
	if l.IsZero() {
		return "none"
	}
	mean := pct(l.Mean())
	if l.P == 0 {
		return mean
	}
	return fmt.Sprintf("%s in bursts of %s (Gilbert–Elliott p=%s r=%s good=%s bad=%s)",
		mean, strconv.FormatFloat(l.MeanBurst(), 'g', 3, 64),
		strconv.FormatFloat(l.P, 'g', 4, 64), strconv.FormatFloat(l.R, 'g', 4, 64),
		strconv.FormatFloat(l.Good, 'g', 4, 64), strconv.FormatFloat(l.Bad, 'g', 4, 64))
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'g', 4, 64) + "%" }

// lossState runs a Loss chain. It is not safe for concurrent use.
type lossState struct {
	Loss
	bad bool
}

// lose decides the fate of the next packet and advances the chain.
func (s *lossState) lose(rng *rand.Rand) bool {
	p := s.Good
	if s.bad {
		p = s.Bad
	}
	lost := p > 0 && rng.Float64() < p
	if s.bad {
		if rng.Float64() < s.R {
			s.bad = false
		}
	} else if s.P > 0 && rng.Float64() < s.P {
		s.bad = true
	}
	return lost
}
