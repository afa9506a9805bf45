package transfer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/lab/labtest"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

// TestEngine_emulatedLossyPaths runs the engine over the lab's emulated
// links instead of loopback: two upstreams behind paths of different rate,
// delay and loss (one of them losing packets in bursts), reached from a
// client namespace through real kernel TCP. The object must arrive intact,
// both paths must carry part of it, the links must really have lost
// packets, and copies must not cost more than half the object again.
// Nothing here is timed: speed over such paths is the lab's to measure
// (examples/lab/seed001-long-path.yaml).
func TestEngine_emulatedLossyPaths(t *testing.T) {
	labtest.RequireRoot(t)
	path1 := linkem.Config{Rate: 40 * linkem.Mbps, Delay: 20 * time.Millisecond, Loss: linkem.IID(0.01)}
	path2 := linkem.Config{Rate: 20 * linkem.Mbps, Delay: 35 * time.Millisecond, Loss: linkem.Bursty(0.005, 3)}
	top := lab.Topology{
		Hosts: []lab.Host{{Name: "s1"}, {Name: "s2"}, {Name: "client"}},
		Links: []lab.Link{
			{A: "s1", B: "client", AB: path1, BA: path1},
			{A: "s2", B: "client", AB: path2, BA: path2},
		},
	}
	// BBR, as Aqueduct's peer links use by default: under CUBIC, 1% loss
	// at these delays would make the test slow without testing more.
	tb := buildTestbed(t, top, "bbr")

	const size = 48<<20 + 1234
	data := peertest.RandomBytes(size, 42)
	key := newKey(t)
	var servers []*peertest.Server
	var upstreams []string
	for _, host := range []string{"s1", "s2"} {
		addr, err := tb.Addr(host, "client")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tb.Listen(host, "tcp", addr.String()+":7070")
		if err != nil {
			t.Fatal(err)
		}
		h := &peertest.Handler{}
		h.Put("v/big.bin", data)
		servers = append(servers, peertest.StartOn(t, ln, peer.Config{Key: key}, h))
		upstreams = append(upstreams, ln.Addr().String())
	}

	e, err := New(Config{
		Upstreams: upstreams,
		Conns:     8,
		Peer:      peer.Config{Key: key},
		Logger:    aqtest.Logger(t, slog.LevelInfo),
		dial:      dialFrom(tb, "client"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })

	start := time.Now()
	got, err := readAll(t, e, "v/big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("bytes differ")
	}
	a, b := servers[0].Handler.BytesServed.Load(), servers[1].Handler.BytesServed.Load()
	t.Logf("%d bytes in %v (%.1f Mbit/s); path 1 served %d, path 2 %d; engine %+v",
		size, elapsed.Round(time.Millisecond), float64(size)*8/elapsed.Seconds()/1e6, a, b, e.Stats())
	if a == 0 || b == 0 {
		t.Errorf("path 1 served %d bytes and path 2 %d: both should carry part", a, b)
	}
	if a+b > size*3/2 {
		t.Errorf("upstreams served %d bytes for %d: copies cost more than half the object", a+b, size)
	}
	for i, l := range tb.LinkStats() {
		t.Logf("link %s–%s: lost %d/%d packets down, %d/%d up", l.A, l.B,
			l.AB.LostPackets, l.AB.Packets, l.BA.LostPackets, l.BA.Packets)
		if l.AB.LostPackets == 0 {
			t.Errorf("path %d lost no packets: the test did not run over a lossy path", i+1)
		}
	}
	if err := tb.Err(); err != nil {
		t.Errorf("links: %v", err)
	}
}

// buildTestbed builds top's namespaces and links with every host on
// congestion control cc, and removes them when the test ends.
func buildTestbed(t *testing.T, top lab.Topology, cc string) *lab.Testbed {
	t.Helper()
	labtest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tb, err := lab.Build(ctx, lab.TestbedConfig{Topology: top, ID: labtest.ID(t), Congestion: cc})
	if err != nil {
		t.Fatalf("lab.Build: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("testbed Close: %v", err)
		}
	})
	return tb
}

// dialFrom returns an engine dial function that connects from host's
// namespace.
func dialFrom(tb *lab.Testbed, host string) func(context.Context, string, peer.Config) (*peer.Conn, error) {
	return func(ctx context.Context, addr string, cfg peer.Config) (*peer.Conn, error) {
		nc, err := tb.Dial(ctx, host, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s from the %s namespace: %w", addr, host, err)
		}
		c, err := peer.Client(ctx, nc, cfg)
		if err != nil {
			nc.Close()
		}
		return c, err
	}
}
