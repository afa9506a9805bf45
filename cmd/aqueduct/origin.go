package main

import (
	"context"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/origin"
)

func runOrigin(ctx context.Context, args []string) error {
	fs := newFlagSet("origin", "--root DIR [--http ADDR] [--peer ADDR] [flags]", `Serves the content directory DIR over HTTP (players, browsers, curl) and over
the peer protocol (relays and edges of the cluster). Nothing outside DIR is
ever served.`)
	var c common
	c.register(fs, "origin", true)
	root := fs.String("root", "", "content directory to serve (required)")
	httpAddr := fs.String("http", ":8080", `HTTP listen address ("-" to disable)`)
	peerAddr := fs.String("peer", ":7070", "peer protocol listen address")
	noIndex := fs.Bool("no-index", false, "do not hash the content directory at start (files are then hashed when first asked for)")
	var allow conf.StringList
	fs.Var(&allow, "allow-origins", "comma-separated browser origins allowed to read (CORS); default any")
	log, pc, err := c.setup(fs, args, func() bool { return *root != "" })
	if err != nil {
		return err
	}
	o, err := origin.New(origin.Config{Root: *root, HTTPAddr: *httpAddr, PeerAddr: *peerAddr, AllowOrigins: allow, NoIndex: *noIndex, Peer: pc, Logger: log})
	if err != nil {
		return err
	}
	return o.Run(ctx)
}
