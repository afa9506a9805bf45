package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

// TestLargeObjectThroughRelays fetches a 256 MiB random object through
// origin → 2 relays → edge (8 connections) and checks every byte.
func TestLargeObjectThroughRelays(t *testing.T) {
	c := startCluster(t)
	checkDownload(t, c.edgeURL("/large.bin"), c.content, "large.bin")
}

// TestConcurrentClients runs 50 clients at once against the edge, a mix of
// full and ranged GETs of three objects, and checks every body against the
// file.
func TestConcurrentClients(t *testing.T) {
	c := startCluster(t)
	objs := []string{"mix/a.bin", "mix/b.bin", "mix/c.bin"}
	data := map[string][]byte{}
	for _, o := range objs {
		data[o] = c.content.read(t, o)
	}
	const clients = 50
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	start := make(chan struct{})
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		obj := objs[i%len(objs)]
		want := data[obj]
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		var rangeHdr string
		lo, hi := 0, len(want)-1
		if i%2 == 1 {
			lo = rng.IntN(len(want))
			hi = lo + rng.IntN(len(want)-lo)
			rangeHdr = fmt.Sprintf("bytes=%d-%d", lo, hi)
		}
		wg.Go(func() {
			<-start
			errs[i] = func() error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.edgeURL("/"+obj), nil)
				wantStatus := http.StatusOK
				if rangeHdr != "" {
					req.Header.Set("Range", rangeHdr)
					wantStatus = http.StatusPartialContent
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					return fmt.Errorf("reading body after %d bytes: %w", len(body), err)
				}
				if resp.StatusCode != wantStatus {
					return fmt.Errorf("status %d, want %d", resp.StatusCode, wantStatus)
				}
				if string(body) != string(want[lo:hi+1]) {
					return fmt.Errorf("body of %d bytes differs from bytes %d-%d of the file (%d bytes)", len(body), lo, hi, hi-lo+1)
				}
				return nil
			}()
			if errs[i] != nil {
				errs[i] = fmt.Errorf("client %d: GET /%s %s: %w", i, obj, rangeHdr, errs[i])
			}
		})
	}
	begin := time.Now()
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d concurrent clients done in %v", clients, time.Since(begin).Round(time.Millisecond))
}

// TestRelayKilledMidTransfer kills one of the edge's two relays with
// SIGKILL while a 256 MiB download is in progress; the download must still
// complete with the right bytes.
func TestRelayKilledMidTransfer(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.edgeURL("/large.bin"), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := sha256.New()
	// Read the first quarter, kill relay1 (the edge's window is 16 MiB, so
	// both relays are busy with blocks ahead of the reader), read the rest.
	const before = 64 << 20
	if _, err := io.CopyN(h, resp.Body, before); err != nil {
		t.Fatalf("first %d bytes: %v", before, err)
	}
	victim := c.relays[0]
	if err := victim.kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s (pid %d) after %d MiB had arrived", victim.name, victim.pid(), before>>20)
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("after the kill, reading failed after %d more bytes: %v", n, err)
	}
	total := before + n
	sum := hex.EncodeToString(h.Sum(nil))
	if total != c.content.Sizes["large.bin"] || sum != c.content.Sums["large.bin"] {
		t.Fatalf("got %d bytes, sha256 %s; want %d bytes, sha256 %s", total, sum, c.content.Sizes["large.bin"], c.content.Sums["large.bin"])
	}
	// The edge must notice the dead upstream: it cannot connect to it again.
	t.Logf("edge: %s", c.edge.waitLog(t, 20*time.Second, "complaint about the killed relay", func(s string) bool {
		return strings.Contains(s, victim.peerAddr) && logAttrs(s)["level"] != "INFO"
	}))
	// And the object is still served afterwards, from the survivor.
	checkDownload(t, c.edgeURL("/mix/b.bin"), c.content, "mix/b.bin")
}

// TestCorruptUpstreamBanned gives the edge two upstreams for the same
// object: a real relay, and an in-process peer server that flips a byte in
// every block it serves. The edge must detect the bad blocks, ban that
// upstream, fetch the blocks from the relay and deliver the right bytes.
func TestCorruptUpstreamBanned(t *testing.T) {
	ct := content(t)
	const rel = "corrupt.bin"
	data := ct.read(t, rel)
	h := &peertest.Handler{}
	h.Put(rel, data)
	h.Corrupt.Store(true)
	bad := peertest.Start(t, peer.Config{Key: loadKey(t, keyFile), Name: "corrupter"}, h)

	o := startOrigin(t, ct.Root)
	r := startRelay(t, "relay1", []string{o.peerAddr})
	e := startEdge(t, "edge", []string{r.peerAddr, bad.Addr})
	checkDownload(t, "http://"+e.httpAddr+"/"+rel, ct, rel)

	if h.BytesServed.Load() == 0 {
		t.Fatalf("the corrupting upstream served nothing; the test did not exercise corruption (opens: %d)", h.Opens.Load())
	}
	e.waitLog(t, 5*time.Second, "corrupt-block record", func(s string) bool {
		a := logAttrs(s)
		return a["msg"] == "upstream sent a corrupt block; banning it and fetching the block elsewhere" && a["upstream"] == bad.Addr
	})
	e.waitLog(t, 5*time.Second, "ban record", func(s string) bool {
		a := logAttrs(s)
		return a["msg"] == "upstream banned after sending a corrupt block" && a["upstream"] == bad.Addr
	})
	t.Logf("corrupting upstream served %d bytes (%d opens); edge banned it", h.BytesServed.Load(), h.Opens.Load())
}
