package e2e

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
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
