package origin

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aqueduct-cdn/aqueduct/internal/node"
)

// hashCacheBytes bounds the memory kept for block hashes of described
// files: about 64 GiB of content at 256 KiB blocks.
const hashCacheBytes = 64 << 20

// Mount makes n an origin over the content directory origin.root: an HTTP
// server (unless http.listen is "-") and a peer server, both reading the
// directory through an os.Root, and, unless origin.no_index is set, the
// hashing of the directory's files in the background, as far as the hash
// cache allows, so that the first request for a file does not wait for its
// hashes.
func Mount(n *node.Node) error {
	cfg := n.Config()
	log := n.Logger()
	st, err := os.Stat(cfg.Origin.Root)
	if err != nil {
		return fmt.Errorf("origin: content directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("origin: content directory %s is not a directory", cfg.Origin.Root)
	}
	root, err := os.OpenRoot(cfg.Origin.Root)
	if err != nil {
		return fmt.Errorf("origin: content directory: %w", err)
	}
	n.OnClose(root.Close)
	n.AddCheck("content", func() error {
		_, err := root.Stat(".")
		return err
	})
	c := &content{root: root, log: log, descs: newDescCache(hashCacheBytes, log)}
	n.OnClose(func() error { c.descs.close(); return nil })
	if cfg.HTTP.Listen != "-" {
		ln, err := n.Listen("http", cfg.HTTP.Listen)
		if err != nil {
			return err
		}
		h := NewHTTPHandler(HTTPConfig{Root: root, RootDir: cfg.Origin.Root, AllowOrigins: cfg.HTTP.AllowOrigins, Logger: log})
		if err := n.ServeHTTP(ln, h); err != nil {
			return err
		}
	}
	ln, err := n.ListenPeer(cfg.Peer.Listen)
	if err != nil {
		return err
	}
	n.ServePeer(ln, &peerHandler{root: root, log: log, descs: c.descs})
	if !cfg.Origin.NoIndex {
		n.Go(c.index)
	}
	n.Describe("root", cfg.Origin.Root)
	return nil
}

// content is the content directory and what the origin knows of it.
type content struct {
	root  *os.Root
	descs *descCache
	log   *slog.Logger
}
