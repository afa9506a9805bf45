package transfer

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

// TestEngine_secondTransferStartsFromWhatTheFirstLearnt: over an emulated
// lossy path under CUBIC, where loss holds each connection's rate down,
// the first transfer's engine grows its connection count from its share
// of 4; a second engine sharing the node's congestion manager starts at
// the count the first settled on, and so has its first 8 MiB sooner.
func TestEngine_secondTransferStartsFromWhatTheFirstLearnt(t *testing.T) {
	path := linkem.Config{Rate: 40 * linkem.Mbps, Delay: 30 * time.Millisecond, Loss: linkem.IID(0.01),
		QueueBytes: (40 * linkem.Mbps).Bytes(60 * time.Millisecond)}
	top := lab.Topology{
		Hosts: []lab.Host{{Name: "server"}, {Name: "client"}},
		Links: []lab.Link{{A: "server", B: "client", AB: path, BA: path}},
	}
	tb := buildTestbed(t, top, "cubic")
	// The first object is long enough for the sizing to judge its steps;
	// the second is another object, fetched afresh.
	objects := map[string][]byte{"v/first.bin": peertest.RandomBytes(64<<20, 7), "v/second.bin": peertest.RandomBytes(16<<20, 8)}
	const mark = 8 << 20
	key := newKey(t)
	addr, err := tb.Addr("server", "client")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tb.Listen("server", "tcp", addr.String()+":7070")
	if err != nil {
		t.Fatal(err)
	}
	h := &peertest.Handler{}
	for name, data := range objects {
		h.Put(name, data)
	}
	peertest.StartOn(t, ln, peer.Config{Key: key}, h)

	cm := congestion.New(congestion.Config{})
	defer cm.Close()
	// run fetches name with a new engine and returns how long its first
	// mark bytes took to arrive: timed by what the engine received, not
	// by what the reader took, which waits for the first blocks in order.
	run := func(name string) (time.Duration, UpstreamStats) {
		e, err := New(Config{
			Upstreams:  []string{ln.Addr().String()},
			Conns:      4,
			Peer:       peer.Config{Key: key},
			Congestion: cm,
			Logger:     aqtest.Logger(t, slog.LevelInfo),
			dial:       dialFrom(tb, "client"),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		start := time.Now()
		markAt := make(chan time.Duration, 1)
		go func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for range tick.C {
				if e.Stats().Bytes >= mark || time.Since(start) > time.Minute {
					markAt <- time.Since(start)
					return
				}
			}
		}()
		got, err := readAll(t, e, name, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		whole := time.Since(start)
		if !bytes.Equal(got, objects[name]) {
			t.Fatalf("%s: bytes differ", name)
		}
		at := <-markAt
		us := e.Upstreams()[0]
		t.Logf("%s: first %d MiB in %v, all %d MiB in %v (%.1f Mbit/s); connections: %d dials, target %d (%s: %s)",
			name, mark>>20, at.Round(time.Millisecond), len(got)>>20, whole.Round(time.Millisecond),
			float64(len(got))*8/whole.Seconds()/1e6, us.Dials, us.Target, us.Reason, us.Detail)
		return at, us
	}
	first, us1 := run("v/first.bin")
	learnt := cm.Conns(congestion.Host(ln.Addr().String()))
	if learnt <= 4 {
		t.Fatalf("the first transfer's sizing settled on %d connections (%s: %s); on this path more than its share of 4 pay",
			learnt, us1.Reason, us1.Detail)
	}
	second, us2 := run("v/second.bin")
	if us2.Dials < int64(learnt) {
		t.Errorf("the second engine dialled %d connections, want it to start at the %d the first learnt", us2.Dials, learnt)
	}
	if second >= first {
		t.Errorf("the second transfer's first %d MiB took %v, the first's %v: starting from what the first learnt should reach full rate sooner",
			mark>>20, second, first)
	}
}
