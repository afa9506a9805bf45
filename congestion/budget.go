package congestion

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A Budget bounds what a macroflow's flows send together. The zero value
// is no budget.
type Budget struct {
	// Multiple is the ensemble's allowance in TCP flows: at 1 the
	// macroflow's flows together take no more than one TCP flow's share of
	// their bottleneck, at k what k flows would. The CM emulates k TCP
	// flows in the MulTCP way (Crowcroft and Oechslin, 1998): the
	// allowance grows by k segments per round trip and shrinks by a factor
	// 1−0.3/k (CUBIC's 0.7 for one flow) at each loss event any of the
	// macroflow's flows sees, at most once per round trip. Until the first loss the flows are left to
	// their own congestion control (their slow start). 0: none.
	Multiple float64
	// Rate is a fixed allowance in bytes per second. 0: none. With both
	// set, the lower applies.
	Rate float64
}

// IsZero reports whether b sets no budget.
func (b Budget) IsZero() bool { return b.Multiple <= 0 && b.Rate <= 0 }

// String formats b as ParseBudget reads it.
func (b Budget) String() string {
	var parts []string
	if b.Multiple > 0 {
		parts = append(parts, strconv.FormatFloat(b.Multiple, 'g', -1, 64)+"x")
	}
	if b.Rate > 0 {
		parts = append(parts, strconv.FormatFloat(b.Rate*8/1e6, 'g', -1, 64)+"Mbit")
	}
	if len(parts) == 0 {
		return "off"
	}
	return strings.Join(parts, ",")
}

// ErrBudget is wrapped by ParseBudget's errors.
var ErrBudget = errors.New("congestion: bad budget")

// ParseBudget reads a budget: "off" or "" (none), a multiple of one TCP
// flow's share ("1x", "2.5x"), a fixed rate ("50Mbit", "800kbit",
// "1Gbit", "10MB" for bytes per second), or both separated by a comma
// ("1x,50Mbit": the lower of the two).
func ParseBudget(s string) (Budget, error) {
	var b Budget
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "off" || s == "none" {
		return b, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if num, ok := strings.CutSuffix(part, "x"); ok {
			k, err := strconv.ParseFloat(num, 64)
			if err != nil || k <= 0 || math.IsInf(k, 0) || b.Multiple > 0 {
				return Budget{}, fmt.Errorf("%w %q: a multiple is a positive number followed by x, given once", ErrBudget, part)
			}
			b.Multiple = k
			continue
		}
		r, err := parseRate(part)
		if err != nil || b.Rate > 0 {
			return Budget{}, fmt.Errorf("%w %q: want off, a multiple such as 1x, or a rate such as 50Mbit", ErrBudget, part)
		}
		b.Rate = r
	}
	return b, nil
}

// parseRate reads a rate with a unit into bytes per second.
func parseRate(s string) (float64, error) {
	units := []struct {
		suffix string
		scale  float64 // bytes per second per unit
	}{
		{"gbit", 1e9 / 8}, {"mbit", 1e6 / 8}, {"kbit", 1e3 / 8}, {"bit", 1.0 / 8},
		{"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || v <= 0 || math.IsInf(v, 0) {
				return 0, fmt.Errorf("bad rate %q", s)
			}
			return v * u.scale, nil
		}
	}
	return 0, fmt.Errorf("rate %q has no unit", s)
}

// decrease is the factor by which k emulated flows cut their allowance at
// a loss event: 1-(1-0.7)/k, k flows of which one cuts by CUBIC's 0.7 (the
// kernel's default, and what the ensemble shares a bottleneck with). Reno's
// 0.5 left four flows at 1x with 0.5-0.75 of one CUBIC flow's share
// (Jain's index as low as 0.89): the ensemble's kernel flows cut too, and
// their tail-loss probes count as retransmissions.
func decrease(k float64) float64 { return 1 - 0.3/k }

// segment is the size the allowance grows by per round trip and flow
// emulated: a full-sized TCP segment on a 1,500-byte path.
const segment = 1448

// An allowance is the budget's controller for one macroflow: the rate its
// flows may send at now. It is pure: time comes from its callers.
type allowance struct {
	b        Budget
	rate     float64   // bytes per second; +Inf: not limited yet (before the first loss)
	cutAt    time.Time // the last decrease
	at       time.Time // the last update
	cuts     int       // loss events that cut the rate, for tests and stats
	haveLoss bool
}

func newAllowance(b Budget) *allowance {
	return &allowance{b: b, rate: math.Inf(1)}
}

// limit is the rate the flows may send at: the lower of the emulated
// flows' and the fixed rate; +Inf when nothing limits them.
func (a *allowance) limit() float64 {
	r := math.Inf(1)
	if a.b.Multiple > 0 {
		r = a.rate
	}
	if a.b.Rate > 0 {
		r = min(r, a.b.Rate)
	}
	return r
}

// update moves the allowance on to now: e is the macroflow's estimate,
// loss whether any of its flows lost something since the last update,
// timeout whether one timed out.
func (a *allowance) update(now time.Time, e Estimate, loss, timeout bool) {
	k := a.b.Multiple
	if k <= 0 {
		a.at = now
		return
	}
	rtt := e.RTT
	if rtt <= 0 {
		rtt = 100 * time.Millisecond // no RTT yet: a conservative guess
	}
	floor := k * 2 * segment / rtt.Seconds()
	// What the flows carry now, busy or not: the base of a first cut and
	// the reference the allowance may not run far ahead of.
	carried := max(e.Goodput, e.Rate)
	switch {
	case (loss || timeout) && math.IsInf(a.rate, 1):
		// The first loss ends the flows' own slow start: the ensemble
		// becomes k emulated flows that just saw a loss.
		a.rate = max(carried*decrease(k), floor)
		a.cutAt, a.haveLoss = now, true
		a.cuts++
	case math.IsInf(a.rate, 1):
	case timeout:
		beta := decrease(k)
		a.rate = max(a.rate*beta*beta, floor)
		a.cutAt = now
		a.cuts++
	case loss && now.Sub(a.cutAt) >= rtt:
		a.rate = max(a.rate*decrease(k), floor)
		a.cutAt = now
		a.cuts++
	default:
		// Additive increase: k segments per round trip, per round trip.
		if dt := now.Sub(a.at); dt > 0 && !a.at.IsZero() {
			a.rate += k * segment / rtt.Seconds() * dt.Seconds() / rtt.Seconds()
		}
		// Not far ahead of what the flows use (RFC 7661's idea: an
		// allowance unused is not evidence that the path would carry it).
		if carried > 0 {
			a.rate = min(a.rate, max(2*carried, floor))
		}
	}
	a.at = now
}

// A grantQueue is a macroflow's request/grant scheduler: a token bucket
// filled at the allowance and start-time fair queueing among the flows
// that wait, each weighted by its flow's weight, so that flows that ask
// share the allowance round-robin (equal weights) or in proportion. It is
// pure: time comes from its callers.
type grantQueue struct {
	tokens  float64   // bytes that may go now; negative: owed
	at      time.Time // when tokens was last filled
	virtual float64   // the start tag of the request granted last
	waiting []*grant
}

// A grant is one pending request.
type grant struct {
	f     *Flow
	mf    *macroflow // whose queue it waits in
	n     int
	start float64 // start tag
	fn    func()  // called (on a goroutine of its own) when granted
	ready chan struct{}
	done  bool
}

// burst bounds the tokens a bucket of rate r holds: what 10 ms carry, at
// least 64 KiB, so that a request of a few frames goes at once.
func burst(r float64) float64 { return max(r*0.01, 64<<10) }

// fill adds the tokens that rate r brought since the last fill.
func (q *grantQueue) fill(now time.Time, r float64) {
	if q.at.IsZero() || math.IsInf(r, 1) {
		q.tokens, q.at = burst(r), now
		return
	}
	if dt := now.Sub(q.at); dt > 0 {
		q.tokens = min(q.tokens+r*dt.Seconds(), burst(r))
		q.at = now
	}
}

// add queues g with its start tag.
func (q *grantQueue) add(g *grant, weight float64) {
	g.start = q.tag(g.f, g.n, weight)
	q.waiting = append(q.waiting, g)
}

// tag returns the start tag of f's next request of n bytes and moves f's
// finish tag past it.
func (q *grantQueue) tag(f *Flow, n int, weight float64) float64 {
	start := max(q.virtual, f.vfinish)
	f.vfinish = start + float64(n)/max(weight, 1e-3)
	return start
}

// takeNow grants f's n bytes at once if nothing waits and the bucket at
// rate r is not in debt, and reports whether it did.
func (q *grantQueue) takeNow(now time.Time, r float64, f *Flow, n int) bool {
	if len(q.waiting) > 0 {
		return false
	}
	if math.IsInf(r, 1) {
		return true
	}
	q.fill(now, r)
	if q.tokens <= 0 {
		return false
	}
	q.virtual = q.tag(f, n, f.weight)
	q.tokens -= float64(n)
	return true
}

// take grants, in start-tag order, every request the bucket covers at
// rate r now; a request is granted while the bucket is not in debt, so
// one larger than the burst goes too, and the debt is paid before the
// next. It returns the granted and, if any wait, how long until the next
// could go.
func (q *grantQueue) take(now time.Time, r float64, out []*grant) ([]*grant, time.Duration) {
	q.fill(now, r)
	for len(q.waiting) > 0 {
		i := 0
		for j, g := range q.waiting {
			if g.start < q.waiting[i].start {
				i = j
			}
		}
		if q.tokens <= 0 && !math.IsInf(r, 1) {
			return out, time.Duration((-q.tokens + 1) / r * float64(time.Second))
		}
		g := q.waiting[i]
		q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
		q.tokens -= float64(g.n)
		q.virtual = g.start
		out = append(out, g)
	}
	return out, 0
}

// remove drops g if it still waits.
func (q *grantQueue) remove(g *grant) bool {
	for i, w := range q.waiting {
		if w == g {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			return true
		}
	}
	return false
}
