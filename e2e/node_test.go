package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
)

// ---- Admin endpoint ----

// metrics scrapes a node's /metrics; output that is not valid Prometheus
// text fails the test.
type metrics map[string]*dto.MetricFamily

func scrape(t testing.TB, p *proc) metrics {
	t.Helper()
	resp, err := client.Get("http://" + p.adminAddr + "/metrics")
	if err != nil {
		t.Fatalf("%s: /metrics: %v", p.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%s: /metrics: %s, %s", p.name, resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: /metrics is not Prometheus text: %v", p.name, err)
	}
	return mfs
}

// get sums the series of name whose labels include those given (name=value
// pairs); ok is false if there is none.
func (m metrics) get(name string, labels ...string) (sum float64, ok bool) {
	mf := m[name]
	if mf == nil {
		return 0, false
	}
series:
	for _, s := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue series
			}
		}
		ok = true
		switch {
		case s.Counter != nil:
			sum += s.Counter.GetValue()
		case s.Gauge != nil:
			sum += s.Gauge.GetValue()
		case s.Histogram != nil:
			sum += float64(s.Histogram.GetSampleCount())
		}
	}
	return sum, ok
}

// positive checks that the metric exists and is above zero.
func (m metrics) positive(t testing.TB, who, name string, labels ...string) {
	t.Helper()
	v, ok := m.get(name, labels...)
	if !ok || v <= 0 {
		t.Errorf("%s: %s%v = %v (present %v), want > 0", who, name, labels, v, ok)
	}
}

func readyz(t testing.TB, p *proc) (int, string) {
	t.Helper()
	resp, err := client.Get("http://" + p.adminAddr + "/readyz")
	if err != nil {
		t.Fatalf("%s: /readyz: %v", p.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits up to 15 s for /readyz to answer want.
func waitReady(t testing.TB, p *proc, want int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := readyz(t, p)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /readyz still %d after 15 s, want %d:\n%s", p.name, code, want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetrics_duringTransfer scrapes the origin, both relays and the edge
// while a player reads a large object slowly through them: every node's
// output parses as Prometheus text and shows bytes and requests moving, and
// each node with upstreams has an RTT per upstream from TCP_INFO.
// slowLarge downloads /large.bin from c's edge at 64 MB/s (about 4 s) in
// the background; the channel gives the download's error.
func slowLarge(t *testing.T, c *cluster) <-chan error {
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		_, _, err := slowGet(ctx, c.edgeURL("/large.bin"), 64e6)
		done <- err
	}()
	return done
}

func TestMetrics_duringTransfer(t *testing.T) {
	c := startCluster(t)
	waitReady(t, c.edge, 200)
	if resp, err := client.Head(c.edgeURL("/large.bin")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	done := slowLarge(t, c)
	// Wait until the edge is streaming.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, c.edge)
		if v, _ := m.get("aqueduct_http_response_bytes_total"); v > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge sent no body bytes within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	e := scrape(t, c.edge)
	e.positive(t, "edge", "aqueduct_http_requests_total", "method", "HEAD", "code", "200")
	e.positive(t, "edge", "aqueduct_http_requests_in_flight")
	e.positive(t, "edge", "aqueduct_http_response_bytes_total")
	e.positive(t, "edge", "aqueduct_readers_active")
	e.positive(t, "edge", "aqueduct_reader_memory_bytes")
	for _, r := range c.relays {
		e.positive(t, "edge", "aqueduct_upstream_connections", "upstream", r.peerAddr)
		e.positive(t, "edge", "aqueduct_upstream_rtt_seconds", "upstream", r.peerAddr)
		e.positive(t, "edge", "aqueduct_upstream_requests_total", "upstream", r.peerAddr)
	}
	e.positive(t, "edge", "aqueduct_upstream_received_bytes_total")
	if v, _ := e.get("aqueduct_build_info", "role", "edge", "name", "edge"); v != 1 {
		t.Errorf("edge: aqueduct_build_info = %v", v)
	}
	for _, r := range c.relays {
		m := scrape(t, r)
		m.positive(t, r.name, "aqueduct_peer_connections")
		m.positive(t, r.name, "aqueduct_peer_requests_total", "type", "read")
		m.positive(t, r.name, "aqueduct_peer_sent_bytes_total")
		m.positive(t, r.name, "aqueduct_upstream_rtt_seconds", "upstream", c.origin.peerAddr)
		m.positive(t, r.name, "aqueduct_upstream_received_bytes_total", "upstream", c.origin.peerAddr)
		m.positive(t, r.name, "aqueduct_cache_misses_total")
	}
	o := scrape(t, c.origin)
	o.positive(t, "origin", "aqueduct_peer_connections")
	o.positive(t, "origin", "aqueduct_peer_requests_total", "type", "read")
	o.positive(t, "origin", "aqueduct_peer_sent_bytes_total")
	if v, _ := o.get("aqueduct_peer_handshake_failures_total"); v != 0 {
		t.Errorf("origin: %v handshake failures", v)
	}
	if err := <-done; err != nil {
		t.Fatalf("the slow download: %v", err)
	}
}

// TestReadyz_upstreamsDown: the edge is ready while an upstream
// connection is up and turns unready, naming why, when both relays are
// gone; /healthz stays 200.
func TestReadyz_upstreamsDown(t *testing.T) {
	c := startCluster(t)
	if body := waitReady(t, c.edge, 200); !strings.Contains(body, "upstreams: ok") {
		t.Errorf("ready edge: %q", body)
	}
	for _, r := range c.relays {
		if err := r.kill(); err != nil {
			t.Fatal(err)
		}
	}
	body := waitReady(t, c.edge, 503)
	if !strings.Contains(body, "upstreams: no connection to any upstream is up") {
		t.Errorf("unready edge: %q", body)
	}
	resp, err := client.Get("http://" + c.edge.adminAddr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz with the upstreams down: %v %v", resp, err)
	}
	resp.Body.Close()
}

// ---- Topologies ----

// TestRelayChain fetches through edge → relay1 → relay2 → origin: the
// bytes are the origin's, and each hop's metrics show it fetched from the
// next.
func TestRelayChain(t *testing.T) {
	ct := content(t)
	o := startOrigin(t, ct.Root)
	r2 := startRelay(t, "relay2", []string{o.peerAddr})
	r1 := startRelay(t, "relay1", []string{r2.peerAddr})
	e := startEdge(t, "edge", []string{r1.peerAddr})
	c := &cluster{content: ct, origin: o, relays: []*proc{r1, r2}, edge: e}
	checkDownload(t, c.edgeURL("/mix/a.bin"), ct, "mix/a.bin")
	// A range in the middle, again through the whole chain (now cached).
	req, _ := http.NewRequest("GET", c.edgeURL("/mix/a.bin"), nil)
	req.Header.Set("Range", "bytes=5000000-5000999")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := ct.read(t, "mix/a.bin")[5000000:5001000]
	if resp.StatusCode != 206 || string(got) != string(want) {
		t.Fatalf("range through the chain: %s, %d bytes", resp.Status, len(got))
	}
	size := float64(ct.Sizes["mix/a.bin"])
	for _, hop := range []struct {
		p  *proc
		up string
	}{{e, r1.peerAddr}, {r1, r2.peerAddr}, {r2, o.peerAddr}} {
		v, _ := scrape(t, hop.p).get("aqueduct_upstream_received_bytes_total", "upstream", hop.up)
		if v < size {
			t.Errorf("%s received %v bytes from %s, want the whole object (%v)", hop.p.name, v, hop.up, size)
		}
	}
}

// TestUpstreamLoop: two relays that name each other as upstream (and an
// edge in front of one) answer at once with a clear error, instead of
// passing the request round until it times out (15 s before), and the
// relay that sees its request come back logs why.
func TestUpstreamLoop(t *testing.T) {
	aAddr, bAddr := aqtest.FreeAddr(t), aqtest.FreeAddr(t)
	a := startRelay(t, "relayA", []string{bAddr}, "--peer", aAddr)
	b := startRelay(t, "relayB", []string{aAddr}, "--peer", bAddr)
	e := startEdge(t, "edge", []string{a.peerAddr})
	for _, p := range []*proc{a, b} {
		waitReady(t, p, 200)
	}
	start := time.Now()
	resp, err := client.Get("http://" + e.httpAddr + "/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 502 || took > 3*time.Second {
		t.Errorf("GET through a loop: %s after %v (%q), want 502 at once", resp.Status, took, body)
	}
	t.Logf("GET through a loop: %s after %v", resp.Status, took.Round(time.Millisecond))
	looped := func(s string) bool { return strings.Contains(logAttrs(s)["msg"], "came back to this node (LOOP)") }
	if len(a.stderr.matching(looped))+len(b.stderr.matching(looped)) == 0 {
		t.Errorf("neither relay logged the loop:\n%s\n%s", a.stderr.tail(10), b.stderr.tail(10))
	}
	la, _ := scrape(t, a).get("aqueduct_peer_loops_total")
	lb, _ := scrape(t, b).get("aqueduct_peer_loops_total")
	if la+lb == 0 {
		t.Error("aqueduct_peer_loops_total is 0 on both relays")
	}
	if !strings.Contains(e.stderr.String(), "LOOP") {
		t.Errorf("the edge's log does not say LOOP:\n%s", e.stderr.tail(10))
	}
}

// TestRelayMesh: two relays that are each other's upstream besides the
// origin's (a mesh, which is no mistake) serve an edge: the object comes
// whole, and neither relay fetches from the other the blocks the other is
// fetching for it (its block requests there are refused with LOOP), so
// they never wait on each other.
func TestRelayMesh(t *testing.T) {
	ct := content(t)
	o := startOrigin(t, ct.Root)
	aAddr, bAddr := aqtest.FreeAddr(t), aqtest.FreeAddr(t)
	a := startRelay(t, "relayA", []string{bAddr, o.peerAddr}, "--peer", aAddr)
	b := startRelay(t, "relayB", []string{aAddr, o.peerAddr}, "--peer", bAddr)
	e := startEdge(t, "edge", []string{a.peerAddr})
	for _, p := range []*proc{a, b, e} {
		waitReady(t, p, 200)
	}
	c := &cluster{content: ct, origin: o, relays: []*proc{a, b}, edge: e}
	start := time.Now()
	checkDownload(t, c.edgeURL("/large.bin"), ct, "large.bin")
	took := time.Since(start)
	fromA, _ := scrape(t, b).get("aqueduct_upstream_received_bytes_total", "upstream", a.peerAddr)
	if fromA > 0 {
		t.Errorf("relayB fetched %v bytes from relayA, which was fetching them from relayB", fromA)
	}
	t.Logf("256 MiB through a mesh of two relays in %v; relayB got %v bytes from relayA", took.Round(time.Millisecond), fromA)
}

// ---- Configuration ----

// TestConfigFile runs an edge from a configuration file: the file's values
// apply, the environment overrides the file, flags override both.
func TestConfigFile(t *testing.T) {
	c := startCluster(t)
	file := filepath.Join(t.TempDir(), "edge.yml")
	writeFile(file, fmt.Sprintf(`# an edge
role: edge
name: edge-from-file
key_file: %q
upstreams: [%q]
admin: {listen: "127.0.0.1:0"}
http:
  listen: 127.0.0.1:0
transfer:
  conns: 3
`, keyFile, c.relays[0].peerAddr))
	for _, tc := range []struct {
		name  string
		env   []string
		flags []string
		conns string
	}{
		{"file", nil, nil, "3"},
		{"environment over file", []string{"AQUEDUCT_TRANSFER_CONNS=4"}, nil, "4"},
		{"flag over both", []string{"AQUEDUCT_TRANSFER_CONNS=4"}, []string{"--conns", "5"}, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcEnv(t, "edge", tc.env, append([]string{"edge", "--config", file}, tc.flags...)...)
			a := p.listening(t, "edge listening")
			if a["conns"] != tc.conns || a["upstreams"] != "["+c.relays[0].peerAddr+"]" {
				t.Errorf("listening record %v, want conns=%s", a, tc.conns)
			}
			p.adminAddr = a["admin"]
			if v, _ := scrape(t, p).get("aqueduct_build_info", "name", "edge-from-file"); v != 1 {
				t.Error("the file's name is not the node's")
			}
		})
	}
}

// TestConfigFile_mistakes: a file with a wrong type or an unknown key
// stops the node before it listens, exit status 2, with the file, line and
// key of each mistake.
func TestConfigFile_mistakes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yml")
	writeFile(file, "upstreams: [127.0.0.1:7071]\ntransfer:\n  conns: lots\n  windw: 1MiB\n")
	p := startProc(t, "edge", "edge", "--config", file, "--key-file", keyFile)
	waitExit(t, p, 10*time.Second)
	out := p.stderr.String()
	if exitCode(p.err) != 2 {
		t.Errorf("exit status %d, want 2", exitCode(p.err))
	}
	for _, want := range []string{
		file + `:3: transfer.conns: "lots" is not a whole number`,
		file + `:4: transfer.windw: unknown key (did you mean transfer.window?)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "listening") || strings.Contains(out, "Flags:") {
		t.Errorf("started, or dumped the usage:\n%s", out)
	}
}

// TestConfigCheck runs "aqueduct config check" on examples/aqueduct.yml
// for each role, from a directory with the key file it names: good for the
// relay and the edge; for the origin it names origin.root, whose
// placeholder directory does not exist. And "config example ROLE", with a
// real root, checks good.
func TestConfigCheck(t *testing.T) {
	root, err := moduleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(root, "examples", "aqueduct.yml")
	dir := t.TempDir()
	key, _ := os.ReadFile(keyFile)
	writeFile(filepath.Join(dir, "cluster.key"), string(key))
	run := func(args ...string) (string, int) {
		cmd := exec.Command(aqueductBin, args...)
		cmd.Dir, cmd.Env = dir, childEnv()
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}
	for _, role := range []string{"relay", "edge"} {
		if out, code := run("config", "check", "--role", role, example); code != 0 || !strings.Contains(out, "a good "+role+" configuration") {
			t.Errorf("config check --role %s examples/aqueduct.yml: exit %d\n%s", role, code, out)
		}
	}
	out, code := run("config", "check", "--role", "origin", example)
	if code != 2 || !strings.Contains(out, "origin.root: stat /srv/video") {
		t.Errorf("config check --role origin: exit %d\n%s", code, out)
	}
	ex, code := run("config", "example", "origin")
	if code != 0 {
		t.Fatalf("config example origin: exit %d\n%s", code, ex)
	}
	file := filepath.Join(dir, "origin.yml")
	writeFile(file, strings.Replace(ex, `root: "/srv/video"`, fmt.Sprintf("root: %q", dir), 1))
	if out, code := run("config", "check", "--print", file); code != 0 || !strings.Contains(out, "role: origin") {
		t.Errorf("config check --print of the origin example: exit %d\n%s", code, out)
	}
}

// TestEdge_pointedAtHTTPPort: an edge given the origin's HTTP port as its
// upstream says so at once, and a player gets its 502 at once (it waited
// 9 s before, behind a wire error).
func TestEdge_pointedAtHTTPPort(t *testing.T) {
	o := startOrigin(t, content(t).Root)
	e := startEdge(t, "edge", []string{o.httpAddr})
	start := time.Now()
	resp, err := client.Get("http://" + e.httpAddr + "/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 502 || took > 2*time.Second {
		t.Errorf("GET: %s after %v, want 502 at once", resp.Status, took)
	}
	e.waitLog(t, 5*time.Second, "a warning that the upstream is an HTTP server", func(s string) bool {
		a := logAttrs(s)
		return a["level"] == "WARN" && strings.Contains(a["err"], o.httpAddr+" is an HTTP server")
	})
}
