package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/node/nodetest"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

type fixture struct {
	key      peer.Key
	upstream *peertest.Server
	relay    *node.Node
}

func newFixture(t *testing.T, objects map[string][]byte, cacheDir string) *fixture {
	t.Helper()
	key, err := peer.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h := &peertest.Handler{}
	for p, b := range objects {
		h.Put(p, b)
	}
	up := peertest.Start(t, peer.Config{Key: key}, h)
	cfg := nodetest.Config(t, conf.RoleRelay, key, up.Addr)
	cfg.Cache.Dir, cfg.Cache.Size, cfg.Transfer.Conns = cacheDir, 64<<20, 4
	r := nodetest.Start(t, cfg, Mount)
	return &fixture{key: key, upstream: up, relay: r}
}

func (f *fixture) dial(t *testing.T) *peer.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := peer.Dial(ctx, f.relay.Addr("peer").String(), peer.Config{Key: f.key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *peer.Conn, h uint32, off uint64, n int) ([]byte, error) {
	t.Helper()
	dst := make([]byte, n)
	done := make(chan error, 1)
	if _, err := c.Read(h, off, dst, func(err error) { done <- err }); err != nil {
		return nil, err
	}
	select {
	case err := <-done:
		return dst, err
	case <-time.After(20 * time.Second):
		t.Fatal("read timed out")
		return nil, nil
	}
}

func TestRelay_servesAndCaches(t *testing.T) {
	data := peertest.RandomBytes(6<<20+99, 1)
	f := newFixture(t, map[string][]byte{"v/a.mp4": data}, t.TempDir())
	c := f.dial(t)
	h, o, err := c.Open(context.Background(), "v/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != uint64(len(data)) {
		t.Fatalf("size %d", o.Size)
	}
	got, err := read(t, c, h, 0, len(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %v", err)
	}
	served := f.upstream.Handler.BytesServed.Load()
	if served < int64(len(data)) {
		t.Fatalf("upstream served %d of %d bytes", served, len(data))
	}
	// The store writer runs behind the data path; give it a moment, then
	// read again: all from the cache.
	deadline := time.Now().Add(5 * time.Second)
	for nodetest.Metric(t, f.relay, "aqueduct_cache_bytes") < float64(len(data)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got, err = read(t, c, h, 1000, 3<<20)
	if err != nil || !bytes.Equal(got, data[1000:1000+3<<20]) {
		t.Fatalf("second read: %v", err)
	}
	if again := f.upstream.Handler.BytesServed.Load(); again != served {
		t.Fatalf("second read fetched %d more bytes from upstream; want a cache hit", again-served)
	}
}

func TestRelay_errors(t *testing.T) {
	f := newFixture(t, map[string][]byte{"a": []byte("x")}, "")
	c := f.dial(t)
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		code wire.Code
	}{
		{"missing", wire.CodeNotFound},
		{"../etc/passwd", wire.CodeForbidden},
		{".git/config", wire.CodeForbidden},
		{"a/./b", wire.CodeBadRequest},
		{"a\\b", wire.CodeBadRequest},
	} {
		_, _, err := c.Open(ctx, tc.path)
		var pe *peer.Error
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("open %q: %v, want %v", tc.path, err, tc.code)
		}
	}
}

func TestRelay_upstreamDownIsUnavailable(t *testing.T) {
	f := newFixture(t, map[string][]byte{"a": []byte("x")}, "")
	f.upstream.Kill()
	c := f.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err := c.Open(ctx, "a")
	var pe *peer.Error
	if !errors.As(err, &pe) || pe.Code != wire.CodeUnavailable {
		t.Fatalf("open with the upstream down: %v, want UNAVAILABLE", err)
	}
}

// pausable is a connection whose reads can be stopped, to make a
// downstream that stops reading.
type pausable struct {
	net.Conn
	mu     sync.Mutex
	paused chan struct{}
}

func (p *pausable) Read(b []byte) (int, error) {
	p.mu.Lock()
	ch := p.paused
	p.mu.Unlock()
	if ch != nil {
		<-ch
	}
	return p.Conn.Read(b)
}

func (p *pausable) pause() {
	p.mu.Lock()
	p.paused = make(chan struct{})
	p.mu.Unlock()
}

func (p *pausable) resume() {
	p.mu.Lock()
	close(p.paused)
	p.paused = nil
	p.mu.Unlock()
}

// A downstream that stops reading does not slow the upstream transfer of
// what it asked for, nor another downstream.
func TestRelay_slowDownstreamIsolated(t *testing.T) {
	data := peertest.RandomBytes(16<<20, 2)
	f := newFixture(t, map[string][]byte{"o": data}, t.TempDir())

	nc, err := net.Dial("tcp", f.relay.Addr("peer").String())
	if err != nil {
		t.Fatal(err)
	}
	pc := &pausable{Conn: nc}
	slow, err := peer.Client(context.Background(), pc, peer.Config{Key: f.key})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	h, _, err := slow.Open(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	pc.pause()
	// The slow downstream asks for the whole object and reads nothing.
	slowDone := make(chan error, 1)
	if _, err := slow.Read(h, 0, make([]byte, len(data)), func(err error) { slowDone <- err }); err != nil {
		t.Fatal(err)
	}
	// The fast one gets everything meanwhile.
	fast := f.dial(t)
	fh, _, err := fast.Open(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := read(t, fast, fh, 0, len(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fast downstream: %v", err)
	}
	t.Logf("fast downstream read %d MiB in %v while the slow one read nothing", len(data)>>20, time.Since(start))
	select {
	case err := <-slowDone:
		t.Fatalf("slow read finished while paused: %v", err)
	default:
	}
	pc.resume()
	if err := <-slowDone; err != nil {
		t.Fatalf("slow downstream after resuming: %v", err)
	}
}

// stuckConn stops reading once told to: a downstream that does not read.
type stuckConn struct {
	net.Conn
	stop, closed chan struct{}
}

func (c stuckConn) Read(p []byte) (int, error) {
	select {
	case <-c.stop:
		<-c.closed // never reads again
		return 0, net.ErrClosed
	default:
	}
	return c.Conn.Read(p)
}

func (c stuckConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.Conn.Close()
}

// A downstream connection that asks for large READs and stops reading holds
// only its own bounded share of the relay's memory: another downstream is
// served meanwhile.
func TestRelay_stuckDownstreamHoldsBoundedMemory(t *testing.T) {
	key, _ := peer.GenerateKey()
	h := &peertest.Handler{}
	h.Put("big", peertest.RandomBytes(64<<20, 1))
	h.Put("small", peertest.RandomBytes(300<<10, 2))
	up := peertest.Start(t, peer.Config{Key: key}, h)
	cfg := nodetest.Config(t, conf.RoleRelay, key, up.Addr)
	cfg.Transfer.Memory, cfg.Transfer.Conns = 32<<20, 4
	r := nodetest.Start(t, cfg, Mount)

	nc, err := net.Dial("tcp", r.Addr("peer").String())
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetReadBuffer(4096)
	sc := stuckConn{nc, make(chan struct{}), make(chan struct{})}
	slow, err := peer.Client(context.Background(), sc, peer.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	hd, _, err := slow.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	close(sc.stop)
	for i := range 4 {
		if _, err := slow.Read(hd, uint64(i)<<24, make([]byte, 16<<20), func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)

	c := (&fixture{key: key, relay: r}).dial(t)
	start := time.Now()
	h2, _, err := c.Open(context.Background(), "small")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	c.Read(h2, 0, make([]byte, 300<<10), func(err error) { got <- err })
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the other downstream's read took %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("another downstream's 300 KiB read is still waiting after 10 s behind the stuck one")
	}
}

// Relays whose upstreams form a loop (A's upstream is B, B's is A; or A
// names itself under another address) refuse a request at once with LOOP
// instead of passing it round until it times out, and count it.
func TestRelay_upstreamLoop(t *testing.T) {
	key, _ := peer.GenerateKey()
	t.Run("two relays", func(t *testing.T) {
		aAddr, bAddr := aqtest.FreeAddr(t), aqtest.FreeAddr(t)
		a := nodetest.Config(t, conf.RoleRelay, key, bAddr)
		a.Name, a.Peer.Listen = "relayA", aAddr
		b := nodetest.Config(t, conf.RoleRelay, key, aAddr)
		b.Name, b.Peer.Listen = "relayB", bAddr
		na, nb := nodetest.Start(t, a, Mount), nodetest.Start(t, b, Mount)
		checkLoop(t, key, aAddr, na, nb)
	})
	t.Run("itself", func(t *testing.T) {
		// Listening on every address and naming itself by a loopback
		// address is caught by Validate; by another name, at run time.
		addr := aqtest.FreeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		self := nodetest.Config(t, conf.RoleRelay, key, "localhost:"+port)
		self.Peer.Listen = "127.0.0.1:" + port
		n := nodetest.Start(t, self, Mount)
		checkLoop(t, key, addr, n, n)
	})
}

func checkLoop(t *testing.T, key peer.Key, addr string, nodes ...*node.Node) {
	t.Helper()
	for _, n := range nodes { // each has dialed its upstream
		deadline := time.Now().Add(10 * time.Second)
		for nodetest.Metric(t, n, "aqueduct_upstream_connections") == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := peer.Dial(ctx, addr, peer.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _, err = c.Open(ctx, "v/a.mp4")
	var pe *peer.Error
	if !errors.As(err, &pe) || pe.Code != wire.CodeLoop {
		t.Fatalf("open through a loop: %v after %v, want LOOP", err, time.Since(start))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("LOOP took %v", d)
	}
	t.Logf("open through a loop: %v after %v", err, time.Since(start).Round(time.Millisecond))
	var loops float64
	for _, n := range nodes {
		loops += nodetest.Metric(t, n, "aqueduct_peer_loops_total")
	}
	if loops == 0 {
		t.Error("aqueduct_peer_loops_total is 0")
	}
}
