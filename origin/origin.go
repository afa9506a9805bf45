package origin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

// Config configures an Origin. Root, and Peer.Key, are required.
type Config struct {
	Root         string   // the content directory
	HTTPAddr     string   // HTTP listen address; default ":8080"; "-" disables HTTP
	PeerAddr     string   // peer protocol listen address; default ":7070"
	AllowOrigins []string // CORS: browser origins allowed to read; empty means any

	Peer peer.Config // cluster key, node name, MPTCP, connection limits

	// HashCacheBytes bounds the memory kept for block hashes of described
	// files; default 64 MiB (about 64 GiB of content at 256 KiB blocks).
	HashCacheBytes int64
	// NoIndex turns off hashing the content directory at start. With it
	// on (the default), files are hashed in the background as the origin
	// starts, as far as HashCacheBytes allows, so that the first request
	// for a file does not wait for its hashes.
	NoIndex bool

	Logger *slog.Logger // nil discards
}

// Origin is a running origin server.
type Origin struct {
	cfg    Config
	log    *slog.Logger
	root   *os.Root
	httpLn net.Listener
	peerLn net.Listener
	http   *http.Server
	peer   *peer.Server
	descs  *descCache
}

// New opens the content directory and the listeners. Call Run to serve.
func New(cfg Config) (*Origin, error) {
	if cfg.Root == "" {
		return nil, errors.New("origin: no content directory")
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":8080"
	}
	if cfg.PeerAddr == "" {
		cfg.PeerAddr = ":7070"
	}
	if cfg.HashCacheBytes <= 0 {
		cfg.HashCacheBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Peer.Name == "" {
		cfg.Peer.Name = "origin"
	}
	cfg.Peer.Logger = cfg.Logger
	st, err := os.Stat(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("origin: content directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("origin: content directory %s is not a directory", cfg.Root)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("origin: content directory: %w", err)
	}
	o := &Origin{cfg: cfg, log: cfg.Logger, root: root}
	ok := false
	defer func() {
		if !ok {
			o.closeListeners()
			root.Close()
		}
	}()
	ctx := context.Background()
	if cfg.HTTPAddr != "-" {
		if o.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("origin: HTTP listener: %w", err)
		}
	}
	if o.peerLn, err = peer.Listen(ctx, cfg.PeerAddr, cfg.Peer); err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	o.http = &http.Server{
		Handler:           NewHTTPHandler(HTTPConfig{Root: root, RootDir: cfg.Root, AllowOrigins: cfg.AllowOrigins, Logger: cfg.Logger}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	o.descs = newDescCache(cfg.HashCacheBytes, cfg.Logger)
	o.peer = peer.NewServer(cfg.Peer, &peerHandler{root: root, log: cfg.Logger, descs: o.descs})
	ok = true
	return o, nil
}

// HTTPAddr is the address the HTTP server listens on, or nil if disabled.
func (o *Origin) HTTPAddr() net.Addr {
	if o.httpLn == nil {
		return nil
	}
	return o.httpLn.Addr()
}

// PeerAddr is the address the peer server listens on.
func (o *Origin) PeerAddr() net.Addr { return o.peerLn.Addr() }

func (o *Origin) closeListeners() {
	if o.httpLn != nil {
		o.httpLn.Close()
	}
	if o.peerLn != nil {
		o.peerLn.Close()
	}
}

// Run serves until ctx ends, then shuts down gracefully: requests in
// flight get up to 10 seconds to finish. It closes the content directory.
func (o *Origin) Run(ctx context.Context) error {
	defer o.root.Close()
	attrs := []any{"root", o.cfg.Root, "peer", o.peerLn.Addr().String(), "mptcp", o.cfg.Peer.MPTCP, "congestion", o.cfg.Peer.Congestion}
	if o.httpLn != nil {
		attrs = append(attrs, "http", o.httpLn.Addr().String())
	}
	o.log.Info("origin listening", attrs...)
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	indexCtx, stopIndex := context.WithCancel(ctx)
	defer stopIndex()
	if !o.cfg.NoIndex {
		wg.Go(func() { o.index(indexCtx) })
	}
	if o.httpLn != nil {
		wg.Go(func() {
			if err := o.http.Serve(o.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("origin: HTTP: %w", err)
			}
		})
	}
	wg.Go(func() {
		if err := o.peer.Serve(ctx, o.peerLn); err != nil {
			errc <- fmt.Errorf("origin: peer: %w", err)
		}
	})
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	o.log.Info("origin shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopIndex()
	o.http.Shutdown(sctx)
	o.peer.Shutdown(sctx)
	o.closeListeners()
	wg.Wait()
	o.descs.close()
	return err
}
