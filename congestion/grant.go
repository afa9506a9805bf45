package congestion

import (
	"context"
	"math"
	"net"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
)

// The budget's state in a macroflow (fields of macroflow).
type budgetState struct {
	allow         *allowance // nil: no budget
	queue         grantQueue
	timer         *time.Timer // armed while a grant waits for tokens
	loss, timeout bool        // seen since the last update
	updated       time.Time   // the last rebudget
	grantRate     float64     // the bucket's rate: the share of the flows that ask for grants
	scratch       []*grant
}

// How a watched sending connection is paced under a budget (Flow.pacing).
const (
	paceUnknown = iota // not tried yet
	paceKernel         // SO_MAX_PACING_RATE works: the kernel paces it
	paceUser           // the kernel refused: the sender paces with Grant
)

// SetBudget sets the budget of the macroflow called name (made if new);
// a zero Budget removes it. Every macroflow starts with Config.Budget.
func (m *Manager) SetBudget(name string, b Budget) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setBudget(m.macro(name), b)
}

// setBudget is SetBudget on mf; m.mu is held.
func (m *Manager) setBudget(mf *macroflow, b Budget) {
	mf.pinned = !b.IsZero()
	if b.IsZero() {
		if mf.allow == nil {
			return
		}
		mf.allow = nil
		m.share(mf, math.Inf(1))
		m.serve(mf, m.cfg.Now())
		return
	}
	if mf.allow != nil {
		mf.allow.b = b
	} else {
		mf.allow = newAllowance(b)
	}
	m.rebudget(mf, m.cfg.Now())
}

// Limit returns the rate the macroflow called name may send at under its
// budget, bytes per second, and whether a budget limits it now (false:
// none, or a multiple that has not seen a loss yet).
func (m *Manager) Limit(name string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mf := m.macros[m.resolve(name)]
	if mf == nil || mf.allow == nil {
		return 0, false
	}
	l := mf.allow.limit()
	return l, !math.IsInf(l, 1)
}

// SetWeight sets the flow's weight in its macroflow's budget (1 by
// default): flows share the allowance in proportion to their weights.
func (f *Flow) SetWeight(w float64) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if w > 0 {
		f.weight = w
	}
}

// Grant returns when the flow may send n more bytes under its macroflow's
// budget, or with ctx's error when ctx ends first: the paper's cm_request
// and cmapp_send, for a sender that decides at the last moment what to
// send. Flows that ask share the allowance in start-time fair order by
// weight, so a flow that asks for little is not stuck behind one that
// asks for much. Without a budget, or on a connection the kernel paces
// (Watch with Send sets SO_MAX_PACING_RATE to the flow's share where the
// socket takes it), Grant returns at once.
func (f *Flow) Grant(ctx context.Context, n int) error {
	g := f.request(n, nil)
	if g == nil || g.granted() {
		return nil
	}
	select {
	case <-g.ready:
		return nil
	case <-ctx.Done():
		m := f.m
		m.mu.Lock()
		removed := !g.done && g.mf.queue.remove(g)
		if removed {
			g.done = true
			m.serve(g.mf, m.cfg.Now()) // the bytes it held back may go to others
		}
		m.mu.Unlock()
		if removed {
			return ctx.Err()
		}
		return nil
	}
}

// TryGrant grants n bytes if the flow may send them now without waiting,
// and reports whether it did; a sender that must wait can flush what it
// holds before it calls Grant.
func (f *Flow) TryGrant(n int) bool {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if !f.gated() {
		return true
	}
	return f.mf.queue.takeNow(m.cfg.Now(), f.mf.grantRate, f, max(n, 1))
}

// gated reports whether the flow's sending waits for grants, and counts
// it among the flows that ask; m.mu is held.
func (f *Flow) gated() bool {
	m := f.m
	if f.mf.allow == nil || f.closed || m.closed || f.pacing == paceKernel {
		return false
	}
	if !f.grants {
		f.grants = true
		m.rebudget(f.mf, m.cfg.Now()) // its share moves to the bucket
	}
	return true
}

// Request is the callback form of Grant: fn runs, on a goroutine of its
// own, once the flow may send n more bytes (at once when no budget
// applies). The returned func withdraws the request if it is still
// pending and reports whether it did.
func (f *Flow) Request(n int, fn func()) (cancel func() bool) {
	g := f.request(n, fn)
	if g == nil {
		go fn()
		return func() bool { return false }
	}
	return func() bool {
		m := f.m
		m.mu.Lock()
		defer m.mu.Unlock()
		if g.done || !g.mf.queue.remove(g) {
			return false
		}
		g.done = true
		return true
	}
}

// request queues a grant of n bytes, or returns nil when it needs none
// (fn not called). A grant that went at once is released (fn called).
func (f *Flow) request(n int, fn func()) *grant {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if !f.gated() {
		return nil
	}
	mf := f.mf
	if math.IsInf(mf.grantRate, 1) && len(mf.queue.waiting) == 0 {
		return nil
	}
	g := &grant{f: f, mf: mf, n: max(n, 1), fn: fn}
	if fn == nil {
		g.ready = make(chan struct{})
	}
	mf.queue.add(g, f.weight)
	m.serve(mf, m.cfg.Now())
	return g
}

// granted reports whether g was released.
func (g *grant) granted() bool {
	g.f.m.mu.Lock()
	defer g.f.m.mu.Unlock()
	return g.done
}

// serve grants what mf's bucket covers and arms its timer for the rest;
// m.mu is held.
func (m *Manager) serve(mf *macroflow, now time.Time) {
	rate := mf.grantRate
	if mf.allow == nil || m.closed {
		rate = math.Inf(1)
	}
	granted, wait := mf.queue.take(now, rate, mf.scratch[:0])
	for i, g := range granted {
		g.release()
		granted[i] = nil
	}
	mf.scratch = granted[:0]
	if wait > 0 && mf.timer == nil {
		mf.timer = time.AfterFunc(wait, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			mf.timer = nil
			m.serve(mf, m.cfg.Now())
		})
	}
}

// release tells the requester its grant came.
func (g *grant) release() {
	g.done = true
	if g.ready != nil {
		close(g.ready)
	}
	if g.fn != nil {
		go g.fn()
	}
}

// releaseAll grants everything mf's queue holds (its flows moved, closed,
// or the Manager did); m.mu is held.
func (mf *macroflow) releaseAll(keep func(*grant) bool) {
	w := mf.queue.waiting[:0]
	for _, g := range mf.queue.waiting {
		if keep != nil && keep(g) {
			w = append(w, g)
			continue
		}
		g.release()
	}
	clear(mf.queue.waiting[len(w):])
	mf.queue.waiting = w
}

// noteSample records what a flow's sample says for its macroflow's budget
// and updates the budget when due; m.mu is held.
func (m *Manager) noteSample(f *Flow, s Sample) {
	mf := f.mf
	if s.Delivered > f.last {
		f.active = true
	}
	if f.haveLost && s.Lost > f.lastLost {
		mf.loss = true
	}
	if s.Timeout {
		mf.timeout = true
	}
	f.lastLost, f.haveLost = s.Lost, true
	if mf.allow == nil {
		return
	}
	due := max(f.est.Estimate().RTT/2, MinSampleInterval)
	if s.At.Sub(mf.updated) >= due {
		m.rebudget(mf, s.At)
	}
}

// rebudget moves mf's allowance on to now and divides it among the flows;
// m.mu is held.
func (m *Manager) rebudget(mf *macroflow, now time.Time) {
	if mf.allow == nil {
		return
	}
	mf.allow.update(now, mf.estimate(), mf.loss, mf.timeout)
	mf.loss, mf.timeout, mf.updated = false, false, now
	m.share(mf, mf.allow.limit())
	m.serve(mf, now)
}

// share divides limit among mf's flows by weight: the flows that carried
// data since the last division, asked for a grant, or are busy. Flows the
// kernel paces get their share as SO_MAX_PACING_RATE (applied by the
// sampler, outside the lock); the flows that ask for grants share the
// bucket. m.mu is held.
func (m *Manager) share(mf *macroflow, limit float64) {
	var total, asking float64
	for f := range mf.flows {
		if f.active || f.busy || f.grants {
			total += f.weight
			if f.grants && f.pacing != paceKernel {
				asking += f.weight
			}
		}
	}
	mf.grantRate = math.Inf(1)
	if !math.IsInf(limit, 1) && total > 0 {
		mf.grantRate = max(limit*asking/total, 1)
	}
	for f := range mf.flows {
		rate := math.Inf(1)
		if !math.IsInf(limit, 1) {
			// A flow that was idle gets the share it would have as one
			// more: it may start any moment.
			active := f.active || f.busy || f.grants
			t := total
			if !active {
				t += f.weight
			}
			rate = limit * f.weight / max(t, f.weight)
		}
		f.active = false
		if f.conn == nil || f.dir != Send || f.pacing == paceUser {
			continue
		}
		if f.paced == rate || (!math.IsInf(rate, 1) && !math.IsInf(f.paced, 1) && math.Abs(rate-f.paced) < 0.05*f.paced) {
			continue
		}
		f.paced = rate
		m.pacing[f] = rate
	}
	if len(m.pacing) > 0 {
		m.kick()
	}
}

// applyPacing sets the kernel pacing rates share decided; it runs on the
// sampler goroutine, without the lock.
func (m *Manager) applyPacing() {
	m.mu.Lock()
	if len(m.pacing) == 0 {
		m.mu.Unlock()
		return
	}
	type change struct {
		f    *Flow
		c    net.Conn
		rate float64
	}
	changes := make([]change, 0, len(m.pacing))
	for f, r := range m.pacing {
		changes = append(changes, change{f, f.conn, r})
	}
	clear(m.pacing)
	m.mu.Unlock()
	for _, c := range changes {
		rate := sockopt.Unpaced
		if !math.IsInf(c.rate, 1) {
			rate = uint64(max(c.rate, 1))
		}
		err := m.setPacing(c.c, rate)
		m.mu.Lock()
		if err != nil {
			c.f.pacing = paceUser
			m.rebudget(c.f.mf, m.cfg.Now())
		} else {
			c.f.pacing = paceKernel
		}
		m.mu.Unlock()
	}
}

// kick wakes the sampler goroutine.
func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
