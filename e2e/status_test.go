package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/node"
)

// TestStatus: while the edge streams a large object, its congestion
// manager has a macroflow to the relays' host with a measured rate, on
// /metrics and in `aqueduct status`, which lists each relay's connections
// with their estimates; --json gives the same as the admin endpoint.
func TestStatus(t *testing.T) {
	c := startCluster(t)
	waitReady(t, c.edge, 200)
	done := slowLarge(t, c)
	ctx := t.Context()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, c.edge)
		if v, _ := m.get("aqueduct_macroflow_goodput_bytes_per_second", "macroflow", "127.0.0.1"); v > 0 {
			m.positive(t, "edge", "aqueduct_macroflow_flows", "macroflow", "127.0.0.1")
			m.positive(t, "edge", "aqueduct_macroflow_rate_bytes_per_second", "macroflow", "127.0.0.1")
			m.positive(t, "edge", "aqueduct_macroflow_rtt_seconds", "macroflow", "127.0.0.1")
			m.positive(t, "edge", "aqueduct_upstream_conn_rate_bytes_per_second")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no macroflow with a rate on the edge within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	out, err := exec.CommandContext(ctx, aqueductBin, "status", c.edge.adminAddr).CombinedOutput()
	if err != nil {
		t.Fatalf("aqueduct status: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{`edge "edge"`, "MACROFLOW", "127.0.0.1 ", "Mbit/s", "CONN"} {
		if !strings.Contains(text, want) {
			t.Errorf("aqueduct status: no %q in\n%s", want, text)
		}
	}
	for _, r := range c.relays {
		if !strings.Contains(text, "upstream "+r.peerAddr+": ") {
			t.Errorf("aqueduct status: relay %s not listed in\n%s", r.peerAddr, text)
		}
	}

	out, err = exec.CommandContext(ctx, aqueductBin, "status", "--json", c.edge.adminAddr).Output()
	if err != nil {
		t.Fatalf("aqueduct status --json: %v", err)
	}
	var st node.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("aqueduct status --json: %v\n%s", err, out)
	}
	if st.Role != "edge" || len(st.Macroflows) == 0 || len(st.Upstreams) != len(c.relays) {
		t.Errorf("status: %+v", st)
	}
	conns := 0
	for _, u := range st.Upstreams {
		conns += len(u.Conns)
	}
	if conns == 0 {
		t.Errorf("status lists no connection: %+v", st)
	}

	// A wrong address is a clear error, not a table of nothing.
	out, err = exec.CommandContext(ctx, aqueductBin, "status", c.edge.httpAddr).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "aqueduct status: ") {
		t.Errorf("status of an HTTP (not admin) address: %v\n%s", err, out)
	}
	if err := <-done; err != nil {
		t.Fatalf("the slow download: %v", err)
	}
}
