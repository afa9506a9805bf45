package main

import (
	"context"
	"time"

	"github.com/aqueduct-cdn/aqueduct/edge"
	"github.com/aqueduct-cdn/aqueduct/internal/conf"
)

func runEdge(ctx context.Context, args []string) error {
	fs := newFlagSet("edge", "--upstream HOST:PORT[,...] [--http ADDR] [--conns N] [flags]",
		`Serves players over HTTP (ranges, HEAD, ETag, CORS: ffplay, VLC, mpv, hls.js,
curl and aria2c work unmodified). Every object is fetched over N connections
spread over the upstreams, verified block by block and streamed in order.`)
	var c common
	c.register(fs, "edge", true)
	var ups conf.AddrList
	fs.Var(&ups, "upstream", "upstream peer addresses (relays or the origin), comma-separated (required)")
	httpAddr := fs.String("http", ":8081", "HTTP listen address")
	conns := fs.Int("conns", 8, "connections to the upstreams in all")
	pipeline := fs.Int("pipeline", 64, "most requests in flight per connection (each keeps about 500 ms of requests at its rate)")
	window := conf.Size(32 << 20)
	fs.Var(&window, "window", "bytes fetched ahead of each player")
	memory := conf.Size(256 << 20)
	fs.Var(&memory, "memory", "memory for block buffers of all requests")
	writeTimeout := fs.Duration("write-timeout", 30*time.Second, "cut off a player that takes nothing for this long")
	cacheDir := fs.String("cache-dir", "", "block cache directory (default: no disk cache)")
	cacheSize := conf.Size(1 << 30)
	fs.Var(&cacheSize, "cache-size", "disk budget of the cache")
	var allow conf.StringList
	fs.Var(&allow, "allow-origins", "comma-separated browser origins allowed to read (CORS); default any")
	log, pc, err := c.setup(fs, args, func() bool { return len(ups) > 0 })
	if err != nil {
		return err
	}
	e, err := edge.New(edge.Config{
		Upstreams: ups, HTTPAddr: *httpAddr, AllowOrigins: allow, Conns: *conns, Pipeline: *pipeline,
		Window: int64(window), Memory: int64(memory), WriteTimeout: *writeTimeout, CacheDir: *cacheDir, CacheSize: int64(cacheSize),
		Peer: pc, Logger: log,
	})
	if err != nil {
		return err
	}
	return e.Run(ctx)
}
