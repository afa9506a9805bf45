// Package peertest provides peer servers for tests: objects held in memory,
// served over real loopback TCP by a real peer.Server, with switches that
// make a server misbehave (corrupt bytes, stall).
package peertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// Handler serves in-memory objects. The zero value serves nothing; add
// objects with Put.
type Handler struct {
	mu      sync.Mutex
	objects map[string]*entry

	// Corrupt, when set, flips a byte in every block served.
	Corrupt atomic.Bool
	// Delay, when set, is slept before each read.
	Delay atomic.Int64 // nanoseconds
	// Opens counts successful opens.
	Opens atomic.Int64
	// BytesServed counts bytes handed to readers.
	BytesServed atomic.Int64
}

type entry struct {
	data   []byte
	meta   object.Meta
	hashes object.Hashes
}

// Put adds an object.
func (h *Handler) Put(path string, data []byte) object.Meta {
	bs := object.BlockSizeFor(int64(len(data)))
	hs, d, err := object.Describe(context.Background(), bytes.NewReader(data), int64(len(data)), bs)
	if err != nil {
		panic(err)
	}
	m := object.Meta{Path: path, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0), ETag: fmt.Sprintf("%q", d.String()[:16]),
		ContentType: "application/octet-stream", BlockSize: bs, Digest: d}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.objects == nil {
		h.objects = make(map[string]*entry)
	}
	h.objects[path] = &entry{data: data, meta: m, hashes: hs}
	return m
}

// Remove deletes an object: opens of it fail with NOT_FOUND.
func (h *Handler) Remove(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.objects, path)
}

// Open implements peer.Handler.
func (h *Handler) Open(ctx context.Context, path string) (peer.Object, error) {
	h.mu.Lock()
	e := h.objects[path]
	h.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	h.Opens.Add(1)
	return &memObject{h: h, e: e}, nil
}

type memObject struct {
	h *Handler
	e *entry
}

func (o *memObject) Meta() object.Meta     { return o.e.meta }
func (o *memObject) Hashes() object.Hashes { return o.e.hashes }
func (o *memObject) Close() error          { return nil }

func (o *memObject) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if d := time.Duration(o.h.Delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b := o.e.data[off : off+n]
	if o.h.Corrupt.Load() && n > 0 {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0xff
	}
	o.h.BytesServed.Add(n)
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Server is a running peer server.
type Server struct {
	Addr    string
	Handler *Handler
	srv     *peer.Server
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

// Start serves h on a loopback port until Stop or the end of the test.
func Start(t testing.TB, cfg peer.Config, h *Handler) *Server {
	t.Helper()
	ln, err := peer.Listen(context.Background(), "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return StartOn(t, ln, cfg, h)
}

// StartOn serves h on ln (a listener in a lab namespace, say) until Stop or
// the end of the test.
func StartOn(t testing.TB, ln net.Listener, cfg peer.Config, h *Handler) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Addr: ln.Addr().String(), Handler: h, srv: peer.NewServer(cfg, h), cancel: cancel, done: make(chan struct{})}
	go func() { s.srv.Serve(ctx, ln); close(s.done) }()
	t.Cleanup(s.Stop)
	return s
}

// Kill stops the server abruptly: its listener and connections close at
// once, as if the process died.
func (s *Server) Kill() {
	s.once.Do(func() {
		s.cancel()
		ctx, c := context.WithCancel(context.Background())
		c()
		s.srv.Shutdown(ctx)
		<-s.done
	})
}

// Stop shuts the server down gracefully.
func (s *Server) Stop() {
	s.once.Do(func() {
		ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		s.srv.Shutdown(ctx)
		s.cancel()
		<-s.done
	})
}

// FreeAddr returns a loopback address nobody listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// RandomBytes returns n pseudo-random bytes from seed.
func RandomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	c := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	c.Read(b)
	return b
}
