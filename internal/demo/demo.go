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

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/randfile"
	"github.com/aqueduct-cdn/aqueduct/internal/roles"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

//go:embed sample/sample.mp4 sample/hls
var sample embed.FS

// DefaultLargeSize is the size of the large test file unless Options says.
const DefaultLargeSize = 256 << 20

// Options configures Run.
type Options struct {
	Dir       string // working directory; default a directory under the user cache directory
	LargeSize int64  // size of the large test file; default DefaultLargeSize
	EdgeHTTP  string // the edge's HTTP address; if busy, a free loopback port is used
	Once      bool   // stop after the comparison
	Out       io.Writer
	Logger    *slog.Logger
}

// Cluster is a running demo cluster: four nodes built from their
// configurations exactly as "aqueduct origin|relay|edge" builds them.
type Cluster struct {
	Origin *node.Node
	Relays []*node.Node
	Edge   *node.Node
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
		opts.LargeSize = DefaultLargeSize
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

	edgeURL := "http://" + c.Edge.Addr("http").String()
	originURL := "http://" + c.Origin.Addr("http").String()
	fmt.Fprintf(out, `
Cluster running on loopback:
  origin   HTTP %s   peer %s   admin %s
  relay 1  peer %s   admin %s   (upstream: origin)
  relay 2  peer %s   admin %s   (upstream: origin)
  edge     HTTP %s   admin %s   (upstreams: both relays, 8 connections)

Open in VLC, ffplay, mpv or a browser:
  MP4:   %s/video/sample.mp4
  HLS:   %s/video/hls/index.m3u8
  e.g.   ffplay %s/video/hls/index.m3u8
  Origin listing: %s/
  Metrics: http://%s/metrics (edge), /healthz, /readyz

`, c.Origin.Addr("http"), c.Origin.Addr("peer"), c.Origin.Addr("admin"),
		c.Relays[0].Addr("peer"), c.Relays[0].Addr("admin"), c.Relays[1].Addr("peer"), c.Relays[1].Addr("admin"),
		c.Edge.Addr("http"), c.Edge.Addr("admin"),
		edgeURL, edgeURL, edgeURL, originURL, c.Edge.Addr("admin"))

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

// Start builds an origin over content, two relays and an edge, all on
// loopback ports, each from its configuration as the command builds it.
// The edge listens on edgeHTTP if it is free, else on a free port. run
// serves until ctx ends and returns the first error.
func Start(ctx context.Context, content, edgeHTTP string, log *slog.Logger) (*Cluster, func() error, error) {
	key, err := peer.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	c := &Cluster{Dir: content}
	var nodes []*node.Node
	ok := false
	defer func() {
		if !ok {
			for _, n := range nodes {
				n.Close()
			}
		}
	}()
	build := func(role conf.Role, name string, edit func(*conf.Config)) (*node.Node, error) {
		cfg := conf.Default(role)
		cfg.Name, cfg.Key = name, key
		cfg.Admin.Listen, cfg.Peer.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		edit(&cfg)
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("demo: %s: %w", name, err)
		}
		n, err := roles.New(cfg, node.Options{Logger: log.With("node", name)})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		return n, nil
	}
	if c.Origin, err = build(conf.RoleOrigin, "origin", func(cfg *conf.Config) { cfg.Origin.Root = content }); err != nil {
		return nil, nil, err
	}
	for i := range 2 {
		r, err := build(conf.RoleRelay, fmt.Sprintf("relay%d", i+1), func(cfg *conf.Config) {
			cfg.Upstreams = []string{c.Origin.Addr("peer").String()}
		})
		if err != nil {
			return nil, nil, err
		}
		c.Relays = append(c.Relays, r)
	}
	if edgeHTTP == "" || !free(edgeHTTP) {
		edgeHTTP = "127.0.0.1:0"
	}
	if c.Edge, err = build(conf.RoleEdge, "edge", func(cfg *conf.Config) {
		cfg.HTTP.Listen = edgeHTTP
		cfg.Upstreams = []string{c.Relays[0].Addr("peer").String(), c.Relays[1].Addr("peer").String()}
	}); err != nil {
		return nil, nil, err
	}
	ok = true
	// Stop in order, downstream first, so that no node sees its upstream
	// vanish: the edge when ctx ends, the relays when the edge has
	// stopped, the origin when the relays have.
	run := func() error {
		relayCtx, stopRelays := context.WithCancel(context.Background())
		originCtx, stopOrigin := context.WithCancel(context.Background())
		errs := make([]error, 2+len(c.Relays))
		var wg, relays sync.WaitGroup
		wg.Go(func() { errs[0] = c.Edge.Run(ctx); stopRelays() })
		for i, r := range c.Relays {
			relays.Go(func() { errs[1+i] = r.Run(relayCtx) })
		}
		wg.Go(func() { relays.Wait(); stopOrigin() })
		wg.Go(func() { errs[len(errs)-1] = c.Origin.Run(originCtx) })
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
