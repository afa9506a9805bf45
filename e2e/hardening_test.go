package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

// dialSmall connects to addr with a 4 KiB receive buffer, as a client that
// reads slowly or not at all looks to a server.
func dialSmall(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readAt reads from c at rate bytes per second for d, and returns how much
// it got and the error that ended the reading, if any.
func readAt(c net.Conn, rate int, d time.Duration) (int, error) {
	buf := make([]byte, 512)
	start := time.Now()
	got := 0
	for time.Since(start) < d {
		c.SetReadDeadline(start.Add(d))
		n, err := c.Read(buf)
		got += n
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return got, nil
			}
			return got, err
		}
		if ahead := time.Duration(float64(got)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	return got, nil
}

// TestOrigin_nonReadingClientCut: a client that asks the origin for a large
// file and never reads is cut after the write timeout (it held a goroutine,
// a socket and a file forever: still connected at 115 s).
func TestOrigin_nonReadingClientCut(t *testing.T) {
	o := startOrigin(t, content(t).Root, "--write-timeout", "2s")
	c := dialSmall(t, o.httpAddr)
	defer c.Close()
	fmt.Fprintf(c, "GET /large.bin HTTP/1.1\r\nHost: origin\r\n\r\n")
	start := time.Now()
	time.Sleep(500 * time.Millisecond)
	if v, _ := scrape(t, o).get("aqueduct_http_requests_in_flight"); v != 1 {
		t.Fatalf("%v requests in flight at the origin, want the stalled one", v)
	}
	for {
		v, _ := scrape(t, o).get("aqueduct_http_requests_in_flight")
		if v == 0 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the origin still serves a client that has read nothing for 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the origin cut a client that read nothing after %v (write timeout 2 s)", time.Since(start).Round(100*time.Millisecond))
}

// TestEdge_slowReaderNotCut: a player reading a 1 MiB object at 4 KB/s
// through the edge is not cut, although one write of a 256 KiB block takes
// it a minute (readers at 4 and 16 KB/s were cut after one write timeout).
// The write timeout is 2 s here rather than 30, so that the test is short.
func TestEdge_slowReaderNotCut(t *testing.T) {
	c := startCluster(t, "--write-timeout", "2s")
	conn := dialSmall(t, c.edge.httpAddr)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /mix/c.bin HTTP/1.1\r\nHost: edge\r\n\r\n")
	got, err := readAt(conn, 4<<10, 8*time.Second)
	if err != nil || got < 24<<10 {
		t.Fatalf("a reader at 4 KB/s got %d bytes in 8 s, then %v; want about 32 KiB and no cut", got, err)
	}
	t.Logf("a reader at 4 KB/s got %d bytes in 8 s (write timeout 2 s) and was not cut", got)
}

// firstByte GETs url and returns how long its first body byte took.
func firstByte(t testing.TB, url string) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b [1]byte
	if _, err := io.ReadFull(resp.Body, b[:]); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	d := time.Since(start)
	io.Copy(io.Discard, resp.Body)
	return d
}

// TestEdge_stalledClientsDoNotStarveOthers: 300 clients that ask the edge
// for a large object and never read do not hold the memory that a new
// client's first block needs: its first byte comes within a second
// (before, they took all the memory and every new request waited 16–26 s,
// until the write timeout cut a staller).
func TestEdge_stalledClientsDoNotStarveOthers(t *testing.T) {
	const stallers = 300
	c := startCluster(t, "--max-conns-per-client", "1000") // all from 127.0.0.1
	waitReady(t, c.edge, 200)
	conns := make([]net.Conn, 0, stallers)
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range stallers {
		conn := dialSmall(t, c.edge.httpAddr)
		fmt.Fprintf(conn, "GET /large.bin HTTP/1.1\r\nHost: edge\r\n\r\n")
		conns = append(conns, conn)
	}
	// Let them take what they can.
	var held, limit float64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m := scrape(t, c.edge)
		readers, _ := m.get("aqueduct_readers_active")
		held, _ = m.get("aqueduct_reader_memory_bytes")
		limit, _ = m.get("aqueduct_reader_memory_limit_bytes")
		if readers >= stallers && held >= limit/2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // long past the point where a reader counts as stalled
	t.Logf("%d stalled clients; readers hold %.0f of %.0f MiB", stallers, held/(1<<20), limit/(1<<20))
	var worst time.Duration
	for i := range 5 {
		d := firstByte(t, c.edgeURL(fmt.Sprintf("/mix/%c.bin", "abcab"[i])))
		worst = max(worst, d)
	}
	if worst > time.Second {
		t.Errorf("with %d stalled clients a new request's first byte took up to %v, want under 1 s", stallers, worst)
	}
	t.Logf("first byte of 5 new requests beside %d stalled clients: at most %v", stallers, worst.Round(time.Millisecond))
}

// TestRelay_unauthenticatedFlood: 20,000 bare connections to a relay's peer
// port from one address, 6,400 of them held open at a time, neither delay a
// real peer's handshake past 100 ms nor grow the relay's memory past 64
// MiB: connections past 64 pending or 50 a second from one address are
// closed at once, before any buffer or log line, and a pending one costs a
// 4 KiB buffer (before: 20,000 took a relay to 737 MiB and its file
// descriptors, and delayed a real handshake by 5.3 s).
func TestRelay_unauthenticatedFlood(t *testing.T) {
	o := startOrigin(t, content(t).Root)
	r := startRelay(t, "relay1", []string{o.peerAddr})
	key := loadKey(t, keyFile)
	rss0, _, err := procMem(r.pid())
	if err != nil {
		t.Fatal(err)
	}
	const total, workers, held = 20000, 64, 100
	var dials atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
			var ring []net.Conn
			defer func() {
				for _, c := range ring {
					c.Close()
				}
			}()
			for dials.Add(1) <= total {
				select {
				case <-stop:
					return
				default:
				}
				c, err := d.Dial("tcp", r.peerAddr)
				if err != nil {
					continue
				}
				if len(ring) == held {
					ring[0].Close()
					ring = ring[1:]
				}
				ring = append(ring, c)
			}
		})
	}
	var worst time.Duration
	var peak int64
	for i := 0; i < 20 && dials.Load() < total; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		c, err := peer.Dial(ctx, r.peerAddr, peer.Config{Key: key})
		took := time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("a real peer's handshake during the flood: %v after %v", err, took)
		}
		c.Close()
		worst = max(worst, took)
		if rss, _, err := procMem(r.pid()); err == nil {
			peak = max(peak, rss)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(stop)
	if rss, _, err := procMem(r.pid()); err == nil {
		peak = max(peak, rss)
	}
	m := scrape(t, r)
	refused, _ := m.get("aqueduct_peer_refused_before_handshake_total")
	t.Logf("%d bare connections: a real handshake took at most %v; relay RSS %.0f -> peak %.0f MiB; %v refused before the handshake",
		total, worst.Round(time.Millisecond), mib(rss0), mib(peak), refused)
	// Before the fix it took 5.3 s. The bound leaves room for a loaded
	// 2-core CI machine under -race (152 ms seen once there); a speed
	// figure belongs in a benchmark, this guards the failure.
	if worst > time.Second {
		t.Errorf("a real peer's handshake took %v during the flood, want under 1 s", worst)
	}
	if peak-rss0 > 64<<20 {
		t.Errorf("the relay grew by %.0f MiB during the flood, want under 64", mib(peak-rss0))
	}
	if refused == 0 {
		t.Error("no connection was refused before its handshake")
	}
	if n := len(r.stderr.matching(func(s string) bool { return strings.Contains(s, "127.0.0.2") })); n > 5 {
		t.Errorf("the relay logged %d lines about the flood's connections", n)
	}
}

// TestLogs_bounded: a refused request with a 1 MB path costs the origin's
// and the edge's logs a few hundred bytes (it was logged whole, at Info),
// and a flood of refusals is thinned out: at most a burst and then about
// ten lines a second.
func TestLogs_bounded(t *testing.T) {
	c := startCluster(t)
	long := "/" + strings.Repeat("a", 1_000_000)
	for _, p := range []*proc{c.origin, c.edge} {
		conn, err := net.Dial("tcp", p.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", long)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil || resp.StatusCode/100 != 4 {
			t.Fatalf("%s: GET of a 1 MB path: %v %v", p.name, resp, err)
		}
		line := p.waitLog(t, 5*time.Second, "the refusal's record", hasMsg("request refused"))
		if len(line) > 1024 {
			t.Errorf("%s: the refusal of a 1 MB path is a %d-byte log line", p.name, len(line))
		}
		t.Logf("%s: the refusal of a 1 MB path: a %d-byte log line", p.name, len(line))
	}
	// 500 refusals at once: a burst of 50 lines, not 500.
	for range 500 {
		resp, err := client.Get(c.edgeURL("/.git/config"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	n := len(c.edge.stderr.matching(hasMsg("request refused")))
	if n > 80 {
		t.Errorf("500 refusals in a moment wrote %d log lines", n)
	}
	t.Logf("500 refusals in a moment: %d log lines", n)
}

// TestOriginDown_cachedObjectServed: with the origin killed, the edge still
// serves an object the relay holds, past the 5 s the description is
// trusted, saying so in Cache-Status and in the relay's metrics; an object
// nobody holds is answered 503 at once. When the origin comes back on its
// address, fresh answers follow soon after (12 s before).
func TestOriginDown_cachedObjectServed(t *testing.T) {
	ct := content(t)
	o := startOrigin(t, ct.Root)
	r := startRelay(t, "relay", []string{o.peerAddr})
	e := startEdge(t, "edge", []string{r.peerAddr})
	url := "http://" + e.httpAddr + "/mix/a.bin"
	get := func(ctx context.Context, url string) (status int, sum, cacheStatus string, err error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", "", err
		}
		defer resp.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, resp.Body); err != nil {
			return resp.StatusCode, "", "", err
		}
		return resp.StatusCode, hex.EncodeToString(h.Sum(nil)), resp.Header.Get("Cache-Status"), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*transferTimeout)
	defer cancel()
	checkDownload(t, url, ct, "mix/a.bin")
	if err := o.kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5500 * time.Millisecond) // past ManifestTTL at the relay and the edge
	start := time.Now()
	status, sum, cs, err := get(ctx, url)
	if err != nil || status != 200 || sum != ct.Sums["mix/a.bin"] {
		t.Fatalf("with the origin down: status %d, sha256 %s, err %v; want 200 and the object", status, sum, err)
	}
	if !strings.Contains(cs, "stale-if-error") {
		t.Errorf("Cache-Status %q; want it to say stale-if-error", cs)
	}
	t.Logf("origin down: GET %s 200 in %v, Cache-Status: %s", url, time.Since(start).Round(time.Millisecond), cs)
	scrape(t, r).positive(t, "relay", "aqueduct_stale_opens_total")
	// An object that nobody holds cannot be served.
	start = time.Now()
	status, _, _, err = get(ctx, "http://"+e.httpAddr+"/mix/b.bin")
	if err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("uncached object with the origin down: status %d, err %v; want 503", status, err)
	}
	t.Logf("origin down: uncached object answered %d in %v", status, time.Since(start).Round(time.Millisecond))

	// The origin comes back where it was: a request a second notices.
	startOrigin(t, ct.Root, "--peer", o.peerAddr)
	back := time.Now()
	for {
		status, sum, cs, err = get(ctx, url)
		if err == nil && status == 200 && sum == ct.Sums["mix/a.bin"] && cs == "" {
			break
		}
		if time.Since(back) > 30*time.Second {
			t.Fatalf("30 s after the origin restarted: status %d, Cache-Status %q, err %v", status, cs, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("origin back: fresh answers %v after it listened", time.Since(back).Round(100*time.Millisecond))
	checkDownload(t, "http://"+e.httpAddr+"/mix/b.bin", ct, "mix/b.bin")
}

// TestEdge_abortedResponseLogged: when the edge cannot finish a response
// (its only relay dies mid-body), it logs a warning that names the path
// and how much was sent, and counts it (it logged nothing before).
func TestEdge_abortedResponseLogged(t *testing.T) {
	ct := content(t)
	o := startOrigin(t, ct.Root)
	r := startRelay(t, "relay", []string{o.peerAddr})
	e := startEdge(t, "edge", []string{r.peerAddr})
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.httpAddr+"/large.bin", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.CopyN(io.Discard, resp.Body, 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := r.kill(); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil {
		t.Fatalf("the response ended cleanly after %d more bytes with its only relay dead", n)
	}
	line := e.waitLog(t, 30*time.Second, "warning about the aborted response", hasMsg("response aborted mid-body: its content could not be fetched"))
	a := logAttrs(line)
	if a["level"] != "WARN" || a["path"] != "/large.bin" || a["bytes"] == "" || a["bytes"] == "0" {
		t.Errorf("aborted-response record %q: want level WARN, path /large.bin and the bytes sent", line)
	}
	t.Logf("client: %v after %d more bytes; edge: %s", err, n, line)
	scrape(t, e).positive(t, "edge", "aqueduct_http_responses_aborted_total")
}
