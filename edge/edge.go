package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/httpserve"
	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
	"github.com/aqueduct-cdn/aqueduct/internal/store"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Config configures an Edge. Upstreams and Peer.Key are required.
type Config struct {
	Upstreams    []string // HOST:PORT of the upstream peer servers (relays or the origin)
	HTTPAddr     string   // listen address; default ":8081"
	AllowOrigins []string // CORS: browser origins allowed to read; empty means any

	Conns    int   // connections to the upstreams in all; default 8
	Pipeline int   // most requests in flight per connection; default 64
	Window   int64 // bytes fetched ahead of each player; default 32 MiB
	Memory   int64 // block buffers of all requests; default 256 MiB

	// WriteTimeout cuts off a player that has taken nothing for this long
	// (each write to it must finish within it); default 30 s. A player
	// that stops reading would otherwise hold its window of memory.
	WriteTimeout time.Duration

	// CacheDir holds a block cache; empty means no disk cache.
	CacheDir  string
	CacheSize int64 // disk budget of the cache; default 1 GiB

	Peer   peer.Config  // cluster key, node name, MPTCP, limits
	Logger *slog.Logger // nil discards
}

// Edge is a running edge.
type Edge struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	store  *store.Store
	engine *transfer.Engine
	srv    *http.Server
}

// New opens the listener (and cache) and starts connecting upstream.
func New(cfg Config) (*Edge, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("edge: no upstreams")
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":8081"
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1 << 30
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Peer.Name == "" {
		cfg.Peer.Name = "edge"
	}
	cfg.Peer.Logger = cfg.Logger
	e := &Edge{cfg: cfg, log: cfg.Logger}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	var err error
	var bs transfer.BlockStore
	if cfg.CacheDir != "" {
		if e.store, err = store.Open(store.Config{Dir: cfg.CacheDir, MaxBytes: cfg.CacheSize, Logger: cfg.Logger}); err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
		bs = e.store
	}
	if e.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("edge: HTTP listener: %w", err)
	}
	e.engine, err = transfer.New(transfer.Config{
		Upstreams: cfg.Upstreams, Peer: cfg.Peer, Conns: cfg.Conns, Pipeline: cfg.Pipeline,
		Window: cfg.Window, MemoryLimit: cfg.Memory, Store: bs, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	e.srv = &http.Server{
		Handler:           writeDeadlines(cfg.WriteTimeout, NewHandler(e.engine, cfg.AllowOrigins, cfg.Logger)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	ok = true
	return e, nil
}

// Addr is the address the HTTP server listens on.
func (e *Edge) Addr() net.Addr { return e.ln.Addr() }

// Engine is the edge's transfer engine, for statistics.
func (e *Edge) Engine() *transfer.Engine { return e.engine }

// Run serves until ctx ends, then shuts down gracefully: requests in
// flight get up to 10 seconds.
func (e *Edge) Run(ctx context.Context) error {
	defer e.close()
	e.log.Info("edge listening", "http", e.ln.Addr().String(), "upstreams", e.cfg.Upstreams,
		"conns", e.cfg.Conns, "mptcp", e.cfg.Peer.MPTCP, "congestion", e.cfg.Peer.Congestion)
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Serve(e.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("edge: %w", err)
	}
	e.log.Info("edge shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.srv.Shutdown(sctx)
	return err
}

func (e *Edge) close() {
	if e.engine != nil {
		e.engine.Close()
	}
	if e.ln != nil {
		e.ln.Close()
	}
	if e.store != nil {
		e.store.Close()
	}
}

// NewHandler returns the edge's HTTP handler over engine.
func NewHandler(engine *transfer.Engine, allowOrigins []string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return httpserve.CORS(allowOrigins, &handler{engine: engine, log: log})
}

type handler struct {
	engine *transfer.Engine
	log    *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, dir, err := safepath.FromURL(r.URL.EscapedPath())
	if err != nil {
		h.log.Info("request refused", "method", r.Method, "path", r.URL.EscapedPath(),
			"status", safepath.Status(err), "reason", err.Error(), "remote_addr", r.RemoteAddr)
		http.Error(w, safepath.Message(err), safepath.Status(err))
		return
	}
	if !httpserve.ReadOnly(w, r) {
		return
	}
	if dir {
		if rel != "" {
			http.Error(w, "404 not found: the edge does not list directories", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Aqueduct edge. Ask for a path of the origin's content, e.g. /video/index.m3u8\n")
		return
	}
	start := time.Now()
	o, err := h.engine.Open(r.Context(), rel)
	if err != nil {
		status := httpStatus(err)
		if status >= 500 {
			h.log.Warn("cannot open object upstream", "path", rel, "err", err)
		}
		http.Error(w, statusLine(status), status)
		return
	}
	defer o.Close()
	m := o.Meta()
	c := httpserve.Content{Size: m.Size, ModTime: m.ModTime, ETag: m.ETag, ContentType: m.ContentType}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return o.NewReader(ctx, off, n)
	}
	if err := httpserve.Serve(w, r, c, open); err != nil {
		h.log.Warn("cannot serve object", "path", rel, "err", err)
		http.Error(w, statusLine(502), 502)
		return
	}
	h.log.Debug("served", "method", r.Method, "path", rel, "range", r.Header.Get("Range"), "took", time.Since(start))
}

// writeDeadlines gives each write of a response d to finish.
func writeDeadlines(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}, r)
	})
}

type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpStatus is the status the edge answers with when no upstream could
// open an object: the upstreams' own answer for the path where they gave
// one, 503 when they are busy or going away, else 502.
func httpStatus(err error) int {
	var pe *peer.Error
	if !errors.As(err, &pe) {
		return http.StatusBadGateway
	}
	switch pe.Code {
	case wire.CodeNotFound:
		return http.StatusNotFound
	case wire.CodeForbidden:
		return http.StatusForbidden
	case wire.CodeBadRequest:
		return http.StatusBadRequest
	case wire.CodeTooMany, wire.CodeShuttingDown, wire.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

func statusLine(status int) string {
	switch status {
	case 400:
		return "400 bad request"
	case 403:
		return "403 forbidden"
	case 404:
		return "404 not found"
	case 503:
		return "503 service unavailable: upstream busy or going away"
	}
	return "502 bad gateway: no upstream could serve the object"
}
