package node_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/node/nodetest"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An engine node: /readyz follows the upstream (ready while a connection is
// up, 503 naming the check once the upstream is gone), /healthz stays 200,
// and /metrics parses as Prometheus text with the engine's metrics.
func TestAdmin_readyzFollowsUpstreams(t *testing.T) {
	key, _ := peer.GenerateKey()
	h := &peertest.Handler{}
	h.Put("a", peertest.RandomBytes(300<<10, 1))
	up := peertest.Start(t, peer.Config{Key: key}, h)
	cfg := nodetest.Config(t, conf.RoleEdge, key, up.Addr)
	n := nodetest.Start(t, cfg, func(n *node.Node) error {
		_, err := n.StartEngine(nil)
		return err
	})
	admin := "http://" + n.Addr("admin").String()
	waitFor(t, "ready", func() bool { code, _ := get(t, admin+"/readyz"); return code == 200 })
	code, body := get(t, admin+"/readyz")
	if !strings.Contains(body, "upstreams: ok") {
		t.Errorf("readyz %d %q", code, body)
	}
	if code, body := get(t, admin+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	code, body = get(t, admin+"/metrics")
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if code != 200 || err != nil {
		t.Fatalf("metrics %d: %v", code, err)
	}
	for _, name := range []string{"aqueduct_build_info", "aqueduct_upstream_connections", "aqueduct_upstream_rtt_seconds",
		"aqueduct_reader_memory_limit_bytes", "go_goroutines", "process_open_fds"} {
		if mfs[name] == nil {
			t.Errorf("no %s in /metrics", name)
		}
	}

	up.Kill()
	waitFor(t, "unready", func() bool { code, _ := get(t, admin+"/readyz"); return code == 503 })
	_, body = get(t, admin+"/readyz")
	if !strings.HasPrefix(body, "not ready\n") || !strings.Contains(body, "upstreams: no connection to any upstream is up") {
		t.Errorf("readyz with the upstream down: %q", body)
	}
	if code, _ := get(t, admin+"/healthz"); code != 200 {
		t.Errorf("healthz %d with the upstream down", code)
	}
}

// pprof is off by default and on with admin.pprof.
func TestAdmin_pprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
		cfg.Origin.Root, cfg.Admin.Pprof = t.TempDir(), on
		n := nodetest.Start(t, cfg, func(*node.Node) error { return nil })
		code, _ := get(t, "http://"+n.Addr("admin").String()+"/debug/pprof/")
		if (code == 200) != on {
			t.Errorf("pprof %v: /debug/pprof/ answered %d", on, code)
		}
	}
}

// Run shuts down in order: servers first, then background tasks, then the
// closers in reverse order of registration; the admin endpoint answers
// "shutting down" from the start of the drain. A failing server stops Run
// with its error.
func TestRun_order(t *testing.T) {
	cfg := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
	cfg.Origin.Root = t.TempDir()
	n, err := node.New(cfg, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	n.OnClose(func() error { note("close first registered"); return nil })
	n.OnClose(func() error { note("close second registered"); return nil })
	n.Go(func(ctx context.Context) { <-ctx.Done(); note("task stopped") })
	ln, err := n.Listen("http", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan string, 1)
	admin := "http://" + n.Addr("admin").String()
	n.ServeHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold the request until the node drains it.
		var body string
		for range 250 {
			if _, body = get(t, admin+"/readyz"); strings.Contains(body, "shutting down") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		drained <- body
		note("request finished")
	}))
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	// A request in flight, then the server fails (its listener closes):
	// Run drains the request and stops.
	go http.Get("http://" + ln.Addr().String() + "/")
	time.Sleep(100 * time.Millisecond)
	ln.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "node: HTTP") {
			t.Errorf("Run returned %v, want the HTTP server's error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its server failed")
	}
	if body := <-drained; !strings.Contains(body, "shutting down") {
		t.Errorf("readyz during the drain: %q", body)
	}
	want := []string{"request finished", "task stopped", "close second registered", "close first registered"}
	if !slices.Equal(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
	if _, err := http.Get(admin + "/healthz"); err == nil {
		t.Error("the admin endpoint still answers after Run")
	}
}

// The access log has one Combined Log Format line per request, with hostile
// bytes escaped and long fields cut.
func TestAccessLog(t *testing.T) {
	dir := t.TempDir()
	cfg := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
	cfg.Origin.Root = dir
	cfg.HTTP.AccessLog = filepath.Join(dir, "access.log")
	n := nodetest.Start(t, cfg, func(n *node.Node) error {
		ln, err := n.Listen("http", "127.0.0.1:0")
		if err != nil {
			return err
		}
		return n.ServeHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, "hello")
		}))
	})
	// Raw, since net/http's client would not send these bytes.
	c, err := net.Dial("tcp", n.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /a%%22b?x=%s HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\"\xffagent\r\nReferer: https://player.example/\r\nConnection: close\r\n\r\n",
		strings.Repeat("y", 3000))
	io.Copy(io.Discard, c)
	c.Close()
	var line string
	waitFor(t, "the access log line", func() bool {
		b, _ := os.ReadFile(cfg.HTTP.AccessLog)
		line = string(b)
		return strings.HasSuffix(line, "\n")
	})
	for _, want := range []string{`127.0.0.1 - - [`, `] "GET /a%22b?x=yyyy`, `yyy... HTTP/1.1" 206 5 "https://player.example/" "evil\x22\xFFagent"` + "\n"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q\nlacks %q", line, want)
		}
	}
	if len(line) > 2300 || strings.Count(line, "\n") != 1 {
		t.Errorf("line of %d bytes, %d newlines", len(line), strings.Count(line, "\n"))
	}
	if v := nodetest.Metric(t, n, "aqueduct_http_requests_total"); v != 1 {
		t.Errorf("aqueduct_http_requests_total = %v", v)
	}
	if v := nodetest.Metric(t, n, "aqueduct_http_response_bytes_total"); v != 5 {
		t.Errorf("aqueduct_http_response_bytes_total = %v", v)
	}
}

// A node whose admin address is taken does not start, and says why.
func TestNew_adminBusy(t *testing.T) {
	a := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
	a.Origin.Root = t.TempDir()
	n := nodetest.Start(t, a, func(*node.Node) error { return nil })
	b := a
	b.Admin.Listen = n.Addr("admin").String()
	if _, err := node.New(b, node.Options{}); err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Errorf("New on a busy admin address: %v", err)
	}
}
