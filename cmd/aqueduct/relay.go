package main

import (
	"context"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/relay"
)

func runRelay(ctx context.Context, args []string) error {
	fs := newFlagSet("relay", "--upstream HOST:PORT[,HOST:PORT...] [--peer ADDR] [--cache-dir DIR] [--cache-size BYTES] [flags]",
		`A proxy node: serves peers (edges, other relays) with objects fetched from
its upstreams (the origin or other relays) over many connections, verified
block by block, and cached on disk within a budget.`)
	var c common
	c.register(fs, "relay", true)
	var ups conf.AddrList
	fs.Var(&ups, "upstream", "upstream peer addresses, comma-separated (required)")
	peerAddr := fs.String("peer", ":7071", "peer protocol listen address")
	cacheDir := fs.String("cache-dir", "", "block cache directory (default: a temporary directory removed at exit)")
	cacheSize := conf.Size(1 << 30)
	fs.Var(&cacheSize, "cache-size", "disk budget of the cache, e.g. 10GiB")
	conns := fs.Int("conns", 8, "connections to the upstreams in all")
	pipeline := fs.Int("pipeline", 64, "most requests in flight per connection (each keeps about 500 ms of requests at its rate)")
	memory := conf.Size(256 << 20)
	fs.Var(&memory, "memory", "memory for block buffers")
	window := conf.Size(1 << 20)
	fs.Var(&window, "window", "block buffers one downstream READ may hold ahead of what it has sent")
	log, pc, err := c.setup(fs, args, func() bool { return len(ups) > 0 })
	if err != nil {
		return err
	}
	r, err := relay.New(relay.Config{
		Upstreams: ups, PeerAddr: *peerAddr, CacheDir: *cacheDir, CacheSize: int64(cacheSize),
		Conns: *conns, Pipeline: *pipeline, Memory: int64(memory), Window: int64(window), Peer: pc, Logger: log,
	})
	if err != nil {
		return err
	}
	return r.Run(ctx)
}
