package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

// playSlow is the most a browser-like play's request may wait for its
// response's headers.
const playSlow = 3 * time.Second

// TestBrowserLikePlays plays the demo's MP4 200 times through the edge as a
// browser's media element does (see playMP4), four plays at a time, with
// pauses, over more than the 5 s a description is trusted, so that opens
// meet the refetches of the description at the edge and the relays. Every
// response must start within playSlow. (One of 32 plays of a real browser
// once waited at least 12 s for the edge's open, and was cancelled.)
func TestBrowserLikePlays(t *testing.T) {
	c := startCluster(t)
	start := time.Now()
	playMP4s(t, c, 200, 300*time.Millisecond)
	if d := time.Since(start); d < 6*time.Second {
		t.Errorf("the plays took %v, less than the 5 s a description is trusted: no open met a refetch", d)
	}
}

// TestBrowserLikePlays_relayFrozen: with one of the edge's two relays
// frozen (SIGSTOP: its connections stay up and nothing answers), plays
// still start within playSlow. Before, an open that picked a connection to
// the frozen relay waited for the whole 15 s open timeout, and blocks sent
// there for the 20 s stall timeout: a play waited more than 30 s.
func TestBrowserLikePlays_relayFrozen(t *testing.T) {
	c := startCluster(t)
	playMP4s(t, c, 8, 0) // the edge's connections carry data, then
	frozen := c.relays[0]
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { frozen.cmd.Process.Signal(syscall.SIGCONT) })
	time.Sleep(5500 * time.Millisecond) // past the description's 5 s
	playMP4s(t, c, 40, 300*time.Millisecond)
	// The plays refetch one description every 5 s, which may or may not
	// have gone to the frozen relay. Opens go round robin over the edge's
	// connections, so as many opens in a row as it has connections reach
	// the frozen relay at least once: each must still be answered (a 404)
	// within playSlow, and one of them hedged.
	for i := range 2 * 8 { // twice the cluster's --conns
		url := c.edgeURL(fmt.Sprintf("/missing/%d.bin", i))
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		if d := time.Since(start); resp.StatusCode != http.StatusNotFound || d > playSlow {
			t.Errorf("GET %s: %s after %v, want 404 within %v", url, resp.Status, d, playSlow)
		}
	}
	m := scrape(t, c.edge)
	m.positive(t, "edge", "aqueduct_open_hedges_total")
	t.Logf("edge: %v hedged opens, %v copies", metricValue(m, "aqueduct_open_hedges_total"), metricValue(m, "aqueduct_transfer_copies_total"))
}

func metricValue(m metrics, name string) float64 {
	v, _ := m.get(name)
	return v
}

// playMP4s plays video/sample.mp4 through the edge plays times, four at a
// time, each play followed by a pause of up to pause, as a browser's media
// element does: a request for bytes=0- that it abandons after the first 64
// KiB, one for the media data from its start (the sample's mdat box is at
// 9752), and a seek that it abandons after 32 KiB. It fails the test for
// every request that fails or waits more than playSlow for its headers.
func playMP4s(t *testing.T, c *cluster, plays int, pause time.Duration) {
	t.Helper()
	url := c.edgeURL("/video/sample.mp4")
	size := int64(len(c.content.read(t, "video/sample.mp4")))
	const workers, mdat = 4, 9752
	// A client of its own, like a browser's: keep-alive connections to the
	// edge, six at most; each abandoned response closes its connection.
	browser := &http.Client{Transport: &http.Transport{
		Proxy: nil, DisableCompression: true, MaxConnsPerHost: 6, MaxIdleConnsPerHost: 6,
	}}
	defer browser.CloseIdleConnections()
	type result struct {
		play, step int
		at, first  time.Duration // when it was sent, from the first play; to the response's headers
		err        error
	}
	t0 := time.Now()
	get := func(ctx context.Context, play, step int, rng string, keep int64) result {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Range", rng)
		req.Header.Set("Accept-Encoding", "identity")
		start := time.Now()
		resp, err := browser.Do(req)
		r := result{play: play, step: step, at: start.Sub(t0), first: time.Since(start)}
		if err != nil {
			r.err = err
			return r
		}
		defer resp.Body.Close() // early: abandons the rest
		if resp.StatusCode != http.StatusPartialContent {
			r.err = fmt.Errorf("%s: status %d", rng, resp.StatusCode)
			return r
		}
		if n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, keep)); n < keep {
			r.err = fmt.Errorf("%s: %d of %d bytes: %v", rng, n, keep, err)
		}
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		next    = make(chan int)
	)
	for w := range workers {
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(plays)))
		wg.Go(func() {
			for p := range next {
				seek := rnd.Int64N(size - 1)
				rs := []result{
					get(ctx, p, 1, "bytes=0-", 64<<10),
					get(ctx, p, 2, fmt.Sprintf("bytes=%d-", mdat), size-mdat),
					get(ctx, p, 3, fmt.Sprintf("bytes=%d-", seek), min(32<<10, size-seek)),
				}
				mu.Lock()
				results = append(results, rs...)
				mu.Unlock()
				if pause > 0 {
					time.Sleep(time.Duration(rnd.Int64N(int64(pause))))
				}
			}
		})
	}
	for p := range plays {
		next <- p
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(t0)
	sort.Slice(results, func(i, j int) bool { return results[i].first > results[j].first })
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("play %d, request %d at %v: %v after %v", r.play, r.step, r.at.Round(time.Millisecond), r.err, r.first.Round(time.Millisecond))
		case r.first > playSlow:
			t.Errorf("play %d, request %d at %v: headers after %v", r.play, r.step, r.at.Round(time.Millisecond), r.first.Round(time.Millisecond))
		}
	}
	n := len(results)
	t.Logf("%d plays (%d requests) in %v: time to headers median %v, p99 %v, max %v (play %d, request %d at %v)",
		plays, n, elapsed.Round(time.Millisecond), results[n/2].first.Round(time.Microsecond),
		results[n/100].first.Round(time.Microsecond), results[0].first.Round(time.Microsecond),
		results[0].play, results[0].step, results[0].at.Round(time.Millisecond))
}
