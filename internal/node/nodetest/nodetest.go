// Package nodetest runs nodes in tests: real listeners on loopback, a fresh
// cluster key, logs to the test's log.
package nodetest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// Config returns role's defaults with every listener on a free loopback
// port, the given upstreams, and key (a fresh one if zero).
func Config(t testing.TB, role conf.Role, key peer.Key, upstreams ...string) conf.Config {
	t.Helper()
	c := conf.Default(role)
	c.Admin.Listen = "127.0.0.1:0"
	c.Peer.Listen = "127.0.0.1:0"
	c.HTTP.Listen = "127.0.0.1:0"
	c.Upstreams = upstreams
	if key == (peer.Key{}) {
		var err error
		if key, err = peer.GenerateKey(); err != nil {
			t.Fatal(err)
		}
	}
	c.Key = key
	return c
}

// Start validates cfg, builds a node of it with mount, and runs it until
// the test ends, when it stops it and checks that Run returned nil.
func Start(t testing.TB, cfg conf.Config, mount func(*node.Node) error) *node.Node {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, node.Options{Logger: aqtest.Logger(t, slog.LevelInfo).With("node", cfg.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if err := mount(n); err != nil {
		n.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", cfg.Name, err)
		}
	})
	return n
}

// Metric sums the values of every series of the metric name (a counter or
// a gauge) that n exports; 0 if it has none.
func Metric(t testing.TB, n *node.Node, name string) float64 {
	t.Helper()
	mfs, err := n.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}
