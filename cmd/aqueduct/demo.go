package main

import (
	"context"
	"os"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/demo"
)

func runDemo(ctx context.Context, args []string) error {
	fs := newFlagSet("demo", "[flags]", `Runs a whole Aqueduct cluster on this machine, on loopback: an origin with
sample content (a short H.264 MP4, its HLS rendition and a large test file),
two relays and an edge. Prints the URLs to open in a player, fetches the
large file once from the origin and once through the edge, prints both times
and digests, and serves until interrupted.`)
	dir := fs.String("dir", "", "working directory (default: a directory under the user cache dir)")
	large := conf.Size(demo.DefaultLargeSize)
	fs.Var(&large, "large-size", "size of the large test file")
	edgeAddr := fs.String("edge-http", "127.0.0.1:8081", "the edge's HTTP address (if busy, a free port is used)")
	once := fs.Bool("once", false, "exit after the comparison instead of serving")
	level := fs.String("log-level", "warn", "debug, info, warn or error (the nodes' logs, on standard error)")
	format := fs.String("log-format", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := conf.NewLogger(os.Stderr, *format, *level)
	if err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Dir: *dir, LargeSize: int64(large), EdgeHTTP: *edgeAddr, Once: *once, Out: os.Stdout, Logger: log})
}
