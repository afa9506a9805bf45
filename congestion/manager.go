package congestion

import (
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
)

// Config configures a Manager. The zero value is ready to use.
type Config struct {
	// Now is the clock (time.Now when nil); tests inject one.
	Now func() time.Time
	// NewEstimator makes each flow's estimator (NewEWMA(DefaultHalfLife)
	// when nil).
	NewEstimator func() Estimator
	// Budget is every macroflow's budget until SetBudget changes it
	// (zero: none).
	Budget Budget
	// Retain is how long a macroflow whose last flow closed keeps what it
	// learnt (its last estimate, as the start of the next flow to the
	// same destination, and its connection count, see SetConns); default
	// 10 minutes. At most MaxRetained such macroflows are kept, the
	// oldest forgotten first, so that a server that has seen millions of
	// client hosts holds only the recent ones.
	Retain time.Duration
	// NoWatch turns the CM's own sampling off: Watch fails with
	// ErrNoWatch, and flows learn only what Observe and Update tell them
	// (for benchmarks of what the sampling costs).
	NoWatch bool
}

// A Manager is the congestion manager: it holds every flow, grouped into
// macroflows. It is safe for concurrent use.
type Manager struct {
	cfg Config

	mu     sync.Mutex
	macros map[string]*macroflow
	alias  map[string]string // merged macroflow name → the one it joined
	closed bool
	subs   sync.WaitGroup // subscription goroutines

	// The sampler of watched flows (sampler.go).
	watched  map[*Flow]struct{}
	sampling bool          // its goroutine was started
	wake     chan struct{} // a flow was watched or has work: look again
	stop     chan struct{} // closed by Close
	done     sync.WaitGroup

	empty int       // macroflows without flows (an upper bound), for forget
	swept time.Time // forget's last look

	// Kernel pacing rates a budget's division decided, for the sampler
	// to apply (grant.go); setPacing applies one.
	pacing    map[*Flow]float64
	setPacing func(net.Conn, uint64) error
}

type macroflow struct {
	name  string
	flows map[*Flow]struct{}
	subs  map[*subscription]struct{}
	budgetState

	// What outlives its flows (Config.Retain).
	pinned     bool      // SetBudget was called: kept while the Manager lives
	conns      int       // SetConns
	last       Estimate  // the estimate when its last flow closed
	emptySince time.Time // when it lost its last flow; zero while it has flows
}

// Defaults of Config.
const (
	DefaultRetain = 10 * time.Minute
	MaxRetained   = 4096
)

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Retain <= 0 {
		cfg.Retain = DefaultRetain
	}
	if cfg.NewEstimator == nil {
		cfg.NewEstimator = func() Estimator { return NewEWMA(DefaultHalfLife) }
	}
	return &Manager{cfg: cfg, macros: map[string]*macroflow{}, alias: map[string]string{},
		watched: map[*Flow]struct{}{}, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		pacing: map[*Flow]float64{}, setPacing: sockopt.MaxPacingRate}
}

// Close ends every subscription and waits for their callbacks to return,
// and stops sampling watched connections. Flows may still be observed;
// nothing is called back.
func (m *Manager) Close() {
	m.mu.Lock()
	if !m.closed {
		close(m.stop)
	}
	m.closed = true
	clear(m.watched)
	for _, mf := range m.macros {
		for s := range mf.subs {
			s.stop()
		}
		clear(mf.subs)
		if mf.timer != nil {
			mf.timer.Stop()
			mf.timer = nil
		}
		mf.releaseAll(nil)
	}
	m.mu.Unlock()
	m.subs.Wait()
	m.done.Wait()
}

// Host is the default macroflow name of a destination address: its host,
// without the port ("10.0.0.2:7000" → "10.0.0.2").
func Host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// resolve follows merges; m.mu is held.
func (m *Manager) resolve(name string) string {
	// Merge never makes a cycle: it joins names that resolve apart.
	for {
		to, ok := m.alias[name]
		if !ok {
			return name
		}
		name = to
	}
}

// macro returns the macroflow called name, made if new; m.mu is held.
func (m *Manager) macro(name string) *macroflow {
	name = m.resolve(name)
	mf := m.macros[name]
	if mf == nil {
		mf = &macroflow{name: name, flows: map[*Flow]struct{}{}, subs: map[*subscription]struct{}{},
			emptySince: m.cfg.Now()}
		m.macros[name] = mf
		m.empty++
		if !m.cfg.Budget.IsZero() {
			mf.allow = newAllowance(m.cfg.Budget)
		}
	}
	return mf
}

// Open registers a flow to dst (an address, host:port or host) in the
// macroflow of dst's host.
func (m *Manager) Open(dst string) *Flow {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := &Flow{m: m, est: m.cfg.NewEstimator(), weight: 1}
	f.join(m.macro(Host(dst)))
	m.forget(m.cfg.Now())
	return f
}

// join puts f in mf; m.mu is held.
func (f *Flow) join(mf *macroflow) {
	f.mf = mf
	mf.flows[f] = struct{}{}
	mf.emptySince = time.Time{}
}

// leave takes f out of its macroflow, which keeps what it learnt if f was
// its last flow; m.mu is held.
func (f *Flow) leave() {
	mf := f.mf
	mf.releaseAll(func(g *grant) bool { return g.f != f })
	if len(mf.flows) == 1 {
		if e := mf.estimate(); e.Known() {
			mf.last = e
		}
	}
	delete(mf.flows, f)
	if len(mf.flows) == 0 {
		mf.emptySince = f.m.cfg.Now()
		f.m.empty++
	}
}

// forget drops the macroflows that have been empty past Config.Retain, or
// the oldest empty ones past MaxRetained; m.mu is held. It looks only
// when there may be something to drop, so Open stays cheap.
func (m *Manager) forget(now time.Time) {
	if m.empty == 0 || (m.empty <= MaxRetained && now.Sub(m.swept) < m.cfg.Retain/8) {
		return
	}
	m.swept = now
	var empty []*macroflow
	for name, mf := range m.macros {
		if len(mf.flows) > 0 || mf.pinned || len(mf.subs) > 0 {
			continue
		}
		if now.Sub(mf.emptySince) >= m.cfg.Retain {
			delete(m.macros, name)
			continue
		}
		empty = append(empty, mf)
	}
	if len(empty) > MaxRetained {
		// Down to three quarters, so that the next sweep is a while off.
		keep := MaxRetained * 3 / 4
		slices.SortFunc(empty, func(a, b *macroflow) int { return a.emptySince.Compare(b.emptySince) })
		for _, mf := range empty[:len(empty)-keep] {
			delete(m.macros, mf.name)
		}
		empty = empty[len(empty)-keep:]
	}
	m.empty = len(empty)
}

// SetConns records the count of parallel connections the destination's
// sizing settled on, for the next transfer to the same destination to
// start from (Conns).
func (m *Manager) SetConns(name string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.macro(name).conns = n
}

// Conns returns what SetConns recorded for the macroflow called name, 0 if
// nothing (or if it was forgotten, Config.Retain).
func (m *Manager) Conns(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mf := m.macros[m.resolve(name)]; mf != nil {
		return mf.conns
	}
	return 0
}

// Merge folds the macroflow from into into (two destinations behind one
// bottleneck): from's flows and subscriptions move, and flows opened to
// from later join into.
func (m *Manager) Merge(from, into string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from, into = m.resolve(from), m.resolve(into)
	if from == into {
		return
	}
	dst := m.macro(into)
	if src := m.macros[from]; src != nil {
		for f := range src.flows {
			f.join(dst)
		}
		for s := range src.subs {
			dst.subs[s] = struct{}{}
		}
		if src.timer != nil {
			src.timer.Stop()
		}
		src.releaseAll(nil) // their tags mean nothing in dst's queue
		delete(m.macros, from)
	}
	m.alias[from] = into
	m.notify(dst)
}

// Query returns the estimate of the macroflow called name (or of the one it
// was merged into), and whether it has any flows.
func (m *Manager) Query(name string) (Estimate, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mf := m.macros[m.resolve(name)]
	if mf == nil || len(mf.flows) == 0 {
		return Estimate{}, false
	}
	return mf.estimate(), true
}

// MacroflowStats is one macroflow in a Snapshot.
type MacroflowStats struct {
	Name  string
	Flows int
	Estimate
}

// Snapshot returns every macroflow that has flows, by name.
func (m *Manager) Snapshot() []MacroflowStats {
	m.mu.Lock()
	out := make([]MacroflowStats, 0, len(m.macros))
	for name, mf := range m.macros {
		if len(mf.flows) > 0 {
			out = append(out, MacroflowStats{Name: name, Flows: len(mf.flows), Estimate: mf.estimate()})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b MacroflowStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Macroflows returns the names of the macroflows that have flows.
func (m *Manager) Macroflows() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for name, mf := range m.macros {
		if len(mf.flows) > 0 {
			names = append(names, name)
		}
	}
	return names
}

func (mf *macroflow) estimate() Estimate {
	ests := make([]Estimate, 0, len(mf.flows))
	for f := range mf.flows {
		ests = append(ests, f.est.Estimate())
	}
	return fold(ests)
}

// A Flow is one registered connection or application flow.
type Flow struct {
	m   *Manager
	mf  *macroflow // guarded by m.mu
	est Estimator  // guarded by m.mu
	// The counters of Update, for flows whose feedback the application owns.
	sent, delivered, lost uint64
	closed                bool
	last                  uint64 // Delivered of the newest sample

	// Busy time (SetBusy), once the application counts it.
	countsBusy, busy bool
	busySince        time.Time
	busyTotal        time.Duration

	// A watched connection (Watch).
	conn        net.Conn
	dir         Direction
	minInterval time.Duration // SetMinInterval
	rtos        uint16        // its retransmission timeouts when last sampled
	next        time.Time     // when it is sampled next (wall clock)
	// A watched receiving connection's loss estimate (receiveLoss).
	rxOOO  uint32  // out-of-order segments when last sampled
	haveRx bool    //
	rxLost float64 // holes estimated so far, in segments

	// Its part in the macroflow's budget (grant.go).
	weight   float64 // its share, relative to the others'
	vfinish  float64 // the finish tag of its newest grant request
	lastLost uint64  // Lost of the newest sample
	haveLost bool
	active   bool    // it delivered since the budget was last divided
	grants   bool    // it has asked for grants
	pacing   int     // paceUnknown, paceKernel, paceUser
	paced    float64 // the kernel pacing rate last decided; 0: none yet
}

// Observe folds a sample of the flow into its estimate.
func (f *Flow) Observe(s Sample) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.observeLocked(s)
}

// observeLocked is Observe with f.m.mu held.
func (f *Flow) observeLocked(s Sample) {
	if f.closed {
		return
	}
	if s.At.IsZero() {
		s.At = f.m.cfg.Now()
	}
	if f.countsBusy && s.Busy == 0 {
		s.Busy = f.busyAt(s.At)
	}
	m := f.m
	m.noteSample(f, s)
	f.last = s.Delivered
	f.est.Observe(s)
	m.notify(f.mf)
}

// LossKind says what a flow's feedback reported lost (the paper's
// lossmode).
type LossKind int

const (
	NoLoss     LossKind = iota
	Transient           // some of what was sent was lost (three duplicate acks)
	Persistent          // feedback stopped (a timeout)
	ECN                 // congestion was marked, nothing lost
)

// Update is the paper's cm_update, for flows whose feedback the
// application owns: sent bytes were sent, received of them arrived, loss
// says what kind of loss the feedback showed, rtt is a round-trip sample
// (0 if none). A Transient loss or an ECN mark counts at least one unit
// lost, so that it moves the loss estimate even when sent == received.
// The first call is the baseline: its bytes took a time before it that the
// CM cannot know.
func (f *Flow) Update(sent, received uint64, loss LossKind, rtt time.Duration) {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	f.sent += sent
	f.delivered += min(received, sent)
	lost := sent - min(received, sent)
	if (loss == Transient || loss == ECN) && lost == 0 {
		lost = 1
	}
	f.lost += lost
	f.observeLocked(Sample{At: m.cfg.Now(), Delivered: f.delivered, Sent: f.sent, Lost: f.lost, RTT: rtt, MinRTT: rtt, Timeout: loss == Persistent})
}

// Query returns the flow's own estimate; a flow that has measured nothing
// yet starts from what its macroflow knows (the paper's shared state): the
// macroflow's rates divided among its measured flows, its RTT, minimum RTT
// and loss, with Shared set.
func (f *Flow) Query() Estimate {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	e := f.est.Estimate()
	if e.Known() {
		return e
	}
	var ests []Estimate
	for o := range f.mf.flows {
		if oe := o.est.Estimate(); oe.Known() {
			ests = append(ests, oe)
		}
	}
	if len(ests) == 0 {
		if l := f.mf.last; l.Known() {
			l.Shared = true // what the macroflow's last flow knew when it closed
			return l
		}
		return e
	}
	mf := fold(ests)
	n := float64(len(ests))
	mf.Rate, mf.Goodput, mf.Shared = mf.Rate/n, mf.Goodput/n, true
	return mf
}

// Delivered returns the bytes the flow has delivered, as its newest
// sample counted them.
func (f *Flow) Delivered() uint64 {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return f.last
}

// Macroflow returns the name of the flow's macroflow.
func (f *Flow) Macroflow() string {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return f.mf.name
}

// Move puts the flow in the macroflow called name (made if new): a flow
// split out from the others to its host, or joined to another group.
func (f *Flow) Move(name string) {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.closed {
		return
	}
	old := f.mf
	f.leave()
	f.join(m.macro(name))
	m.notify(old)
	m.notify(f.mf)
}

// Close removes the flow from its macroflow.
func (f *Flow) Close() {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	f.leave()
	delete(m.watched, f)
	delete(m.pacing, f)
	m.notify(f.mf)
}

// A subscription is one cm_thresh registration.
type subscription struct {
	down, up float64
	ref      float64       // the rate last delivered; 0: none yet
	box      chan Estimate // one slot: the newest undelivered estimate
	done     chan struct{}
	exited   chan struct{} // closed when the goroutine returns
	once     sync.Once
}

func (s *subscription) stop() { s.once.Do(func() { close(s.done) }) }

// Subscribe calls fn with the estimate of the macroflow called name when
// it first has a rate, and then whenever its rate has fallen by a factor
// down (rate ≤ last/down) or risen by a factor up (rate ≥ last·up) since
// the last call. down and up must be above 1. fn runs on a goroutine of its
// own and never blocks the Manager; while fn runs, newer estimates replace
// older undelivered ones. The returned func cancels the subscription and
// returns once fn has returned for the last time: no call comes after it
// (so it must not be called from fn itself).
func (m *Manager) Subscribe(name string, down, up float64, fn func(Estimate)) (cancel func()) {
	s := &subscription{down: max(down, 1), up: max(up, 1), box: make(chan Estimate, 1),
		done: make(chan struct{}), exited: make(chan struct{})}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return func() {}
	}
	mf := m.macro(name)
	mf.subs[s] = struct{}{}
	m.subs.Add(1)
	go func() {
		defer m.subs.Done()
		defer close(s.exited)
		for {
			select {
			case <-s.done:
				return
			default:
			}
			select {
			case e := <-s.box:
				fn(e)
			case <-s.done:
				return
			}
		}
	}()
	s.offer(mf.estimate())
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		for _, mf := range m.macros {
			delete(mf.subs, s)
		}
		m.mu.Unlock()
		s.stop()
		<-s.exited
	}
}

// notify checks mf's subscriptions against its estimate; m.mu is held.
func (m *Manager) notify(mf *macroflow) {
	if len(mf.subs) == 0 {
		return
	}
	e := mf.estimate()
	for s := range mf.subs {
		s.offer(e)
	}
}

// offer delivers e to s if its rate crossed s's thresholds; m.mu is held.
func (s *subscription) offer(e Estimate) {
	if !e.Known() {
		return
	}
	if s.ref > 0 && e.Rate > s.ref/s.down && e.Rate < s.ref*s.up {
		return
	}
	if s.ref == 0 && e.Rate == 0 {
		return
	}
	s.ref = e.Rate
	// The only sender is under m.mu: empty the slot if the callback has
	// not taken it, then the send cannot block.
	select {
	case <-s.box:
	default:
	}
	s.box <- e
}
