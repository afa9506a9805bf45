package congestion

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
)

func TestMain(m *testing.M) { aqtest.VerifyTestMain(m) }

// clock is an injected clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newManager(t *testing.T) (*Manager, *clock) {
	c := &clock{now: t0}
	m := New(Config{Now: c.Now})
	t.Cleanup(m.Close)
	return m, c
}

// run feeds f a goodput of rate bytes/s for d in 100 ms steps through
// Update, with no loss.
func run(f *Flow, c *clock, rate float64, rtt, d time.Duration) {
	for at := time.Duration(0); at < d; at += 100 * time.Millisecond {
		c.Add(100 * time.Millisecond)
		n := uint64(rate / 10)
		f.Update(n, n, NoLoss, rtt)
	}
}

func TestManager_macroflowsByHost(t *testing.T) {
	m, c := newManager(t)
	a1, a2 := m.Open("10.0.0.2:7000"), m.Open("10.0.0.2:7001")
	b := m.Open("[fd00::3]:7000")
	if a1.Macroflow() != "10.0.0.2" || a2.Macroflow() != "10.0.0.2" || b.Macroflow() != "fd00::3" {
		t.Fatalf("macroflows %q %q %q", a1.Macroflow(), a2.Macroflow(), b.Macroflow())
	}
	run(a1, c, 3e6, 100*time.Millisecond, 3*time.Second)
	c.Add(-3 * time.Second) // a2 over the same interval
	run(a2, c, 1e6, 200*time.Millisecond, 3*time.Second)
	e, ok := m.Query("10.0.0.2")
	if !ok || e.Rate < 3.9e6 || e.Rate > 4.1e6 {
		t.Fatalf("macroflow: %+v %v, want the sum of 3e6 and 1e6", e, ok)
	}
	if e.RTT < 120*time.Millisecond || e.RTT > 130*time.Millisecond {
		t.Errorf("macroflow RTT %v, want 125 ms (weighted by rate)", e.RTT)
	}
	if r := a1.Query().Rate; r < 2.9e6 || r > 3.1e6 {
		t.Errorf("flow rate %v, want 3e6", r)
	}
	if _, ok := m.Query("fd00::3"); !ok {
		t.Error("b's macroflow is not known")
	}
	got := m.Macroflows()
	slices.Sort(got)
	if !slices.Equal(got, []string{"10.0.0.2", "fd00::3"}) {
		t.Errorf("macroflows %q", got)
	}

	// Split a2 out, merge b into a's macroflow.
	a2.Move("slow-path")
	if e, _ := m.Query("10.0.0.2"); e.Rate > 3.1e6 {
		t.Errorf("after the split: rate %v, want a1's alone", e.Rate)
	}
	m.Merge("fd00::3", "10.0.0.2")
	if b.Macroflow() != "10.0.0.2" {
		t.Errorf("after the merge, b is in %q", b.Macroflow())
	}
	if later := m.Open("[fd00::3]:9"); later.Macroflow() != "10.0.0.2" {
		t.Errorf("a flow opened after the merge is in %q", later.Macroflow())
	}
	a1.Close()
	a1.Observe(Sample{Delivered: 1}) // ignored, no panic
	if e, _ := m.Query("10.0.0.2"); e.Rate != 0 {
		t.Errorf("after a1 closed: rate %v, want 0 (b and the later flow have none)", e.Rate)
	}
}

func TestFlow_updateLossKinds(t *testing.T) {
	m, c := newManager(t)
	f := m.Open("h:1")
	for range 50 {
		c.Add(100 * time.Millisecond)
		f.Update(100_000, 90_000, Transient, 50*time.Millisecond)
	}
	e := f.Query()
	if e.Loss < 0.09 || e.Loss > 0.11 {
		t.Errorf("loss %v, want 0.1", e.Loss)
	}
	if e.Rate < 0.85e6 || e.Rate > 0.95e6 {
		t.Errorf("rate %v, want 0.9e6 (received, not sent)", e.Rate)
	}
	before := e.Rate
	c.Add(100 * time.Millisecond)
	f.Update(0, 0, Persistent, 0)
	if r := f.Query().Rate; r > before*0.5 {
		t.Errorf("after a timeout: rate %v, want at most half of %v", r, before)
	}
}

func TestSubscribe_thresholds(t *testing.T) {
	m, c := newManager(t)
	got := make(chan Estimate, 16)
	cancel := m.Subscribe("h", 1.5, 2, func(e Estimate) { got <- e })
	defer cancel()
	f := m.Open("h:1")
	next := func(what string) Estimate {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no callback: %s", what)
		}
		return Estimate{}
	}
	none := func(what string) {
		t.Helper()
		select {
		case e := <-got:
			t.Fatalf("callback %+v: %s", e, what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	run(f, c, 10e6, 50*time.Millisecond, 5*time.Second)
	if e := next("the first rate"); e.Rate < 9e6 {
		t.Fatalf("first callback rate %v, want about 10e6", e.Rate)
	}
	for len(got) > 0 { // the estimate settling toward 10e6 from the first interval
		<-got
	}
	run(f, c, 8e6, 50*time.Millisecond, 5*time.Second)
	none("a fall by 1.25 is within down = 1.5")
	run(f, c, 4e6, 50*time.Millisecond, 5*time.Second)
	if e := next("a fall by 2.5"); e.Rate > 10e6/1.5 {
		t.Fatalf("callback at rate %v, want ≤ %v", e.Rate, 10e6/1.5)
	}
	for len(got) > 0 {
		<-got
	}
	run(f, c, 20e6, 50*time.Millisecond, 5*time.Second)
	// Callbacks are asynchronous: ones for the fall toward 4e6 may still
	// come before the rise's.
	for e := next("a rise by 5"); e.Rate < 8e6; e = next("a rise by 5") {
	}
	cancel()
	for len(got) > 0 {
		<-got
	}
	run(f, c, 1e6, 50*time.Millisecond, 5*time.Second)
	none("after cancel")
}

// A callback that blocks holds up neither the Manager nor another
// subscriber, and sees the newest estimate when it returns.
func TestSubscribe_slowCallbackBlocksNothing(t *testing.T) {
	m, c := newManager(t)
	release := make(chan struct{})
	slow := make(chan Estimate, 100)
	m.Subscribe("h", 1.1, 1.1, func(e Estimate) {
		slow <- e
		<-release
	})
	fast := make(chan Estimate, 1000)
	m.Subscribe("h", 1.1, 1.1, func(e Estimate) { fast <- e })
	f := m.Open("h:1")
	run(f, c, 1e6, 10*time.Millisecond, time.Second)
	waitRate := func(ch chan Estimate, atLeast float64, who string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case e := <-ch:
				if e.Rate >= atLeast {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no callback with rate ≥ %v", who, atLeast)
			}
		}
	}
	waitRate(slow, 0.9e6, "slow") // and now it is blocked
	for i := range 20 {           // these calls return: the slow callback does not hold the Manager
		run(f, c, float64(i+1)*1e6, 10*time.Millisecond, time.Second)
	}
	waitRate(fast, 15e6, "fast, while the slow one is blocked")
	close(release)
	waitRate(slow, 15e6, "slow, once released")
	time.Sleep(50 * time.Millisecond)
	if n := len(slow); n > 0 {
		t.Errorf("the slow subscriber got %d more updates after the newest; its mailbox holds one", n)
	}
}

// BenchmarkFlow_observe: one sample into a macroflow of 8 flows with a
// subscriber, as the sampler does for each connection.
func BenchmarkFlow_observe(b *testing.B) {
	c := &clock{now: t0}
	m := New(Config{Now: c.Now})
	defer m.Close()
	m.Subscribe("h", 1.5, 1.5, func(Estimate) {})
	flows := make([]*Flow, 8)
	for i := range flows {
		flows[i] = m.Open("h:1")
	}
	var s Sample
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.At = t0.Add(time.Duration(i) * time.Millisecond)
		s.Delivered += 12500
		s.Sent += 9
		s.RTT = 50 * time.Millisecond
		flows[i%len(flows)].Observe(s)
	}
}

// A new flow starts from its macroflow's per-flow share (Figure 7 of the
// paper), and from its own estimate once it has one.
func TestFlow_startsFromItsMacroflow(t *testing.T) {
	m, c := newManager(t)
	a, b := m.Open("10.0.0.2:7000"), m.Open("10.0.0.2:7001")
	if e := m.Open("10.0.0.2:7002").Query(); e.Known() || e.Shared {
		t.Fatalf("a new flow of a macroflow that knows nothing: %+v", e)
	}
	run(a, c, 3e6, 100*time.Millisecond, 3*time.Second)
	c.Add(-3 * time.Second)
	run(b, c, 1e6, 100*time.Millisecond, 3*time.Second)
	n := m.Open("10.0.0.2:7003")
	e := n.Query()
	if !e.Shared || !e.Known() || e.Rate < 1.9e6 || e.Rate > 2.1e6 || e.RTT != 100*time.Millisecond {
		t.Fatalf("new flow: %+v, want the per-flow share: 2e6, RTT 100 ms", e)
	}
	if e := m.Open("10.0.0.9:7000").Query(); e.Known() {
		t.Fatalf("a flow to another host: %+v", e)
	}
	run(n, c, 5e5, 100*time.Millisecond, 3*time.Second)
	if e := n.Query(); e.Shared || e.Rate > 0.6e6 {
		t.Fatalf("after its own samples: %+v, want its own 5e5", e)
	}
}

// A macroflow whose last flow closed keeps what it learnt for
// Config.Retain: the next flow to the destination starts from its last
// estimate, and the recorded connection count stays; then it is
// forgotten, and so are the oldest past MaxRetained.
func TestManager_retainsThenForgets(t *testing.T) {
	now := t0
	m := New(Config{Now: func() time.Time { return now }, Retain: time.Minute})
	defer m.Close()
	f := m.Open("192.0.2.1:7000")
	for range 10 {
		now = now.Add(100 * time.Millisecond)
		f.Update(200_000, 200_000, NoLoss, 30*time.Millisecond)
	}
	m.SetConns("192.0.2.1", 24)
	f.Close()
	now = now.Add(30 * time.Second)
	g := m.Open("192.0.2.1:7001")
	if e := g.Query(); !e.Shared || e.Rate < 1.5e6 || e.RTT != 30*time.Millisecond {
		t.Fatalf("a new flow after the last one closed starts from %+v, want its 2 MB/s, 30 ms, shared", e)
	}
	if n := m.Conns("192.0.2.1"); n != 24 {
		t.Fatalf("Conns = %d, want the 24 recorded", n)
	}
	g.Close()
	now = now.Add(2 * time.Minute)
	m.Open("192.0.2.2:1").Close() // any Open sweeps when due
	if n := m.Conns("192.0.2.1"); n != 0 {
		t.Fatalf("Conns = %d two minutes after the last flow closed, want it forgotten", n)
	}
	// Many client hosts, each gone at once: at most MaxRetained are kept.
	for i := range MaxRetained + 100 {
		now = now.Add(time.Millisecond)
		m.Open(fmt.Sprintf("198.51.%d.%d:80", i/250, i%250)).Close()
	}
	m.mu.Lock()
	n := len(m.macros)
	m.mu.Unlock()
	if n > MaxRetained+1 {
		t.Fatalf("%d macroflows held after %d client hosts came and went, want at most %d", n, MaxRetained+100, MaxRetained)
	}
}
