package lab_test

// Tests of the congestion manager (package congestion) against lab links of
// known rate and round trip: a bulk TCP transfer from host a to host b, the
// sending connection watched by a congestion.Manager, and references
// measured independently of the CM on the same path.

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// The CM tests' link: 20 Mbit/s, 20 ms each way (40 ms round trip), no
// loss, and in the data direction a drop-tail queue of one bandwidth-delay
// product (20 Mbit/s × 40 ms = 100 kB), so that one CUBIC flow keeps the
// link busy through its sawtooth.
const (
	cmRate  = 20 * linkem.Mbps
	cmDelay = 20 * time.Millisecond
	cmQueue = 100_000
)

func cmLink() (ab, ba linkem.Config) {
	ab = linkem.Config{Rate: cmRate, Delay: cmDelay, QueueBytes: cmQueue}
	ba = linkem.Config{Rate: cmRate, Delay: cmDelay}
	return ab, ba
}

// bulk is a TCP transfer from host a to host b across the testbed: a
// receiver in b that counts what it reads, every 10 ms, and a sender in a
// that writes as fast as TCP takes it, up to 100 MB, until stopped.
type bulk struct {
	conn  net.Conn // the sender's (in a)
	rconn net.Conn // the receiver's (in b)
	addr  string   // the receiver's address, the sender's destination

	mu    sync.Mutex
	recvd []recvSample // cumulative bytes read by b, every 10 ms

	stop func() // ends the transfer and waits for its goroutines
}

type recvSample struct {
	at    time.Time
	bytes int64
}

func startBulk(t *testing.T, tb *lab.Testbed) *bulk {
	t.Helper()
	bAddr, err := tb.Addr("b", "a")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tb.Listen("b", "tcp", netip.AddrPortFrom(bAddr, 7100).String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := tb.Dial(ctx, "a", "tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	rc, err := ln.Accept()
	ln.Close()
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	b := &bulk{conn: conn, rconn: rc, addr: ln.Addr().String()}
	var total atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // receiver
		buf := make([]byte, 256<<10)
		for {
			n, err := rc.Read(buf)
			total.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	wg.Go(func() { // the receiver's account, every 10 ms
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			b.mu.Lock()
			b.recvd = append(b.recvd, recvSample{time.Now(), total.Load()})
			b.mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	wg.Go(func() { // sender
		buf := make([]byte, 64<<10)
		for sent := 0; sent < 100<<20; sent += len(buf) {
			if _, err := conn.Write(buf); err != nil {
				return
			}
		}
	})
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			close(done)
			conn.Close()
			rc.Close()
			wg.Wait()
		})
	}
	t.Cleanup(b.stop)
	return b
}

// startWatched builds the CM tests' testbed (cmLink, CUBIC), starts a bulk
// transfer from a to b, and registers its sending connection with a new
// Manager as a watched flow that is always busy (the sender always has
// data queued: with SetBusy the CM counts busy time, so Rate is per busy
// second; here it should equal Goodput). The Manager closes at the test's
// end.
func startWatched(t *testing.T) (*lab.Testbed, *congestion.Manager, *bulk) {
	t.Helper()
	ab, ba := cmLink()
	tb := build(t, lab.TestbedConfig{Topology: twoHosts(ab, ba), Congestion: "cubic"})
	m := congestion.New(congestion.Config{})
	t.Cleanup(m.Close)
	x := startBulk(t, tb)
	f := m.Open(x.addr)
	if err := f.Watch(x.conn, congestion.Send); err != nil {
		t.Fatal(err)
	}
	f.SetBusy(true)
	return tb, m, x
}

// goodput returns what b received per second around end, weighted as the
// CM's estimator weighs its samples: exponentially, halving every halfLife
// back from end. With a rate r(t) piecewise constant between the receiver's
// samples this is ∫r(t)·w(t)dt / ∫w(t)dt with w(t) = 2^(−(end−t)/halfLife),
// the continuous form of the EWMA. It also returns the plain mean over the
// last second, for the log.
func (b *bulk) goodput(end time.Time, halfLife time.Duration) (weighted, lastSecond float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var num, den float64
	var first *recvSample
	var last recvSample
	for i := 1; i < len(b.recvd); i++ {
		p, s := b.recvd[i-1], b.recvd[i]
		if s.at.After(end) {
			break
		}
		mid := p.at.Add(s.at.Sub(p.at) / 2)
		w := math.Exp2(-end.Sub(mid).Seconds() / halfLife.Seconds())
		num += w * float64(s.bytes-p.bytes)
		den += w * s.at.Sub(p.at).Seconds()
		if first == nil && !s.at.Before(end.Add(-time.Second)) {
			first = &b.recvd[i-1]
		}
		last = s
	}
	if den == 0 || first == nil {
		return 0, 0
	}
	return num / den, float64(last.bytes-first.bytes) / last.at.Sub(first.at).Seconds()
}

// weightedRTT returns the mean of the samples up to end, weighted as
// goodput weighs.
func weightedRTT(samples []pingSample, end time.Time, halfLife time.Duration) (time.Duration, int) {
	var num, den float64
	n := 0
	for _, s := range samples {
		if s.at.After(end) {
			continue
		}
		w := math.Exp2(-end.Sub(s.at).Seconds() / halfLife.Seconds())
		num += w * float64(s.rtt)
		den += w
		n++
	}
	if den == 0 {
		return 0, 0
	}
	return time.Duration(num / den), n
}

func mbps(bytesPerSecond float64) float64 { return bytesPerSecond * 8 / 1e6 }

func relErr(got, want float64) float64 { return (got - want) / want }

// TestCM_estimateMatchesLink: after 5 s of a bulk transfer over a link of
// 20 Mbit/s and 40 ms, the sending flow's macroflow estimate agrees within
// 10% with the goodput the receiver measured and with the round trip the
// path had meanwhile.
//
// The round-trip reference is ICMP echo from a to b during the transfer,
// every 10 ms, timed by the kernel (icmpPingTimed): an echo request waits in
// the same a→b queue as the data, and its reply comes back the way the ACKs
// do, so it sees what the flow's segments see, the link's 40 ms plus the
// queue's sojourn at that moment. The configured 40 ms alone would be
// dishonest: a CUBIC flow keeps a one-BDP queue between empty and full, up
// to 40 ms more, and TCP's smoothed RTT (what the CM averages) includes it.
// Both references are weighted like the CM's estimator
// (congestion.DefaultHalfLife), so that they cover the same window.
func TestCM_estimateMatchesLink(t *testing.T) {
	tb, m, x := startWatched(t)
	start := time.Now()
	bAddr, err := tb.Addr("b", "a")
	if err != nil {
		t.Fatal(err)
	}

	const window = 5 * time.Second
	type pingResult struct {
		samples []pingSample
		err     error
	}
	pingc := make(chan pingResult, 1)
	go func() {
		s, err := icmpPingTimed(t.Context(), tb, "a", bAddr, int(window/(10*time.Millisecond)), 10*time.Millisecond)
		pingc <- pingResult{s, err}
	}()

	time.Sleep(time.Until(start.Add(window)))
	at := time.Now()
	est, ok := m.Query(congestion.Host(x.addr))
	recvWeighted, recvLast := x.goodput(at, congestion.DefaultHalfLife)
	pr := <-pingc
	x.stop()
	if !ok {
		t.Fatal("Query: no macroflow")
	}
	if pr.err != nil {
		t.Fatalf("ping: %v", pr.err)
	}
	rttRef, n := weightedRTT(pr.samples, at, congestion.DefaultHalfLife)
	if n < 100 {
		t.Fatalf("only %d echo replies in the window", n)
	}
	s := tb.LinkStats()[0]
	t.Logf("after %v: CM goodput %.2f Mbit/s, rate %.2f Mbit/s; receiver %.2f Mbit/s (weighted), %.2f Mbit/s (last second)",
		at.Sub(start).Round(time.Millisecond), mbps(est.Goodput), mbps(est.Rate), mbps(recvWeighted), mbps(recvLast))
	t.Logf("CM RTT %v, min RTT %v; path (echo, weighted) %v over %d replies; configured %v; link a→b drops %d of %d packets",
		est.RTT, est.MinRTT, rttRef.Round(10*time.Microsecond), n, 2*cmDelay, s.AB.QueueDropPackets, s.AB.Packets)
	t.Logf("errors: goodput %+.1f%%, rate %+.1f%%, RTT %+.1f%%",
		100*relErr(est.Goodput, recvWeighted), 100*relErr(est.Rate, recvWeighted), 100*relErr(float64(est.RTT), float64(rttRef)))

	if e := relErr(est.Goodput, recvWeighted); math.Abs(e) > 0.10 {
		t.Errorf("CM goodput %.2f Mbit/s is %+.1f%% off the receiver's %.2f Mbit/s (tolerance 10%%)", mbps(est.Goodput), 100*e, mbps(recvWeighted))
	}
	if e := relErr(est.Rate, recvWeighted); math.Abs(e) > 0.10 {
		t.Errorf("CM rate %.2f Mbit/s is %+.1f%% off the receiver's %.2f Mbit/s (tolerance 10%%)", mbps(est.Rate), 100*e, mbps(recvWeighted))
	}
	if e := relErr(float64(est.RTT), float64(rttRef)); math.Abs(e) > 0.10 {
		t.Errorf("CM RTT %v is %+.1f%% off the path's %v (tolerance 10%%)", est.RTT, 100*e, rttRef)
	}
	// The goodput reference itself must describe a busy link: TCP payload
	// is 1448 of every 1500 bytes at 20 Mbit/s, 19.3 Mbit/s.
	if r := mbps(recvWeighted); r < 17 || r > 20 {
		t.Errorf("receiver goodput %.2f Mbit/s: the link is not busy (test setup?)", r)
	}
}

// TestCM_subscriptionFiresWhenRateHalves: a Subscribe callback for a 30%
// fall fires within 2 s after the link's rate is halved under a bulk
// transfer that fills it.
func TestCM_subscriptionFiresWhenRateHalves(t *testing.T) {
	tb, m, x := startWatched(t)
	ab, ba := cmLink()

	// Subscribe once the estimate has settled at the link's rate, so that
	// the subscription's reference (the rate of its first call) is it.
	time.Sleep(3 * time.Second)
	type call struct {
		at  time.Time
		est congestion.Estimate
	}
	calls := make(chan call, 16)
	const fall = 0.7 // call back when the rate falls to 70% or below
	cancel := m.Subscribe(congestion.Host(x.addr), 1/fall, 2, func(e congestion.Estimate) {
		select {
		case calls <- call{time.Now(), e}:
		default:
		}
	})
	defer cancel()
	var ref congestion.Estimate
	select {
	case c := <-calls:
		ref = c.est
	case <-time.After(time.Second):
		t.Fatal("no first callback")
	}
	if r := mbps(ref.Rate); r < 17 || r > 20 {
		t.Fatalf("rate at subscription %.2f Mbit/s, want the link's 19.3 (test setup?)", r)
	}

	ab.Rate /= 2 // the queue stays 100 kB
	changed := time.Now()
	if err := tb.SetLink("a", "b", ab, ba); err != nil {
		t.Fatal(err)
	}
	const bound = 2 * time.Second
	deadline := time.After(bound + time.Second) // wait a little longer, to say how late
	for {
		select {
		case c := <-calls:
			delay := c.at.Sub(changed)
			t.Logf("callback %v after the halving: rate %.2f Mbit/s (reference %.2f, threshold %.2f), goodput %.2f Mbit/s, RTT %v",
				delay.Round(time.Millisecond), mbps(c.est.Rate), mbps(ref.Rate), fall*mbps(ref.Rate), mbps(c.est.Goodput), c.est.RTT)
			if c.est.Rate > ref.Rate {
				continue // a rise: not the one awaited
			}
			if delay > bound {
				t.Errorf("callback came %v after the rate was halved, want ≤ %v", delay, bound)
			}
			return
		case <-deadline:
			e, _ := m.Query(congestion.Host(x.addr))
			t.Fatalf("no callback %v after the rate was halved; estimate now %.2f Mbit/s (reference %.2f)",
				bound+time.Second, mbps(e.Rate), mbps(ref.Rate))
		}
	}
}

// TestCM_receiveLoss: the receiving end of a transfer over a link that
// drops 1% of the packets at random estimates the loss from the segments
// that arrive out of order, within a factor of two of what the sender's
// kernel retransmitted, and near zero on a clean link.
func TestCM_receiveLoss(t *testing.T) {
	for _, loss := range []float64{0, 0.01} {
		t.Run(fmt.Sprintf("loss %.0f%%", loss*100), func(t *testing.T) {
			ab, ba := cmLink()
			ab.Loss = linkem.IID(loss)
			tb := build(t, lab.TestbedConfig{Topology: twoHosts(ab, ba), Congestion: "cubic"})
			m := congestion.New(congestion.Config{})
			t.Cleanup(m.Close)
			x := startBulk(t, tb)
			send, recv := m.Open(x.addr), m.Open("receiver:1")
			if err := send.Watch(x.conn, congestion.Send); err != nil {
				t.Fatal(err)
			}
			if err := recv.Watch(x.rconn, congestion.Receive); err != nil {
				t.Fatal(err)
			}
			send.SetBusy(true)
			recv.SetBusy(true)
			time.Sleep(6 * time.Second)
			se, re := send.Query(), recv.Query()
			x.stop()
			t.Logf("link loss %.1f%%: the sender's retransmissions %.2f%%, the receiver's estimate %.2f%% (rate %.1f Mbit/s, RTT %v)",
				100*loss, 100*se.Loss, 100*re.Loss, mbps(re.Rate), re.RTT)
			if loss == 0 {
				if re.Loss > 0.002 {
					t.Errorf("the receiver estimates %.2f%% loss on a clean link", 100*re.Loss)
				}
				return
			}
			if re.Loss < se.Loss/2 || re.Loss > se.Loss*2 {
				t.Errorf("the receiver estimates %.2f%% loss, the sender retransmitted %.2f%%: want within a factor of two", 100*re.Loss, 100*se.Loss)
			}
		})
	}
}
