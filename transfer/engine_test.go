package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/object"

	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

func newKey(t testing.TB) peer.Key {
	k, err := peer.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixture: n upstream servers holding the same objects.
type fixture struct {
	key     peer.Key
	servers []*peertest.Server
	addrs   []string
}

func newFixture(t testing.TB, n int, objects map[string][]byte) *fixture {
	f := &fixture{key: newKey(t)}
	for range n {
		h := &peertest.Handler{}
		for p, b := range objects {
			h.Put(p, b)
		}
		s := peertest.Start(t, peer.Config{Key: f.key}, h)
		f.servers = append(f.servers, s)
		f.addrs = append(f.addrs, s.Addr)
	}
	return f
}

func (f *fixture) engine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if cfg.Upstreams == nil {
		cfg.Upstreams = f.addrs
	}
	cfg.Peer.Key = f.key
	if cfg.Logger == nil {
		cfg.Logger = aqtest.Logger(t, slog.LevelInfo)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func readAll(t testing.TB, e *Engine, path string, off, n int64) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o, err := e.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	if n < 0 {
		n = o.Meta().Size - off
	}
	r, err := o.NewReader(ctx, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	_, err = r.WriteTo(&buf)
	return buf.Bytes(), err
}

func TestEngine_wholeObjectOverManyConnections(t *testing.T) {
	data := peertest.RandomBytes(32<<20+777, 1)
	f := newFixture(t, 2, map[string][]byte{"v/big.bin": data})
	e := f.engine(t, Config{Conns: 8, MaxConns: 1}) // counted below: not sized
	got, err := readAll(t, e, "v/big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("bytes differ")
	}
	a, b := f.servers[0].Handler.BytesServed.Load(), f.servers[1].Handler.BytesServed.Load()
	if a == 0 || b == 0 {
		t.Fatalf("served %d and %d bytes: both upstreams should carry part", a, b)
	}
	// Copies (tail and late blocks) cost at most one copy of each block in
	// flight: conns × pipeline blocks.
	if limit := int64(len(data)) + 8*4*256<<10; a+b > limit {
		t.Fatalf("upstreams served %d bytes for %d; at most %d with copies", a+b, len(data), limit)
	}
	if st := e.Stats(); st.Conns != 8 {
		t.Fatalf("%d connections, want 8", st.Conns)
	}
}

func TestEngine_ranges(t *testing.T) {
	data := peertest.RandomBytes(5<<20+3, 2)
	f := newFixture(t, 2, map[string][]byte{"o": data})
	e := f.engine(t, Config{Conns: 4})
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		off := r.Int64N(int64(len(data)))
		n := r.Int64N(int64(len(data)) - off + 1)
		got, err := readAll(t, e, "o", off, n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[off:off+n]) {
			t.Fatalf("range %d+%d differs", off, n)
		}
	}
	// Empty range and empty object.
	if got, err := readAll(t, e, "o", 7, 0); err != nil || len(got) != 0 {
		t.Fatalf("empty range: %v %d", err, len(got))
	}
}

func TestEngine_emptyObjectAndNotFound(t *testing.T) {
	f := newFixture(t, 1, map[string][]byte{"empty": {}})
	e := f.engine(t, Config{Conns: 2})
	if got, err := readAll(t, e, "empty", 0, -1); err != nil || len(got) != 0 {
		t.Fatalf("empty object: %v %d", err, len(got))
	}
	_, err := readAll(t, e, "missing", 0, -1)
	if !errors.Is(err, peer.ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}
}

// An upstream that dies mid-transfer: its blocks move to the other one and
// the transfer completes and verifies.
func TestEngine_upstreamDiesMidTransfer(t *testing.T) {
	data := peertest.RandomBytes(48<<20, 3)
	f := newFixture(t, 2, map[string][]byte{"o": data})
	// Slow both down a little so the kill lands mid-transfer.
	for _, s := range f.servers {
		s.Handler.Delay.Store(int64(2 * time.Millisecond))
	}
	e := f.engine(t, Config{Conns: 8})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f.servers[0].Handler.BytesServed.Load() < 4<<20 {
			time.Sleep(time.Millisecond)
		}
		f.servers[0].Kill()
	}()
	got, err := readAll(t, e, "o", 0, -1)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	if f.servers[0].Handler.BytesServed.Load() >= int64(len(data)) {
		t.Fatal("killed upstream served everything")
	}
}

// An upstream that corrupts what it sends is detected by the block hashes,
// banned, and its blocks are fetched from the other.
func TestEngine_corruptUpstream(t *testing.T) {
	data := peertest.RandomBytes(16<<20, 4)
	f := newFixture(t, 2, map[string][]byte{"o": data})
	e := f.engine(t, Config{Conns: 4})
	// Open first (the description must come from somewhere), then turn
	// upstream 1 bad.
	ctx := context.Background()
	o, err := e.Open(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	f.servers[1].Handler.Corrupt.Store(true)
	r, err := o.NewReader(ctx, 0, o.Meta().Size)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("corrupt bytes reached the reader")
	}
	if st := e.Stats(); st.Corrupt == 0 {
		t.Fatal("no corrupt block counted")
	}
}

func TestEngine_unreachable(t *testing.T) {
	f := &fixture{key: newKey(t), addrs: []string{peertest.FreeAddr(t), peertest.FreeAddr(t)}}
	e := f.engine(t, Config{Conns: 2})
	start := time.Now()
	_, err := readAll(t, e, "o", 0, -1)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v to give up", d)
	}
}

func TestEngine_wrongKeyRefused(t *testing.T) {
	f := newFixture(t, 1, map[string][]byte{"o": []byte("x")})
	f.key = newKey(t) // the engine gets a different key
	e := f.engine(t, Config{Conns: 1})
	if _, err := readAll(t, e, "o", 0, -1); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
}

// A consumer that stops reading holds the engine to its window: the engine
// does not fetch the whole object into memory.
func TestEngine_slowConsumerBoundsMemory(t *testing.T) {
	data := peertest.RandomBytes(64<<20, 5)
	f := newFixture(t, 1, map[string][]byte{"o": data})
	const window = 4 << 20
	e := f.engine(t, Config{Conns: 4, Pipeline: 2, Window: window})
	ctx := context.Background()
	o, err := e.Open(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r, err := o.NewReader(ctx, 0, o.Meta().Size)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the engine would fetch everything by now
	served := f.servers[0].Handler.BytesServed.Load()
	// The window is Window or windowPerConn blocks per connection, the
	// larger; and two blocks in flight per connection beyond it.
	if limit := max(window, windowPerConn*4*o.Meta().BlockSize) + 2<<20; served > limit {
		t.Fatalf("served %d bytes while the consumer read 1 MiB; window %d", served, window)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(buf, rest...), data) {
		t.Fatal("bytes differ")
	}
}

// Many readers of the same object share the fetch.
func TestEngine_concurrentReadersShare(t *testing.T) {
	data := peertest.RandomBytes(8<<20, 6)
	f := newFixture(t, 2, map[string][]byte{"o": data})
	e := f.engine(t, Config{Conns: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			got, err := readAll(t, e, "o", 0, -1)
			if err == nil && !bytes.Equal(got, data) {
				err = errors.New("bytes differ")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	served := f.servers[0].Handler.BytesServed.Load() + f.servers[1].Handler.BytesServed.Load()
	if served >= int64(len(data))*20 {
		t.Fatalf("upstreams served %d bytes for 20 readers of %d: nothing shared", served, len(data))
	}
}

type memStore struct {
	mu sync.Mutex
	m  map[object.Digest]map[uint32][]byte
}

func (s *memStore) Get(d object.Digest, idx uint32, dst []byte) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[d][idx]
	return copy(dst, b), ok
}

func (s *memStore) Put(d object.Digest, idx uint32, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[object.Digest]map[uint32][]byte)
	}
	if s.m[d] == nil {
		s.m[d] = make(map[uint32][]byte)
	}
	s.m[d][idx] = bytes.Clone(data)
	return nil
}

func (s *memStore) Remove(d object.Digest, idx uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[d], idx)
}

func TestEngine_storeServesSecondRead(t *testing.T) {
	data := peertest.RandomBytes(4<<20, 7)
	f := newFixture(t, 1, map[string][]byte{"o": data})
	st := &memStore{}
	e := f.engine(t, Config{Conns: 2, Store: st})
	if _, err := readAll(t, e, "o", 0, -1); err != nil {
		t.Fatal(err)
	}
	// Let the store writer finish.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st.mu.Lock()
		n := 0
		for _, m := range st.m {
			n += len(m)
		}
		st.mu.Unlock()
		if n == 16 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := f.servers[0].Handler.BytesServed.Load()
	// Corrupt one cached block: it must be detected and refetched.
	for _, m := range st.m {
		m[3][10] ^= 1
	}
	got, err := readAll(t, e, "o", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("second read: %v", err)
	}
	if served := f.servers[0].Handler.BytesServed.Load() - before; served != 256<<10 {
		t.Fatalf("second read fetched %d bytes from upstream, want one block (the corrupted one)", served)
	}
	if e.Stats().StoreHits != 15 {
		t.Fatalf("store hits %d, want 15", e.Stats().StoreHits)
	}
}

func TestEngine_closeStopsEverything(t *testing.T) {
	data := peertest.RandomBytes(2<<20, 8)
	f := newFixture(t, 2, map[string][]byte{"o": data})
	before := runtime.NumGoroutine()
	e, err := New(Config{Upstreams: f.addrs, Peer: peer.Config{Key: f.key}, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, e, "o", 0, -1); err != nil {
		t.Fatal(err)
	}
	e.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func BenchmarkEngine(b *testing.B) {
	for _, conns := range []int{1, 4, 8} {
		b.Run("conns="+string(rune('0'+conns)), func(b *testing.B) {
			data := peertest.RandomBytes(64<<20, 9)
			f := newFixture(b, 2, map[string][]byte{"o": data})
			e := f.engine(b, Config{Conns: conns, Logger: slog.New(slog.DiscardHandler)})
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := readAll(b, e, "o", 0, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A replica that lacks an object does not stop the transfer: the object is
// described by the one that has it, and the other is left alone for it.
func TestEngine_replicaMissingObject(t *testing.T) {
	data := peertest.RandomBytes(8<<20, 10)
	key := newKey(t)
	has := &peertest.Handler{}
	has.Put("o", data)
	lacks := &peertest.Handler{}
	lacks.Put("other", []byte("x"))
	f := &fixture{key: key}
	for _, h := range []*peertest.Handler{lacks, has} {
		s := peertest.Start(t, peer.Config{Key: key}, h)
		f.servers = append(f.servers, s)
		f.addrs = append(f.addrs, s.Addr)
	}
	e := f.engine(t, Config{Conns: 4})
	for range 3 { // whichever upstream the description is asked of first
		got, err := readAll(t, e, "o", 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read: %v", err)
		}
	}
	if lacks.BytesServed.Load() != 0 {
		t.Fatal("bytes from the replica that lacks the object")
	}
}

// With one upstream down, a missing object is reported as missing at once,
// not after waiting for the dead upstream.
func TestEngine_notFoundWithAnUpstreamDown(t *testing.T) {
	key := newKey(t)
	h := &peertest.Handler{}
	h.Put("o", []byte("x"))
	s := peertest.Start(t, peer.Config{Key: key}, h)
	f := &fixture{key: key, addrs: []string{s.Addr, peertest.FreeAddr(t)}}
	e := f.engine(t, Config{Conns: 4})
	if _, err := readAll(t, e, "o", 0, -1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := readAll(t, e, "missing", 0, -1)
	if !errors.Is(err, peer.ErrNotFound) {
		t.Fatalf("got %v, want not found", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}
