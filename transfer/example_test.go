package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// A program serves content over the peer protocol and fetches it over
// four parallel connections, verified block by block: the two halves of
// an Aqueduct cluster, used as a library.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := peer.GenerateKey() // every node of a cluster shares it
	if err != nil {
		log.Fatal(err)
	}

	// The upstream: a peer server over a Handler. peertest's holds objects
	// in memory; a real one opens files or a store (see peer.Handler).
	content := bytes.Repeat([]byte("aqueduct "), 1<<18) // 2.25 MiB
	h := &peertest.Handler{}
	h.Put("video/clip.bin", content)
	ln, err := peer.Listen(ctx, "127.0.0.1:0", peer.Config{Key: key})
	if err != nil {
		log.Fatal(err)
	}
	srv := peer.NewServer(peer.Config{Key: key, Name: "upstream"}, h)
	go srv.Serve(ctx, ln)
	defer srv.Shutdown(ctx)

	// The downstream: an engine with four connections to it.
	e, err := transfer.New(transfer.Config{
		Upstreams: []string{ln.Addr().String()},
		Peer:      peer.Config{Key: key, Name: "example"},
		Conns:     4,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	o, err := e.Open(ctx, "video/clip.bin")
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	r, err := o.NewReader(ctx, 0, o.Meta().Size) // any byte range
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, r) // in order, as soon as each prefix is there
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes in %d blocks, same as served: %v\n", n, o.Meta().Blocks(),
		bytes.Equal(sum.Sum(nil), sha256Sum(content)))
	// Output: 2359296 bytes in 9 blocks, same as served: true
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
