package node_test

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/node/nodetest"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// slowClient connects with a small receive buffer, sends a GET and reads
// the response at rate bytes per second (0: never), for up to d.
func slowClient(t *testing.T, addr string, rate int, d time.Duration) int {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	if rate == 0 {
		time.Sleep(d)
		return 0
	}
	got := 0
	buf := make([]byte, 512)
	start := time.Now()
	for time.Since(start) < d {
		c.SetReadDeadline(time.Now().Add(d))
		n, err := c.Read(buf)
		got += n
		if err != nil {
			break
		}
		if ahead := time.Duration(float64(got)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	return got
}

// serveBig runs a node whose HTTP handler writes 64 MiB in 256 KiB writes,
// as the edge writes blocks, with the given write timeout; the channel gets
// how long the handler wrote before a write failed.
func serveBig(t *testing.T, timeout time.Duration) (string, <-chan time.Duration) {
	t.Helper()
	cfg := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
	cfg.Origin.Root, cfg.HTTP.WriteTimeout = t.TempDir(), timeout
	failed := make(chan time.Duration, 1)
	n := nodetest.Start(t, cfg, func(n *node.Node) error {
		ln, err := n.Listen("http", "127.0.0.1:0")
		if err != nil {
			return err
		}
		return n.ServeHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			block := make([]byte, 256<<10)
			for range 256 {
				if _, err := w.Write(block); err != nil {
					failed <- time.Since(start)
					return
				}
			}
			failed <- -1
		}))
	})
	return n.Addr("http").String(), failed
}

// A client that reads nothing is cut off after the write timeout (it held
// its goroutine, socket and file forever at the origin before).
func TestProgress_stalledClientCut(t *testing.T) {
	addr, failed := serveBig(t, time.Second)
	client := make(chan int)
	go func() { client <- slowClient(t, addr, 0, 3*time.Second) }()
	defer func() { <-client }()
	select {
	case d := <-failed:
		if d < 0 || d > 5*time.Second {
			t.Fatalf("the handler's writes failed after %v, want about the 1 s write timeout", d)
		}
		t.Logf("a client that reads nothing was cut after %v", d.Round(10*time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("a client that reads nothing is still served after 10 s")
	}
}

// A client that reads slowly but steadily (8 KB/s, 2 KB every quarter of
// the 1 s write timeout) is never cut, although one 256 KiB write takes it
// half a minute (it was cut after one write timeout before).
func TestProgress_slowReaderNotCut(t *testing.T) {
	addr, failed := serveBig(t, time.Second)
	got := slowClient(t, addr, 8<<10, 5*time.Second)
	select {
	case d := <-failed:
		if d < 5*time.Second {
			t.Fatalf("a steady reader was cut after %v (it read %d bytes)", d, got)
		}
	case <-time.After(100 * time.Millisecond):
	}
	if got < 30<<10 {
		t.Errorf("the slow reader got %d bytes in 5 s, want about 40 KiB", got)
	}
	t.Logf("a reader at 8 KB/s got %d bytes in 5 s and was not cut", got)
}
