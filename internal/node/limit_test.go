package node_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/node/nodetest"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// Past http.max_conns_per_client a client's new connection gets 429, past
// http.max_conns anyone's gets 503, each with Retry-After, and the
// connections within the limits are served.
func TestLimits_connections(t *testing.T) {
	cfg := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
	cfg.Origin.Root, cfg.HTTP.MaxConns, cfg.HTTP.MaxConnsPerClient = t.TempDir(), 3, 2
	n := nodetest.Start(t, cfg, func(n *node.Node) error {
		ln, err := n.Listen("http", "127.0.0.1:0")
		if err != nil {
			return err
		}
		return n.ServeHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	})
	addr := n.Addr("http").String()
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn) (int, string) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 200)
		k, _ := resp.Body.Read(b)
		if resp.StatusCode != 200 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%d without Retry-After", resp.StatusCode)
		}
		return resp.StatusCode, string(b[:k])
	}
	a1, a2 := dial("127.0.0.1"), dial("127.0.0.1")
	for _, c := range []net.Conn{a1, a2} {
		if code, _ := get(c); code != 200 {
			t.Fatalf("within the limits: %d", code)
		}
	}
	if code, body := get(dial("127.0.0.1")); code != 429 || !strings.Contains(body, "more than 2 connections from one address") {
		t.Errorf("a third connection from one address: %d %q", code, body)
	}
	b1 := dial("127.0.0.2")
	if code, _ := get(b1); code != 200 {
		t.Fatalf("another address within the total: %d", code)
	}
	if code, body := get(dial("127.0.0.3")); code != 503 || !strings.Contains(body, "most connections (3)") {
		t.Errorf("a fourth connection in all: %d %q", code, body)
	}
	if v := nodetest.Metric(t, n, "aqueduct_http_connections_refused_total"); v != 2 {
		t.Errorf("refused = %v, want 2", v)
	}
	if v := nodetest.Metric(t, n, "aqueduct_http_connections"); v != 3 {
		t.Errorf("connections = %v, want 3", v)
	}
	a1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for nodetest.Metric(t, n, "aqueduct_http_connections") != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get(dial("127.0.0.1")); code != 200 {
		t.Errorf("after one closed, a new connection: %d", code)
	}
}
