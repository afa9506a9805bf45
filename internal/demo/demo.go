// Package demo runs a whole Aqueduct cluster in one process, on loopback:
// an origin with sample content, two relays and an edge, wired with a fresh
// cluster key. It is what "aqueduct demo" runs.
package demo

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aqueduct-cdn/aqueduct/edge"
	"github.com/aqueduct-cdn/aqueduct/internal/randfile"
	"github.com/aqueduct-cdn/aqueduct/origin"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/relay"
)

//go:embed sample/sample.mp4 sample/hls
var sample embed.FS

// Options configures Run.
type Options struct {
	Dir       string // working directory; default a directory under the user cache directory
	LargeSize int64  // size of the large test file; default 256 MiB
	EdgeHTTP  string // the edge's HTTP address; if busy, a free loopback port is used
	Once      bool   // stop after the comparison
	Out       io.Writer
	Logger    *slog.Logger
}

// Cluster is a running demo cluster.
type Cluster struct {
	Origin *origin.Origin
	Relays []*relay.Relay
	Edge   *edge.Edge
	Dir    string // content directory
}

// Run starts the cluster, prints where to point a player, compares a
// direct download of the large file with one through the edge, and serves
// until ctx ends (or returns after the comparison if Once is set).
func Run(ctx context.Context, opts Options) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.LargeSize <= 0 {
		opts.LargeSize = 256 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir := opts.Dir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "aqueduct-demo")
	}
	content := filepath.Join(dir, "content")
	out := opts.Out
	fmt.Fprintf(out, "Aqueduct demo: preparing content in %s\n", content)
	if err := WriteSample(content); err != nil {
		return err
	}
	largeSum, err := EnsureLarge(filepath.Join(content, "large.bin"), opts.LargeSize)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, run, err := Start(ctx, content, opts.EdgeHTTP, opts.Logger)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- run() }()

	edgeURL := "http://" + c.Edge.Addr().String()
	originURL := "http://" + c.Origin.HTTPAddr().String()
	fmt.Fprintf(out, `
Cluster running on loopback:
  origin   HTTP %s   peer %s
  relay 1  peer %s   (upstream: origin)
  relay 2  peer %s   (upstream: origin)
  edge     HTTP %s   (upstreams: both relays, 8 connections)

Open in VLC, ffplay, mpv or a browser:
  MP4:   %s/video/sample.mp4
  HLS:   %s/video/hls/index.m3u8
  e.g.   ffplay %s/video/hls/index.m3u8
  Origin listing: %s/

`, c.Origin.HTTPAddr(), c.Origin.PeerAddr(), c.Relays[0].Addr(), c.Relays[1].Addr(), c.Edge.Addr(),
		edgeURL, edgeURL, edgeURL, originURL)

	fmt.Fprintf(out, "Fetching large.bin (%d MiB, sha256 %s…):\n", opts.LargeSize>>20, largeSum[:16])
	for _, f := range []struct{ name, url string }{
		{"direct from the origin (one TCP connection)", originURL + "/large.bin"},
		{"through relays and edge (8 connections, 2 paths)", edgeURL + "/large.bin"},
	} {
		d, n, sum, err := Fetch(ctx, f.url)
		if err != nil {
			fmt.Fprintf(out, "  %-50s failed: %v\n", f.name, err)
			continue
		}
		ok := "matches"
		if sum != largeSum {
			ok = "DIFFERS"
		}
		fmt.Fprintf(out, "  %-50s %7.2f s  %8.1f MB/s  sha256 %s… %s\n", f.name, d.Seconds(), float64(n)/d.Seconds()/1e6, sum[:16], ok)
	}
	fmt.Fprintln(out, "\n(Loopback has no delay or loss, so the direct fetch is not slow here; run\n \"aqueduct lab\" to compare them on an emulated long-distance, lossy path.)")
	if opts.Once {
		cancel()
		return <-errc
	}
	fmt.Fprintln(out, "\nServing until interrupted (Ctrl-C).")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return <-errc
	}
}

// Start starts an origin over content, two relays and an edge, all on
// loopback ports. The edge listens on edgeHTTP if it is free, else on a free
// port. run serves until ctx ends and returns the first error.
func Start(ctx context.Context, content, edgeHTTP string, log *slog.Logger) (*Cluster, func() error, error) {
	key, err := peer.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	pc := func(name string) peer.Config {
		return peer.Config{Key: key, Name: name, MPTCP: true, Congestion: "bbr", Logger: log}
	}
	o, err := origin.New(origin.Config{Root: content, HTTPAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0",
		Peer: pc("origin"), Logger: log.With("node", "origin")})
	if err != nil {
		return nil, nil, err
	}
	c := &Cluster{Origin: o, Dir: content}
	runs := []func(context.Context) error{o.Run}
	ok := false
	defer func() {
		if !ok {
			// Run each node that was made on a dead context: each
			// releases what New took (listeners, engines, caches).
			dead, cancel := context.WithCancel(context.Background())
			cancel()
			for _, r := range runs {
				r(dead)
			}
			if c.Edge != nil {
				c.Edge.Run(dead)
			}
		}
	}()
	for i := range 2 {
		name := fmt.Sprintf("relay%d", i+1)
		r, err := relay.New(relay.Config{Upstreams: []string{o.PeerAddr().String()}, PeerAddr: "127.0.0.1:0",
			CacheSize: 1 << 30, Peer: pc(name), Logger: log.With("node", name)})
		if err != nil {
			return nil, nil, err
		}
		c.Relays = append(c.Relays, r)
		runs = append(runs, r.Run)
	}
	if edgeHTTP == "" || !free(edgeHTTP) {
		edgeHTTP = "127.0.0.1:0"
	}
	e, err := edge.New(edge.Config{Upstreams: []string{c.Relays[0].Addr().String(), c.Relays[1].Addr().String()},
		HTTPAddr: edgeHTTP, Conns: 8, Peer: pc("edge"), Logger: log.With("node", "edge")})
	if err != nil {
		return nil, nil, err
	}
	c.Edge = e
	ok = true
	// Stop in order, downstream first, so that no node sees its upstream
	// vanish: the edge when ctx ends, the relays when the edge has
	// stopped, the origin when the relays have.
	run := func() error {
		relayCtx, stopRelays := context.WithCancel(context.Background())
		originCtx, stopOrigin := context.WithCancel(context.Background())
		errs := make([]error, len(runs)+1) // origin, relays, edge
		var wg, relays sync.WaitGroup
		wg.Go(func() { errs[len(runs)] = e.Run(ctx); stopRelays() })
		for i, r := range runs[1:] {
			relays.Go(func() { errs[1+i] = r(relayCtx) })
		}
		wg.Go(func() { relays.Wait(); stopOrigin() })
		wg.Go(func() { errs[0] = runs[0](originCtx) })
		wg.Wait()
		return errors.Join(errs...)
	}
	return c, run, nil
}

func free(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// WriteSample writes the embedded sample video (MP4 and HLS) under
// dir/video.
func WriteSample(dir string) error {
	return fs.WalkDir(sample, "sample", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("sample", filepath.FromSlash(p))
		dst := filepath.Join(dir, "video", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := sample.ReadFile(p)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(b) {
			return nil // unchanged: keep its mtime, and the caches' copies
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// EnsureLarge makes sure path holds the deterministic pseudo-random test
// file of size bytes and returns its SHA-256 in hex.
func EnsureLarge(path string, size int64) (string, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	defer os.Remove(tmp)
	sum, err := randfile.Write(tmp, [32]byte{'a', 'q', 'u', 'e', 'd', 'u', 'c', 't'}, size)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum[:]), nil
}

// Fetch downloads url and returns how long it took, how many bytes came
// and their SHA-256 in hex.
func Fetch(ctx context.Context, url string) (time.Duration, int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, "", err
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return 0, n, "", err
	}
	return time.Since(start), n, hex.EncodeToString(h.Sum(nil)), nil
}
