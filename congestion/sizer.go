package congestion

import (
	"fmt"
	"math"
	"time"
)

// A Sizer decides how many parallel connections to keep to one
// destination, from the rate they get together. It is a pure state
// machine: the caller feeds it observations and opens or closes
// connections to match its Target.
//
// On a path whose rate per connection is limited by loss (a loss-based
// congestion control such as CUBIC or Reno, whose rate falls with the
// square root of the loss rate whatever the path's capacity), more
// connections carry proportionally more until together they fill the
// path; on a path where one connection already fills it (BBR, or no
// loss), more only share the same rate. The Sizer finds out which by
// trying: once the connections have warmed up and been measured busy, it
// doubles their number and measures again. If the rate rose by at least
// Gain of the proportional increase, the step paid and it doubles again
// (quadruples, if the connections kept nine tenths of their rate each:
// the path is far from full); if not, the path filled within the step, and it keeps the count that
// carries the larger rate at the smaller count's rate per connection (the
// knee; the smaller count if the step brought less than a tenth more),
// and holds there for Hold before it tries again (paths and their cross
// traffic change). There is no fixed cap like aria2's 16 connections,
// only Max, which the caller derives from its budget.
//
// Nothing is learnt while the connections are not kept busy: a
// destination whose readers want less than it can carry is
// demand-limited, and its count stays.
type Sizer struct {
	cfg SizerConfig

	target int
	reason Reason
	detail string

	probing bool    // a step up is being measured
	base    int     // the count before the step
	baseR   float64 // and the rate it got

	// The measurement in progress: the count reached target at since
	// (zero while it has not); from mark on, with mdel bytes delivered
	// then, the destination's rate is measured, in two halves (the second
	// from mid, mid bytes) whose rates must agree.
	since, mark, midAt time.Time
	mdel, mid          uint64
	msat               time.Duration // the saturated time at mark
	retries            int           // measurements restarted because the halves disagreed
	holdTo             time.Time     // no step up before this
	fruitless          int           // steps in a row that did not pay
	holdPending        bool          // hold from the first observation (Remembered)
	settles            int           // measurements restarted because the connections were still settling
}

// maxSettles bounds the measurements restarted while the connections'
// windows are far above the loss-limited one: a congestion control that
// does not back off at loss (BBR) stays there.
const maxSettles = 4

// SizerConfig configures a Sizer. Zero fields take the defaults given.
type SizerConfig struct {
	Min, Max int // bounds of the count; default 1 and 256
	Initial  int // the count to start with; default Min
	// Remembered says that Initial is what an earlier sizing of the same
	// destination settled on: the Sizer holds it for Hold before it
	// tries more, as after a step that did not pay.
	Remembered bool
	// After a change the connections warm up for Warmup (new ones leave
	// slow start; a step back drains) and then their rate is measured
	// over Measure; default 0.5 s and 1 s, and at least 8 round trips
	// each: on a long path every step costs seconds, and a transfer
	// that must ramp from 8 to 100 connections cannot spend many.
	// A loss-limited flow's rate swings with every loss: the
	// measurement is of bytes delivered over the whole time, not of an
	// estimate at its end. And it must be steady: if the rate of its
	// second half is off that of its first by more than a third (flows
	// coming down from the rate slow start gave them, or still ramping
	// up), the measurement goes on from the second half, up to
	// MaxRetries times (default 4).
	Warmup, Measure time.Duration
	MaxRetries      int
	// Hold is how long the count stays after a step that did not pay
	// before another is tried; default 15 s. It doubles with each such
	// step in a row, up to 16 times.
	Hold time.Duration
	// Gain is the part of the proportional increase a step must bring to
	// count as paying: doubling 8 connections to 16 pays with Gain 0.3 if
	// the rate rises by 30% or more. Default 0.3: low, because a rate
	// measured just after connections opened is still coming down from
	// slow start, and a step judged against it looks worse than it is
	// (the knee then keeps what it brought).
	Gain float64
}

// Reason says why a Sizer's count is what it is.
type Reason int

const (
	ReasonStart   Reason = iota // the initial count, nothing measured yet
	ReasonDemand                // the connections were not kept busy: nothing to learn
	ReasonProbing               // a step up is being measured
	ReasonGrowing               // the last step paid; the next one is being measured
	ReasonPlateau               // the last step did not pay: back to the count before it
	ReasonMax                   // at Max
)

func (r Reason) String() string {
	switch r {
	case ReasonStart:
		return "start"
	case ReasonDemand:
		return "demand-limited"
	case ReasonProbing:
		return "probing"
	case ReasonGrowing:
		return "growing"
	case ReasonPlateau:
		return "plateau"
	case ReasonMax:
		return "max"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// NewSizer returns a Sizer at cfg.Initial connections.
func NewSizer(cfg SizerConfig) *Sizer {
	cfg.Min = max(cfg.Min, 1)
	if cfg.Max <= 0 {
		cfg.Max = 256
	}
	cfg.Max = max(cfg.Max, cfg.Min)
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	if cfg.Warmup <= 0 {
		cfg.Warmup = 500 * time.Millisecond
	}
	if cfg.Measure <= 0 {
		cfg.Measure = time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 15 * time.Second
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 4
	}
	if cfg.Gain <= 0 {
		cfg.Gain = 0.3
	}
	s := &Sizer{cfg: cfg, target: cfg.Initial, reason: ReasonStart, detail: "nothing measured yet"}
	if cfg.Remembered && cfg.Initial > cfg.Min {
		s.reason, s.detail = ReasonPlateau, fmt.Sprintf("%d connections: what an earlier sizing of the destination settled on", cfg.Initial)
		s.holdPending = true
	}
	return s
}

// Target is the count of connections the Sizer wants now.
func (s *Sizer) Target() int { return s.target }

// Reason returns why the count is what it is, and a sentence for a log.
func (s *Sizer) Reason() (Reason, string) { return s.reason, s.detail }

// SetMin changes the least count (the caller's share of connections
// changed); the target rises to it if below.
func (s *Sizer) SetMin(n int) {
	s.cfg.Min = min(max(n, 1), s.cfg.Max)
	if s.target < s.cfg.Min {
		s.set(s.cfg.Min)
	}
	s.base = max(s.base, s.cfg.Min)
}

// An Observation is a destination's state, as a Sizer takes it.
type Observation struct {
	// Conns connections are up, not counting those closing after a step
	// down; nothing is measured until the count is the target.
	Conns int
	// Delivered is the bytes they have delivered, a counter; one that
	// goes back (a connection closed and its bytes left the sum) starts
	// the measurement again.
	Delivered uint64
	// Saturated is how long in all work has waited for them with every
	// one of them full (a counter).
	Saturated time.Duration
	RTT       time.Duration // their round trip
	// Loss is the fraction of segments their path loses (0: none seen,
	// or unknown). With it the Sizer tells a loss-limited connection
	// (its window near the loss-limited one of Mathis et al., 1.22/√loss
	// segments) from one still coming down from its slow start (far above
	// it).
	Loss float64
}

// Observe takes the destination's state at now. A measurement counts only
// if the connections were saturated for three quarters of it: a
// destination whose readers want less than it carries is demand-limited,
// and more connections would get nothing more to do. Observe reports
// whether the target changed.
func (s *Sizer) Observe(now time.Time, o Observation) bool {
	conns, delivered, saturated, rtt := o.Conns, o.Delivered, o.Saturated, o.RTT
	if s.holdPending {
		s.holdPending, s.holdTo = false, now.Add(s.cfg.Hold)
	}
	if conns != s.target {
		s.since = time.Time{} // still dialing
		return false
	}
	warm, measure := max(s.cfg.Warmup, 8*rtt), max(s.cfg.Measure, 8*rtt)
	switch {
	case s.since.IsZero():
		s.since = now
		return false
	case now.Sub(s.since) < warm:
		return false
	case s.mark.IsZero() || delivered < s.mdel || saturated < s.msat:
		s.mark, s.mdel, s.msat, s.midAt = now, delivered, saturated, time.Time{}
		return false
	case s.midAt.IsZero() && now.Sub(s.mark) >= measure/2:
		s.midAt, s.mid = now, delivered
		return false
	case now.Sub(s.mark) < measure || s.midAt.IsZero():
		return false
	case saturated-s.msat < now.Sub(s.mark)*3/4:
		if !s.probing {
			s.reason, s.detail = ReasonDemand, fmt.Sprintf("%d connections were kept busy %.0f%% of the time",
				conns, 100*(saturated-s.msat).Seconds()/now.Sub(s.mark).Seconds())
		}
		// A step is judged once its connections are kept busy again: the
		// end of a transfer leaves them idle for a while, and that says
		// nothing against the step.
		s.mark, s.mdel, s.msat, s.midAt = now, delivered, saturated, time.Time{}
		return false
	}
	first := float64(s.mid-s.mdel) / s.midAt.Sub(s.mark).Seconds()
	second := float64(delivered-s.mid) / now.Sub(s.midAt).Seconds()
	rate := float64(delivered-s.mdel) / now.Sub(s.mark).Seconds()
	// The window each connection kept, against the loss-limited one.
	window := rate / float64(conns) * rtt.Seconds() / segment
	lossLimited := 0.0
	if o.Loss > 0 {
		lossLimited = 1.22 / math.Sqrt(o.Loss)
	}
	if second < 0.75*first && (s.reason == ReasonStart || s.probing) && lossLimited > 0 && lossLimited < heavyLoss &&
		window > lossLimited && s.target < s.cfg.Max && !now.Before(s.holdTo) {
		// The connections' rate is falling fast on a path that loses
		// enough to hold a loss-based congestion control to a dozen
		// segments or so: they are CUBIC or Reno coming down from slow
		// start, and each will keep about the loss-limited rate M.
		// Waiting for that to settle costs seconds of a long path. The
		// path carries at least what they get now, so while that is at
		// least what n connections at M would carry, the path is not
		// shown full: step now, judged against the model.
		perConn := lossLimited * segment / rtt.Seconds()
		if rate >= 0.9*float64(s.target)*perConn {
			s.mark, s.retries, s.settles = time.Time{}, 0, 0
			was := s.probing
			s.probing, s.base, s.baseR = true, s.target, float64(s.target)*perConn
			s.reason, s.detail = ReasonProbing, fmt.Sprintf("%d connections coming down from %s on a path that loses %.1f%%: each will keep about %.0f segments (%s); trying more",
				s.target, Mbps(rate), 100*o.Loss, lossLimited, Mbps(perConn))
			if was {
				s.reason = ReasonGrowing
			}
			return s.set(min(s.cfg.Max, 4*s.target))
		}
	}
	if (second < 0.75*first || first < 0.75*second) && s.retries < s.cfg.MaxRetries {
		s.retries++
		s.mark, s.mdel, s.midAt = s.midAt, s.mid, time.Time{}
		return false
	}
	if lossLimited > 0 && window > 2*lossLimited && s.settles < maxSettles && !s.probing {
		// Far above what the loss allows: connections still coming down
		// from their slow start (CUBIC takes many round trips to), whose
		// rate would make a false baseline. Measure again. (Not while a
		// step is judged: there a rate still inflated can only make the
		// step look better, and one step too many costs little on a path
		// that loss holds down.)
		s.settles++
		s.mark, s.mdel, s.msat, s.midAt = now, delivered, saturated, time.Time{}
		return false
	}
	s.mark, s.retries, s.settles = time.Time{}, 0, 0
	// The knees below may use the loss-limited rate only where the
	// connections are loss-limited: a congestion control that does not
	// back off at loss (BBR) keeps windows far above it, and more
	// connections there only share.
	kneeWindow := 0.0
	if lossLimited > 0 && window <= 2*lossLimited {
		kneeWindow = lossLimited
	}
	factor := 2
	if s.probing {
		s.probing = false
		more := float64(s.target)/float64(s.base) - 1
		gain := (rate/s.baseR - 1) / more // the part of the proportional increase
		if s.baseR <= 0 || gain < s.cfg.Gain {
			// The path filled somewhere within the step: keep as many
			// connections as carry the larger rate at the smaller
			// count's rate each, the knee.
			knee := max(s.base, s.lossKnee(rate, kneeWindow, rtt))
			if s.baseR > 0 && rate > 1.1*s.baseR {
				knee = s.knee(rate, kneeWindow, rtt)
			}
			s.reason = ReasonPlateau
			s.detail = fmt.Sprintf("%d connections got %s, %d got %s: the step did not pay; keeping %d",
				s.target, Mbps(rate), s.base, Mbps(s.baseR), knee)
			// Each step in a row that does not pay doubles the hold (up
			// to 16 times Hold): a probe costs a path that one
			// connection fills (fresh connections in slow start fight the
			// others), and it keeps not paying there.
			s.holdTo = now.Add(s.cfg.Hold << min(s.fruitless, 4))
			s.fruitless++
			return s.set(knee)
		}
		s.fruitless = 0
		s.reason = ReasonGrowing
		s.detail = fmt.Sprintf("%d connections got %s, %d got %s (%s each)",
			s.target, Mbps(rate), s.base, Mbps(s.baseR), Mbps(rate/float64(s.target)))
		if gain >= 0.9 {
			factor = 4 // each connection kept its rate: the path is far from full
		} else if knee := s.knee(rate, kneeWindow, rtt); knee < s.target {
			// It paid in part: the path filled within the step. The
			// next step starts from the count that carries the new rate
			// at the old rate per connection.
			s.detail += fmt.Sprintf("; from the knee, %d", knee)
			s.set(knee)
		}
	}
	if now.Before(s.holdTo) {
		return false
	}
	if (s.reason == ReasonStart || s.reason == ReasonDemand) && rtt > 0 {
		// The first step: connections that each keep no more than the
		// path's loss allows a loss-based congestion control are held
		// there, far below what the path may carry. Quadruple at once:
		// if they fill the path sooner, the knee keeps what paid. (A
		// small window alone says nothing: on a short path, loopback,
		// a few segments carry gigabits.)
		if lossLimited > 0 && window <= 2*lossLimited {
			factor = 4
		}
	}
	if s.target >= s.cfg.Max {
		s.reason, s.detail = ReasonMax, fmt.Sprintf("%d connections (the most allowed) get %s", s.target, Mbps(rate))
		s.holdTo = now.Add(s.cfg.Hold)
		return false
	}
	s.probing, s.base, s.baseR = true, s.target, rate
	if s.reason != ReasonGrowing {
		s.reason, s.detail = ReasonProbing, fmt.Sprintf("%d connections get %s: trying more", s.target, Mbps(rate))
	}
	return s.set(min(s.cfg.Max, factor*s.target))
}

// knee is the count that carries rate, the larger count's, at the rate
// per connection the smaller count had; where the loss is known, at least
// the count that carries it at the loss-limited rate (Mathis et al.),
// since the smaller count's connections may have been measured before
// their slow start had worn off. It is never above the target.
func (s *Sizer) knee(rate, lossLimitedWindow float64, rtt time.Duration) int {
	knee := int(math.Floor(float64(s.base) * rate / s.baseR))
	return min(s.target, max(knee, s.lossKnee(rate, lossLimitedWindow, rtt)))
}

// lossKnee is the count that carries rate at the loss-limited rate per
// connection, never above the target; 0 where the loss is not known.
func (s *Sizer) lossKnee(rate, lossLimitedWindow float64, rtt time.Duration) int {
	if lossLimitedWindow <= 0 || rtt <= 0 {
		return 0
	}
	return min(s.target, int(math.Floor(rate/(lossLimitedWindow*segment/rtt.Seconds()))))
}

func (s *Sizer) set(n int) bool {
	n = min(max(n, s.cfg.Min), s.cfg.Max)
	if n == s.target {
		return false
	}
	s.target, s.since, s.mark, s.retries, s.settles = n, time.Time{}, time.Time{}, 0, 0
	return true
}

// heavyLoss is the loss-limited window, in segments, below which a path
// loses enough to hold a loss-based congestion control far down whatever
// its capacity: 16 is the window of 0.6% random loss (1% gives about 12,
// Mathis et al.).
const heavyLoss = 16

// Mbps formats a rate in bytes per second as megabits per second.
func Mbps(rate float64) string { return fmt.Sprintf("%.1f Mbit/s", rate*8/1e6) }
