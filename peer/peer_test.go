package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"

	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// memHandler serves objects held in memory.
type memHandler struct {
	mu      sync.Mutex
	objects map[string][]byte
	gate    map[string]chan struct{} // reads of these paths wait for the channel to close
	entered chan string              // if set, gets the path of each gated read that starts waiting
	opened  int
}

func (h *memHandler) Open(ctx context.Context, path string) (Object, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.objects[path]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
	}
	h.opened++
	bs := object.BlockSizeFor(int64(len(b)))
	hs, d, err := object.Describe(context.Background(), bytes.NewReader(b), int64(len(b)), bs)
	if err != nil {
		return nil, err
	}
	return &memObject{data: b, hashes: hs, gate: h.gate[path], entered: h.entered, meta: object.Meta{
		Path: path, Size: int64(len(b)), ModTime: time.Unix(1700000000, 5), ETag: `"x"`,
		ContentType: "video/mp4", BlockSize: bs, Digest: d,
	}}, nil
}

type memObject struct {
	data    []byte
	meta    object.Meta
	hashes  object.Hashes
	gate    chan struct{}
	entered chan string
}

func (o *memObject) Meta() object.Meta     { return o.meta }
func (o *memObject) Hashes() object.Hashes { return o.hashes }
func (o *memObject) Close() error          { return nil }
func (o *memObject) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if o.gate != nil {
		if o.entered != nil {
			o.entered <- o.meta.Path
		}
		select {
		case <-o.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return io.NopCloser(bytes.NewReader(o.data[off : off+n])), nil
}

func testKey(t testing.TB) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testLogger(t testing.TB) *slog.Logger { return aqtest.Logger(t, slog.LevelDebug) }

// startServer serves h on a loopback port until the test ends.
func startServer(t testing.TB, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	ln, err := Listen(context.Background(), "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv := NewServer(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(sctx)
		cancel()
		<-done
	})
	return srv, ln.Addr().String()
}

func dial(t testing.TB, addr string, cfg Config) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func readSync(t testing.TB, c *Conn, h uint32, off uint64, n int) ([]byte, error) {
	t.Helper()
	dst := make([]byte, n)
	ch := make(chan error, 1)
	if _, err := c.Read(h, off, dst, func(err error) { ch <- err }); err != nil {
		return nil, err
	}
	select {
	case err := <-ch:
		return dst, err
	case <-time.After(10 * time.Second):
		t.Fatal("read timed out")
		return nil, nil
	}
}

func TestOpenReadHashes(t *testing.T) {
	key := testKey(t)
	data := randomBytes(3<<20+12345, 1)
	h := &memHandler{objects: map[string][]byte{"v/a.mp4": data}}
	_, addr := startServer(t, Config{Key: key, Name: "srv"}, h)
	c := dial(t, addr, Config{Key: key, Name: "cli"})
	if c.PeerName() != "srv" {
		t.Fatalf("peer name %q", c.PeerName())
	}
	ctx := context.Background()
	hd, o, err := c.Open(ctx, "v/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != uint64(len(data)) || o.ContentType != "video/mp4" || o.ETag != `"x"` || o.ModTime != 1700000000_000000005 {
		t.Fatalf("object %+v", o)
	}
	meta := object.Meta{Size: int64(o.Size), BlockSize: int64(o.BlockSize), Digest: o.Digest}
	raw, err := c.Hashes(ctx, hd, 0, uint32(meta.Blocks()))
	if err != nil {
		t.Fatal(err)
	}
	hs := make(object.Hashes, meta.Blocks())
	for i := range hs {
		copy(hs[i][:], raw[i*32:])
	}
	if err := meta.VerifyHashes(hs); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ off, n int }{{0, len(data)}, {0, 1}, {len(data) - 1, 1}, {1000, 300000}, {1 << 20, 1 << 20}} {
		got, err := readSync(t, c, hd, uint64(r.off), r.n)
		if err != nil {
			t.Fatalf("read %+v: %v", r, err)
		}
		if !bytes.Equal(got, data[r.off:r.off+r.n]) {
			t.Fatalf("read %+v: wrong bytes", r)
		}
	}
	// Errors with codes.
	if _, err := readSync(t, c, hd, uint64(len(data)), 1); !errors.Is(err, &Error{Code: wire.CodeBadRequest}) {
		t.Fatalf("read past end: %v", err)
	}
	if _, err := readSync(t, c, 999, 0, 1); !errors.Is(err, &Error{Code: wire.CodeBadRequest}) {
		t.Fatalf("read unknown handle: %v", err)
	}
	if _, err := c.Hashes(ctx, hd, uint32(meta.Blocks()), 1); !errors.Is(err, &Error{Code: wire.CodeBadRequest}) {
		t.Fatalf("hashes past end: %v", err)
	}
	if _, _, err := c.Open(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open missing: %v", err)
	}
	// The connection survives request errors.
	if got, err := readSync(t, c, hd, 5, 5); err != nil || !bytes.Equal(got, data[5:10]) {
		t.Fatalf("read after errors: %v", err)
	}
}

// Many reads pipelined on one connection, and many connections at once,
// all return the right bytes.
func TestConcurrentReads(t *testing.T) {
	key := testKey(t)
	data := randomBytes(8<<20, 2)
	h := &memHandler{objects: map[string][]byte{"big": data}}
	_, addr := startServer(t, Config{Key: key}, h)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for ci := range 4 {
		c := dial(t, addr, Config{Key: key})
		hd, _, err := c.Open(context.Background(), "big")
		if err != nil {
			t.Fatal(err)
		}
		for j := range 16 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(ci), uint64(j)))
				for range 10 {
					off := r.IntN(len(data) - 1)
					n := 1 + r.IntN(min(len(data)-off, 1<<20))
					got, err := readSync(t, c, hd, uint64(off), n)
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, data[off:off+n]) {
						errs <- fmt.Errorf("conn %d: wrong bytes at %d+%d", ci, off, n)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	h := &memHandler{objects: map[string][]byte{"a": []byte("secret")}}
	var logs lockedBuffer
	_, addr := startServer(t, Config{Key: testKey(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, addr, Config{Key: testKey(t)})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("dial with a wrong key: %v, want ErrAuth", err)
	}
	if h.opened != 0 {
		t.Fatal("an object was opened for an unauthenticated peer")
	}
	// The server says why in its log: the client told it.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "wrong cluster key") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "refused our proof") {
		t.Fatalf("server log does not say the keys differ:\n%s", logs.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Closing a connection while the read loop fills a request's buffer hands
// the buffer back (the callback runs) only after the read loop has stopped
// writing into it, so the callback may reuse the buffer at once.
func TestCloseDuringRead(t *testing.T) {
	key := testKey(t)
	data := randomBytes(4<<20, 11)
	h := &memHandler{objects: map[string][]byte{"big": data}}
	_, addr := startServer(t, Config{Key: key}, h)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	gc := &gatedConn{Conn: nc, entered: make(chan struct{}), release: make(chan struct{})}
	c, err := Client(context.Background(), gc, Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	hd, _, err := c.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	gc.armed.Store(true)
	done := make(chan struct{})
	if _, err := c.Read(hd, 0, make([]byte, len(data)), func(error) { close(done) }); err != nil {
		t.Fatal(err)
	}
	<-gc.entered // the read loop is inside a read into the request's buffer
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-done:
		t.Fatal("callback ran while the read loop was still reading into the buffer")
	case <-time.After(50 * time.Millisecond):
	}
	close(gc.release)
	<-done
	<-closed
}

// gatedConn stops, once armed, in the first large read (a read straight
// into a request's buffer) until released.
type gatedConn struct {
	net.Conn
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedConn) Read(p []byte) (int, error) {
	if g.armed.Load() && len(p) > 64<<10 {
		stop := false
		g.once.Do(func() { stop = true })
		if stop {
			close(g.entered)
			<-g.release
			return 0, net.ErrClosed
		}
	}
	return g.Conn.Read(p)
}

// A request whose data is not ready does not hold back a later one on the
// same connection.
func TestWaitingRequestDoesNotBlockOthers(t *testing.T) {
	key := testKey(t)
	gate := make(chan struct{})
	h := &memHandler{
		objects: map[string][]byte{"slow": randomBytes(1<<20, 3), "fast": randomBytes(1<<20, 4)},
		gate:    map[string]chan struct{}{"slow": gate},
	}
	_, addr := startServer(t, Config{Key: key}, h)
	c := dial(t, addr, Config{Key: key})
	hs, _, err := c.Open(context.Background(), "slow")
	if err != nil {
		t.Fatal(err)
	}
	hf, _, err := c.Open(context.Background(), "fast")
	if err != nil {
		t.Fatal(err)
	}
	slowDone := make(chan error, 1)
	if _, err := c.Read(hs, 0, make([]byte, 1<<20), func(err error) { slowDone <- err }); err != nil {
		t.Fatal(err)
	}
	if _, err := readSync(t, c, hf, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slowDone:
		t.Fatal("slow read finished before its gate opened")
	default:
	}
	close(gate)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
}

func TestCancel(t *testing.T) {
	key := testKey(t)
	gate := make(chan struct{})
	h := &memHandler{objects: map[string][]byte{"slow": randomBytes(1<<20, 5)}, gate: map[string]chan struct{}{"slow": gate}}
	_, addr := startServer(t, Config{Key: key}, h)
	c := dial(t, addr, Config{Key: key})
	hd, _, err := c.Open(context.Background(), "slow")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	req, err := c.Read(hd, 0, make([]byte, 1<<20), func(err error) { done <- err })
	if err != nil {
		t.Fatal(err)
	}
	c.Cancel(req)
	select {
	case err := <-done:
		if !errors.Is(err, &Error{Code: wire.CodeCancelled}) {
			t.Fatalf("cancelled read ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel not answered")
	}
	close(gate)
	if _, err := readSync(t, c, hd, 0, 10); err != nil {
		t.Fatal(err)
	}
}

func TestTooManyRequests(t *testing.T) {
	key := testKey(t)
	gate := make(chan struct{})
	defer close(gate)
	h := &memHandler{objects: map[string][]byte{"slow": randomBytes(1<<16, 6)}, gate: map[string]chan struct{}{"slow": gate}}
	_, addr := startServer(t, Config{Key: key, MaxRequests: 3}, h)
	c := dial(t, addr, Config{Key: key})
	hd, _, err := c.Open(context.Background(), "slow")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 5)
	for range 5 {
		if _, err := c.Read(hd, 0, make([]byte, 10), func(err error) { results <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case err := <-results:
			if !errors.Is(err, &Error{Code: wire.CodeTooMany}) {
				t.Fatalf("got %v, want TOO_MANY", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no TOO_MANY answer")
		}
	}
}

// Shutdown lets requests in flight finish and refuses new ones.
func TestShutdown(t *testing.T) {
	key := testKey(t)
	gate := make(chan struct{})
	entered := make(chan string, 1)
	h := &memHandler{objects: map[string][]byte{"slow": randomBytes(1<<20, 7)}, gate: map[string]chan struct{}{"slow": gate}, entered: entered}
	srv, addr := startServer(t, Config{Key: key}, h)
	c := dial(t, addr, Config{Key: key})
	hd, _, err := c.Open(context.Background(), "slow")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if _, err := c.Read(hd, 0, make([]byte, 1<<20), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	<-entered // the server is serving the read
	shut := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(shut)
	}()
	time.Sleep(50 * time.Millisecond)
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("request in flight at shutdown: %v", err)
	}
	select {
	case <-shut:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish")
	}
	<-c.Done()
}

func BenchmarkReadLoopback(b *testing.B) {
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			key := testKey(b)
			data := randomBytes(64<<20, 8)
			h := &memHandler{objects: map[string][]byte{"o": data}}
			_, addr := startServer(b, Config{Key: key, Logger: slog.New(slog.DiscardHandler)}, h)
			var cs []*Conn
			var hds []uint32
			for range conns {
				c := dial(b, addr, Config{Key: key})
				hd, _, err := c.Open(context.Background(), "o")
				if err != nil {
					b.Fatal(err)
				}
				cs = append(cs, c)
				hds = append(hds, hd)
			}
			const block = 256 << 10
			b.SetBytes(block)
			b.ReportAllocs()
			sem := make(chan struct{}, 4*conns)
			var wg sync.WaitGroup
			i := 0
			for b.Loop() {
				sem <- struct{}{}
				wg.Add(1)
				k := i % conns
				off := uint64((i * block) % (len(data) - block))
				i++
				dst := make([]byte, block)
				if _, err := cs[k].Read(hds[k], off, dst, func(err error) {
					if err != nil {
						b.Error(err)
					}
					<-sem
					wg.Done()
				}); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
		})
	}
}

// slowObject streams its bytes at a bounded rate.
type slowObject struct {
	memObject
	perRead time.Duration
}

type slowReader struct {
	r     io.Reader
	delay time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.r.Read(p[:min(len(p), 16<<10)])
}

func (o *slowObject) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	return io.NopCloser(slowReader{bytes.NewReader(o.data[off : off+n]), o.perRead}), nil
}

type slowHandler struct{ obj *slowObject }

func (h slowHandler) Open(ctx context.Context, path string) (Object, error) { return h.obj, nil }

// A READ that takes longer than the idle timeout completes: the server
// pings while it streams, and the client, which only receives, pings too.
func TestLongReadOutlivesIdleTimeout(t *testing.T) {
	key := testKey(t)
	data := randomBytes(256<<10, 12)
	obj := &slowObject{memObject: memObject{data: data, meta: object.Meta{Size: int64(len(data)), BlockSize: 1 << 18}}, perRead: 60 * time.Millisecond}
	const idle = 600 * time.Millisecond
	_, addr := startServer(t, Config{Key: key, IdleTimeout: idle}, slowHandler{obj})
	c := dial(t, addr, Config{Key: key, IdleTimeout: idle})
	hd, _, err := c.Open(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := readSync(t, c, hd, 0, len(data)) // 16 reads of 16 KiB, 60 ms each
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("long read: %v", err)
	}
	if d := time.Since(start); d < idle {
		t.Fatalf("read took %v, less than the idle timeout: the test proves nothing", d)
	}
	// And a connection that does nothing stays up too.
	time.Sleep(3 * idle)
	if _, err := readSync(t, c, hd, 0, 10); err != nil {
		t.Fatalf("after an idle spell: %v", err)
	}
}

// A handle whose OPEN failed is not open: it can be used again, and failed
// opens do not use up the server's handle limit.
func TestFailedOpenFreesHandle(t *testing.T) {
	key := testKey(t)
	h := &memHandler{objects: map[string][]byte{"a": []byte("hello")}}
	_, addr := startServer(t, Config{Key: key, MaxHandles: 4}, h)
	c := dial(t, addr, Config{Key: key})
	for range 20 {
		if _, _, err := c.Open(context.Background(), "missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("open missing: %v", err)
		}
	}
	if _, _, err := c.Open(context.Background(), "a"); err != nil {
		t.Fatalf("open after failed opens: %v", err)
	}
}

// The server sends an OPEN's OBJECT before any DATA of READs pipelined on
// its handle.
func TestObjectBeforeData(t *testing.T) {
	key := testKey(t)
	h := &memHandler{objects: map[string][]byte{"a": randomBytes(1<<16, 13)}}
	_, addr := startServer(t, Config{Key: key}, h)
	c := dial(t, addr, Config{Key: key})
	for range 50 {
		var opened atomic.Bool
		hd, err := c.OpenAsync("a", nil, func(wire.Object, error) { opened.Store(true) })
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan bool, 1)
		if _, err := c.Read(hd, 0, make([]byte, 1<<16), func(error) { done <- opened.Load() }); err != nil {
			t.Fatal(err)
		}
		if !<-done {
			t.Fatal("DATA completed before the OBJECT arrived")
		}
		c.CloseHandle(hd)
	}
}

// bigHashes is an object with a large hash list and no bytes to read.
type bigHashes struct{ hs object.Hashes }

func (b bigHashes) Open(ctx context.Context, path string) (Object, error) { return b, nil }
func (b bigHashes) Meta() object.Meta {
	return object.Meta{Size: int64(len(b.hs)) << 18, BlockSize: 1 << 18}
}
func (b bigHashes) Hashes() object.Hashes { return b.hs }
func (b bigHashes) Close() error          { return nil }
func (b bigHashes) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	return nil, errors.New("no bytes")
}

// A client that sends requests for large answers and never reads them
// cannot make the server hold more than a bounded amount of memory: the
// requests stay counted until their answers are queued, answers wait for
// room in a bounded queue, and the server then stops reading.
func TestUnreadAnswersBounded(t *testing.T) {
	key := testKey(t)
	srv, addr := startServer(t, Config{Key: key, MaxFrame: 1 << 20}, bigHashes{hs: make(object.Hashes, 1<<16)})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fr := newFrameReader(nc, wire.HandshakeMaxPayload)
	if _, err := clientHandshake(nc, fr, Config{Key: key, MaxFrame: 1 << 20}.withDefaults()); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	b := wire.Open{Request: 1, Handle: 1, Path: "x"}.Append(nil)
	for i := range 2000 { // 2000 answers of 1 MiB asked for, in 56 KB of requests
		b = wire.GetHashes{Request: uint32(2 + i), Handle: 1, First: 0, Count: (1<<20 - 8) / 32}.Append(b)
	}
	nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	nc.Write(b) // may block once the server stops reading: that is the point
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(before)
	srv.mu.Lock()
	active := 0
	for sc := range srv.conns {
		sc.mu.Lock()
		active += sc.active
		sc.mu.Unlock()
	}
	srv.mu.Unlock()
	t.Logf("heap grew %d MiB; %d requests active", grew>>20, active)
	if active > 128 {
		t.Fatalf("%d requests active, limit 128", active)
	}
	if grew > 32<<20 {
		t.Fatalf("heap grew %d MiB for unread answers", grew>>20)
	}
}

// Ending Serve's context stops new connections but not the requests in
// flight: Shutdown lets them finish.
func TestServeContextEndsThenShutdown(t *testing.T) {
	key := testKey(t)
	gate := make(chan struct{})
	entered := make(chan string, 1)
	h := &memHandler{objects: map[string][]byte{"a": randomBytes(100000, 1)}, gate: map[string]chan struct{}{"a": gate}, entered: entered}
	ln, err := Listen(context.Background(), "127.0.0.1:0", Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Key: key}, h)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	c := dial(t, ln.Addr().String(), Config{Key: key})
	hd, _, err := c.Open(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	if _, err := c.Read(hd, 0, make([]byte, 1000), func(err error) { res <- err }); err != nil {
		t.Fatal(err)
	}
	<-entered
	cancel() // what a role's Run does when its context ends
	<-served
	go func() { time.Sleep(100 * time.Millisecond); close(gate) }()
	sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer c2()
	srv.Shutdown(sctx)
	if err := <-res; err != nil {
		t.Errorf("READ in flight at graceful shutdown failed: %v", err)
	}
}

// viaHandler records the via list of each open.
type viaHandler struct {
	memHandler
	vias chan []wire.NodeID
}

func (h *viaHandler) Open(ctx context.Context, path string) (Object, error) {
	h.vias <- Via(ctx)
	return h.memHandler.Open(ctx, path)
}

// An OPEN's via list reaches the handler (Via); one that lists the
// server's own node ID is refused with LOOP before the handler sees it.
func TestServer_via(t *testing.T) {
	key := testKey(t)
	h := &viaHandler{memHandler: memHandler{objects: map[string][]byte{"a": []byte("x")}}, vias: make(chan []wire.NodeID, 4)}
	srv, addr := startServer(t, Config{Key: key, NodeID: 0xabc}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	open := func(via []wire.NodeID) error {
		done := make(chan error, 1)
		if _, err := c.OpenAsync("a", via, func(_ wire.Object, err error) { done <- err }); err != nil {
			return err
		}
		return <-done
	}
	if err := open([]wire.NodeID{7, 8}); err != nil {
		t.Fatal(err)
	}
	if got := <-h.vias; !slices.Equal(got, []wire.NodeID{7, 8}) {
		t.Errorf("handler's Via = %v, want [7 8]", got)
	}
	err = open([]wire.NodeID{7, 0xabc})
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != wire.CodeLoop || !strings.Contains(pe.Message, "loop") {
		t.Fatalf("open via the server itself: %v, want LOOP", err)
	}
	select {
	case v := <-h.vias:
		t.Errorf("the handler was called for a looping open (via %v)", v)
	default:
	}
	if st := srv.Stats(); st.Loops != 1 || st.Opens != 2 {
		t.Errorf("stats %+v, want 1 loop of 2 opens", st)
	}
}

// Dialing an HTTP server as a peer fails at once, saying what it is; the
// preface's CR LF makes an HTTP/1 server answer without waiting for more.
func TestDial_notAPeer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 20 { // every nonce, not only those that hold a newline
		start := time.Now()
		_, err := Dial(ctx, srv.Listener.Addr().String(), Config{Key: testKey(t)})
		if !errors.Is(err, ErrNotPeer) || !strings.Contains(err.Error(), `is an HTTP server (it answered "HTTP/1.1 400 Bad Request")`) {
			t.Fatalf("dial an HTTP server: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	}
}
