package transfer

// Regression tests for defects found in review: each failed before its fix.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// flaky refuses every OPEN with UNAVAILABLE while down is set (a relay whose
// own upstream is unreachable), then serves normally.
type flaky struct {
	*peertest.Handler
	down           atomic.Bool
	opens, refused atomic.Int64
}

func (h *flaky) Open(ctx context.Context, path string) (peer.Object, error) {
	if h.down.Load() {
		h.refused.Add(1)
		return nil, peer.Errorf(wire.CodeUnavailable, "upstream unavailable")
	}
	h.opens.Add(1)
	return h.Handler.Open(ctx, path)
}

func serve(t *testing.T, cfg peer.Config, h peer.Handler) string {
	ln, err := peer.Listen(context.Background(), "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := peer.NewServer(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Serve(ctx, ln)
	t.Cleanup(func() {
		c, cc := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(c)
		cc()
		cancel()
	})
	return ln.Addr().String()
}

// Handles whose OPEN failed are dropped from engConn.handles without a
// CLOSE, so the upstream keeps them (they count against its MaxHandles):
// after 256 refusals on one connection, the upstream answers every later
// OPEN on it with TOO_MANY, even once it is healthy again.
func TestEngine_failedOpensDoNotExhaustHandles(t *testing.T) {
	key := newKey(t)
	good := &peertest.Handler{}
	bad := &flaky{Handler: &peertest.Handler{}}
	const phase1, phase2 = 300, 60
	for i := range phase1 + phase2 {
		b := peertest.RandomBytes(256<<10+1000+i, uint64(i))
		good.Put(fmt.Sprintf("o%d", i), b)
		bad.Put(fmt.Sprintf("o%d", i), b)
	}
	bad.down.Store(true)
	a0 := serve(t, peer.Config{Key: key}, good)
	a1 := serve(t, peer.Config{Key: key}, bad)
	e, err := New(Config{Upstreams: []string{a0, a1}, Peer: peer.Config{Key: key}, Conns: 2, Pipeline: 1, MaxObjects: 8,
		Logger: aqtest.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	read := func(i int) {
		got, err := readAll(t, e, fmt.Sprintf("o%d", i), 0, -1)
		if err != nil || len(got) != 256<<10+1000+i {
			t.Fatalf("o%d: %d bytes, %v", i, len(got), err)
		}
	}
	for i := range phase1 {
		read(i)
	}
	t.Logf("phase 1: upstream 1 refused %d OPENs", bad.refused.Load())
	bad.down.Store(false)
	for i := phase1; i < phase1+phase2; i++ {
		read(i)
	}
	t.Logf("healthy again, upstream 1 got %d opens for %d new objects", bad.opens.Load(), phase2)
	if bad.opens.Load() == 0 {
		t.Errorf("upstream 1 never got an OPEN after recovering: its connection's handle slots leaked")
	}
}

type hugeHandler struct{}

func (hugeHandler) Open(ctx context.Context, path string) (peer.Object, error) { return hugeObj{}, nil }

type hugeObj struct{}

func (hugeObj) Meta() object.Meta {
	return object.Meta{Path: "x", Size: 1 << 48, BlockSize: 64 << 10, ETag: `"x"`, ModTime: time.Unix(1, 0)}
}
func (hugeObj) Hashes() object.Hashes { return nil }
func (hugeObj) Close() error          { return nil }
func (hugeObj) NewReader(context.Context, int64, int64) (io.ReadCloser, error) {
	return nil, io.EOF
}

// One OBJECT frame from any key holder (a faulty relay) that describes 2^32
// blocks makes describe() allocate a 128 GiB hash slice up front: the edge
// or relay dies with "fatal error: runtime: out of memory".
func TestEngine_hugeObjectRefused(t *testing.T) {
	key := newKey(t)
	addr := serve(t, peer.Config{Key: key}, hugeHandler{})
	e, err := New(Config{Upstreams: []string{addr}, Peer: peer.Config{Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err = e.Open(context.Background(), "x"); err == nil {
		t.Fatal("an object of 2^32 blocks was accepted")
	}
	t.Logf("Open: %v", err)
}

// After Engine.Close, post() drops evWant, and chunk() waits only on r.wake
// and r.ctx: a Reader that asks for a block after Close (e.g. an HTTP handler
// still running when the edge's Shutdown timed out) hangs until its
// request's context ends instead of failing with ErrClosed.
func TestEngine_readerFailsAfterClose(t *testing.T) {
	data := peertest.RandomBytes(1<<20, 5)
	f := newFixture(t, 1, map[string][]byte{"o": data})
	e := f.engine(t, Config{Conns: 1})
	o, err := e.Open(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, _ := o.NewReader(ctx, 0, 1000)
	defer r.Close()
	start := time.Now()
	_, err = r.Read(make([]byte, 1000))
	t.Logf("Read after Close returned %v after %v", err, time.Since(start).Round(time.Millisecond))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("Read waited for its own context instead of failing with ErrClosed")
	}
}
