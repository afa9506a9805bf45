package lab_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// TestCM_budgetFairness: with the budget at 1x, four connections to one
// host and one plain TCP connection beside them share a 20 Mbit/s, 40 ms
// bottleneck with Jain's fairness index of at least 0.9 between the
// ensemble and the competitor. Without a budget the ensemble takes about
// four fifths (an index near 0.74), which the test logs for contrast.
func TestCM_budgetFairness(t *testing.T) {
	const rate = 20 * linkem.Mbps
	c := linkem.Config{Rate: rate, Delay: 20 * time.Millisecond, QueueBytes: rate.Bytes(40 * time.Millisecond)}
	tb := build(t, lab.TestbedConfig{Topology: twoHosts(c, c)})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := tb.SetCongestion(ctx, "cubic"); err != nil {
		t.Fatal(err)
	}
	for _, budget := range []congestion.Budget{{}, {Multiple: 1}} {
		ensemble, competitor := shareBottleneck(t, tb, budget, 4, 14*time.Second, 6*time.Second)
		j := jain(ensemble, competitor)
		t.Logf("budget %v: ensemble of 4 %.2f Mbit/s, competitor %.2f Mbit/s, Jain's index %.3f",
			budget, ensemble*8/1e6, competitor*8/1e6, j)
		if !budget.IsZero() && j < 0.9 {
			t.Errorf("budget %v: Jain's index %.3f between the ensemble (%.2f Mbit/s) and the competitor (%.2f Mbit/s), want at least 0.9",
				budget, j, ensemble*8/1e6, competitor*8/1e6)
		}
	}
}

// jain is Jain's fairness index of two rates.
func jain(x, y float64) float64 {
	if x+y == 0 {
		return 0
	}
	return (x + y) * (x + y) / (2 * (x*x + y*y))
}

// shareBottleneck runs n connections from a to b registered in a CM with
// budget, and one plain connection beside them, for d, and returns the
// rates (bytes per second) the ensemble and the competitor delivered after
// skip.
func shareBottleneck(t *testing.T, tb *lab.Testbed, budget congestion.Budget, n int, d, skip time.Duration) (ensemble, competitor float64) {
	t.Helper()
	bAddr, err := tb.Addr("b", "a")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tb.Listen("b", "tcp4", bAddr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Each accepted connection says first which counter it feeds.
	counts := make([]atomic.Int64, n+1)
	var measuring atomic.Bool
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var id [1]byte
				if _, err := io.ReadFull(c, id[:]); err != nil || int(id[0]) > n {
					return
				}
				buf := make([]byte, 64<<10)
				for {
					k, err := c.Read(buf)
					if measuring.Load() {
						counts[id[0]].Add(int64(k))
					}
					if err != nil {
						return
					}
				}
			})
		}
	}()
	m := congestion.New(congestion.Config{Budget: budget})
	defer m.Close()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var senders sync.WaitGroup
	for i := range n + 1 {
		conn, err := tb.Dial(ctx, "a", "tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var f *congestion.Flow
		if i < n { // the last one is the plain competitor
			f = m.Open(conn.RemoteAddr().String())
			defer f.Close()
			if err := f.Watch(conn, congestion.Send); err != nil {
				t.Fatal(err)
			}
		}
		senders.Go(func() { bulkSend(ctx, conn, f, byte(i)) })
	}
	time.Sleep(skip)
	measuring.Store(true)
	start := time.Now()
	<-ctx.Done()
	measuring.Store(false)
	elapsed := time.Since(start).Seconds()
	senders.Wait()
	for i := range n {
		ensemble += float64(counts[i].Load()) / elapsed
	}
	if l, ok := m.Limit(congestion.Host(ln.Addr().String())); ok {
		t.Logf("budget %v: allowance at the end %.2f Mbit/s", budget, l*8/1e6)
	}
	return ensemble, float64(counts[n].Load()) / elapsed
}

// bulkSend writes to c until ctx ends, waiting for f's grants if f is set.
func bulkSend(ctx context.Context, c net.Conn, f *congestion.Flow, id byte) {
	if _, err := c.Write([]byte{id}); err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for ctx.Err() == nil {
		if f != nil {
			if err := f.Grant(ctx, len(buf)); err != nil {
				return
			}
		}
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Write(buf); err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				return
			}
		}
	}
}
