package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
	"github.com/aqueduct-cdn/aqueduct/internal/store"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Config configures a Relay. Upstreams and Peer.Key are required.
type Config struct {
	Upstreams []string // HOST:PORT of the upstream peer servers
	PeerAddr  string   // listen address; default ":7071"

	// CacheDir holds the block cache. Empty means a temporary directory
	// that is removed when the relay stops.
	CacheDir  string
	CacheSize int64 // disk budget of the cache; default 1 GiB

	Conns    int   // connections to the upstreams in all; default 8
	Pipeline int   // most requests in flight per connection; default 64
	Memory   int64 // block buffers in memory; default 256 MiB
	// Window is what one downstream READ may hold in block buffers ahead of
	// what it has sent; default 1 MiB. With peer.Config.MaxStreams READs
	// served at once per connection (default 16), a downstream connection
	// that stops reading holds at most MaxStreams × Window of Memory.
	Window int64

	Peer   peer.Config  // cluster key, node name, MPTCP, limits
	Logger *slog.Logger // nil discards
}

// Relay is a running relay.
type Relay struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	store  *store.Store
	tmpDir string
	engine *transfer.Engine
	server *peer.Server
}

// New opens the cache and the listener and starts connecting upstream.
func New(cfg Config) (*Relay, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("relay: no upstreams")
	}
	if cfg.PeerAddr == "" {
		cfg.PeerAddr = ":7071"
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1 << 30
	}
	if cfg.Window <= 0 {
		cfg.Window = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Peer.Name == "" {
		cfg.Peer.Name = "relay"
	}
	cfg.Peer.Logger = cfg.Logger
	r := &Relay{cfg: cfg, log: cfg.Logger}
	ok := false
	defer func() {
		if !ok {
			r.close()
		}
	}()
	dir := cfg.CacheDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "aqueduct-relay-cache-")
		if err != nil {
			return nil, fmt.Errorf("relay: cache directory: %w", err)
		}
		r.tmpDir, dir = tmp, tmp
	}
	st, err := store.Open(store.Config{Dir: dir, MaxBytes: cfg.CacheSize, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r.store = st
	r.ln, err = peer.Listen(context.Background(), cfg.PeerAddr, cfg.Peer)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r.engine, err = transfer.New(transfer.Config{
		Upstreams: cfg.Upstreams, Peer: cfg.Peer, Conns: cfg.Conns, Pipeline: cfg.Pipeline,
		Window: cfg.Window, MemoryLimit: cfg.Memory, Store: st, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r.server = peer.NewServer(cfg.Peer, &handler{engine: r.engine, log: cfg.Logger})
	ok = true
	return r, nil
}

// Addr is the address the relay listens on.
func (r *Relay) Addr() net.Addr { return r.ln.Addr() }

// Engine is the relay's transfer engine, for statistics.
func (r *Relay) Engine() *transfer.Engine { return r.engine }

// Run serves until ctx ends, then shuts down gracefully.
func (r *Relay) Run(ctx context.Context) error {
	defer r.close()
	r.log.Info("relay listening", "peer", r.ln.Addr().String(), "upstreams", r.cfg.Upstreams,
		"cache_dir", r.cacheDir(), "cache_size", r.cfg.CacheSize, "mptcp", r.cfg.Peer.MPTCP, "congestion", r.cfg.Peer.Congestion)
	errc := make(chan error, 1)
	go func() { errc <- r.server.Serve(ctx, r.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	r.log.Info("relay shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.server.Shutdown(sctx)
	r.ln.Close()
	if e := <-errc; err == nil {
		err = e
	}
	return err
}

func (r *Relay) cacheDir() string {
	if r.cfg.CacheDir != "" {
		return r.cfg.CacheDir
	}
	return r.tmpDir
}

func (r *Relay) close() {
	if r.engine != nil {
		r.engine.Close()
	}
	if r.ln != nil {
		r.ln.Close()
	}
	if r.store != nil {
		r.store.Close()
	}
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}

// handler serves downstream peers from the engine.
type handler struct {
	engine *transfer.Engine
	log    *slog.Logger
}

func (h *handler) Open(ctx context.Context, path string) (peer.Object, error) {
	if err := safepath.Check(path); err != nil {
		var se *safepath.Error
		errors.As(err, &se)
		h.log.Info("peer request refused", "path", path, "reason", se.Reason)
		return nil, peer.Errorf(se.Code(), "%s", se.Reason)
	}
	o, err := h.engine.Open(ctx, path)
	if err != nil {
		return nil, upstreamError(err)
	}
	return &relayObject{o: o}, nil
}

// upstreamError passes on what an upstream said about an object and turns
// the engine's own failures into UNAVAILABLE, so the downstream tries
// elsewhere.
func upstreamError(err error) error {
	if pe := (*peer.Error)(nil); errors.As(err, &pe) && pe.Code.Refusal() {
		return pe
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return peer.Errorf(wire.CodeUnavailable, "upstream unavailable")
}

type relayObject struct{ o *transfer.Object }

func (r *relayObject) Meta() object.Meta     { return r.o.Meta() }
func (r *relayObject) Hashes() object.Hashes { return r.o.Hashes() }
func (r *relayObject) Close() error          { return r.o.Close() }

func (r *relayObject) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	rd, err := r.o.NewReader(ctx, off, n)
	if err != nil {
		return nil, upstreamError(err)
	}
	return errorMapper{rd}, nil
}

// errorMapper maps the engine's read errors to protocol errors.
type errorMapper struct{ *transfer.Reader }

func (m errorMapper) Read(p []byte) (int, error) {
	n, err := m.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = upstreamError(err)
	}
	return n, err
}
