package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// SpliceConfig configures Splice.
type SpliceConfig struct {
	Listen string // address to accept on, such as ":8080"
	To     string // address to connect each accepted connection to
	// MaxConns bounds concurrent connections; zero means 256.
	MaxConns int
	// Logger receives the listening address and errors; nil discards.
	Logger *slog.Logger
}

// Splice is a plain TCP splitting relay: it accepts connections and joins
// each to a new connection to cfg.To, copying both ways until both sides
// have closed. It is the baseline for relaying through a proxy (seed 001's
// "Parallel" through two proxies, seed 002's chain of TCP connections):
// each hop runs its own TCP control loop, and nothing else happens. Data
// stays in kernel buffers (Go copies between TCP sockets with splice(2)).
// Splice returns when ctx is done, after closing every connection.
func Splice(ctx context.Context, cfg SpliceConfig) error {
	log := discardLogger(cfg.Logger)
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("lab: splice: %w", err)
	}
	log.Info("splice: listening", "addr", ln.Addr().String(), "to", cfg.To)
	fmt.Fprintf(os.Stderr, "splice listening on %s, relaying to %s\n", ln.Addr(), cfg.To)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
	}
	sem := make(chan struct{}, cfg.MaxConns)
	var acceptErr error
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("lab: splice: %w", err)
			}
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			log.Warn("splice: too many connections; refusing one", "max", cfg.MaxConns)
			c.Close()
			continue
		}
		track(c, true)
		wg.Go(func() {
			defer func() { <-sem }()
			defer track(c, false)
			defer c.Close()
			d := net.Dialer{Timeout: 10 * time.Second}
			up, err := d.DialContext(ctx, "tcp", cfg.To)
			if err != nil {
				log.Warn("splice: dial upstream", "to", cfg.To, "err", err)
				return
			}
			track(up, true)
			defer track(up, false)
			defer up.Close()
			pipe(c, up)
		})
	}
	mu.Lock()
	for c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return acceptErr
}

// pipe copies a→b and b→a, passing each half-close on, until both
// directions are done.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	wg.Go(func() { half(b, a) })
	wg.Go(func() { half(a, b) })
	wg.Wait()
}
