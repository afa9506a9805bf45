package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// benchDir makes a content directory of its own for a benchmark.
func benchDir(b *testing.B, name string) string {
	b.Helper()
	dir := filepath.Join(workDir, "bench", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// freshObject writes a new random object of size bytes under dir with the
// timer stopped and returns its name. Content never seen before means no
// cache on the way has it (caches are keyed by content digest).
func freshObject(b *testing.B, dir string, size int64) string {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	freshSeq++
	name := fmt.Sprintf("fresh-%d.bin", freshSeq)
	if _, err := writeRandom(filepath.Join(dir, name), size, 1000+freshSeq); err != nil {
		b.Fatal(err)
	}
	return name
}

var freshSeq uint64

// peerFetch fetches path from upstreams with a transfer engine in this
// process (8 connections, as the roles use), timing only the fetch: the
// engine is made and its connections come up with the timer stopped.
func peerFetch(b *testing.B, key peer.Key, upstreams []string, path string, size int64) {
	b.Helper()
	b.StopTimer()
	e, err := transfer.New(transfer.Config{Upstreams: upstreams, Conns: 8,
		Peer: peer.Config{Key: key, Name: "bench", MPTCP: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for deadline := time.Now().Add(10 * time.Second); e.Stats().Conns < 8; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the engine has %d of 8 connections to %v after 10 s", e.Stats().Conns, upstreams)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	b.StartTimer()
	o, err := e.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	r, err := o.NewReader(ctx, 0, size)
	if err != nil {
		b.Fatal(err)
	}
	n, err := r.WriteTo(io.Discard)
	b.StopTimer()
	r.Close()
	o.Close()
	if err != nil || n != size {
		b.Fatalf("fetched %d of %d bytes: %v", n, size, err)
	}
	b.StartTimer()
}

// httpFetch GETs url and discards the body.
func httpFetch(b *testing.B, url string, size int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || n != size {
		b.Fatalf("GET %s: status %d, %d of %d bytes: %v", url, resp.StatusCode, n, size, err)
	}
}

// BenchmarkRelayForwarding fetches a 256 MiB object over the peer protocol
// with 8 connections, from the origin directly and through one relay.
// via-relay uses content the relay has never seen, so every block is
// forwarded from the origin as it is fetched; via-relay-cached fetches the
// same object again, from the relay's disk cache.
func BenchmarkRelayForwarding(b *testing.B) {
	const size = 256 << 20
	dir := benchDir(b, "relay")
	key := loadKey(b, keyFile)
	o := startOrigin(b, dir)
	r := startRelay(b, "relay1", []string{o.peerAddr})
	warm := freshObject(b, dir, size)

	b.Run("direct-origin", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			peerFetch(b, key, []string{o.peerAddr}, warm, size)
		}
	})
	b.Run("via-relay", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			name := freshObject(b, dir, size)
			peerFetch(b, key, []string{r.peerAddr}, name, size)
			os.Remove(filepath.Join(dir, name))
		}
	})
	b.Run("via-relay-cached", func(b *testing.B) {
		b.StopTimer()
		peerFetch(b, key, []string{r.peerAddr}, warm, size) // fills the relay's cache
		b.StartTimer()
		b.SetBytes(size)
		for range b.N {
			peerFetch(b, key, []string{r.peerAddr}, warm, size)
		}
	})
}

// BenchmarkEdgeEndToEnd GETs a 256 MiB object over HTTP directly from the
// origin (one TCP connection, sendfile) and through origin → 2 relays →
// edge with 8 and with 1 upstream connections. The edge variants use
// content the relays have never seen, except edge-8conns-cached, where the
// relays serve from their caches (the edge itself has no disk cache).
func BenchmarkEdgeEndToEnd(b *testing.B) {
	const size = 256 << 20
	dir := benchDir(b, "edge")
	o := startOrigin(b, dir)
	r1 := startRelay(b, "relay1", []string{o.peerAddr})
	r2 := startRelay(b, "relay2", []string{o.peerAddr})
	ups := []string{r1.peerAddr, r2.peerAddr}
	e8 := startEdge(b, "edge8", ups)
	e1 := startEdge(b, "edge1", ups, "--conns", "1", "--max-upstream-conns", "1")
	warm := freshObject(b, dir, size)

	b.Run("direct-origin-http", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			httpFetch(b, "http://"+o.httpAddr+"/"+warm, size)
		}
	})
	for _, ec := range []struct {
		name string
		edge *proc
	}{{"edge-8conns", e8}, {"edge-1conn", e1}} {
		b.Run(ec.name, func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				name := freshObject(b, dir, size)
				httpFetch(b, "http://"+ec.edge.httpAddr+"/"+name, size)
				os.Remove(filepath.Join(dir, name))
			}
		})
	}
	b.Run("edge-8conns-cached", func(b *testing.B) {
		b.StopTimer()
		httpFetch(b, "http://"+e8.httpAddr+"/"+warm, size) // fills the relays' caches
		b.StartTimer()
		b.SetBytes(size)
		for range b.N {
			httpFetch(b, "http://"+e8.httpAddr+"/"+warm, size)
		}
	})
}

// BenchmarkEdgeSlowClientMemory serves a 1 GiB object to a client reading
// at 200 MB/s, from the origin and through the edge (origin → 2 relays →
// edge), and reports the serving process's peak RSS (VmHWM included) and
// its RSS before the download.
func BenchmarkEdgeSlowClientMemory(b *testing.B) {
	const (
		size = 1 << 30
		rate = 200e6
	)
	dir := benchDir(b, "memory")
	obj := freshObject(b, dir, size)
	o := startOrigin(b, dir)
	r1 := startRelay(b, "relay1", []string{o.peerAddr})
	r2 := startRelay(b, "relay2", []string{o.peerAddr})
	e := startEdge(b, "edge", []string{r1.peerAddr, r2.peerAddr})

	for _, srv := range []struct {
		name string
		p    *proc
	}{{"origin", o}, {"edge", e}} {
		b.Run(srv.name, func(b *testing.B) {
			b.SetBytes(size)
			var peak, idle int64
			for range b.N {
				b.StopTimer()
				rss, _, err := procMem(srv.p.pid())
				if err != nil {
					b.Fatal(err)
				}
				idle = rss
				s := sampleRSS(srv.p.pid(), 5*time.Millisecond)
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), 2*transferTimeout)
				n, _, err := slowGet(ctx, "http://"+srv.p.httpAddr+"/"+obj, rate)
				cancel()
				b.StopTimer()
				p, _, perr := s.done()
				if err != nil || n != size {
					b.Fatalf("got %d of %d bytes: %v", n, size, err)
				}
				if perr != nil {
					b.Fatal(perr)
				}
				peak = max(peak, p)
				b.StartTimer()
			}
			b.ReportMetric(mib(peak), "peak-RSS-MiB")
			b.ReportMetric(mib(idle), "idle-RSS-MiB")
		})
	}
}
