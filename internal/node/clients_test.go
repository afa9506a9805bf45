package node_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/node/nodetest"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// With http.adapt, each HTTP connection is a flow of the node's congestion
// manager in its client's macroflow, which measures what was sent, is
// closed with the connection, and is counted in the metrics, not exported
// one by one. Without it, no client flow is opened.
func TestServeHTTP_clientFlows(t *testing.T) {
	for _, adapt := range []bool{true, false} {
		t.Run(map[bool]string{true: "adapt", false: "no adapt"}[adapt], func(t *testing.T) {
			key, _ := peer.GenerateKey()
			cfg := nodetest.Config(t, conf.RoleEdge, key, "127.0.0.1:1")
			cfg.HTTP.Adapt = adapt
			body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			n := nodetest.Start(t, cfg, func(n *node.Node) error {
				ln, err := n.Listen("http", cfg.HTTP.Listen)
				if err != nil {
					return err
				}
				return n.ServeHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Write(body)
				}))
			})
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			url := "http://" + n.Addr("http").String() + "/"
			name := node.ClientMacroflow(n.Addr("http").String()) // the client is on loopback too
			if name != "client/127.0.0.1" {
				t.Fatalf("ClientMacroflow = %q", name)
			}
			known := func() bool {
				e, ok := n.Congestion().Query(name)
				return ok && e.Known() && e.Goodput > 0
			}
			fetch := func() {
				resp, err := c.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if !adapt {
				fetch()
				if _, ok := n.Congestion().Query(name); ok {
					t.Fatal("a client flow without http.adapt")
				}
				return
			}
			waitFor(t, "the client's macroflow measured", func() bool { fetch(); return known() })
			if got := nodetest.Metric(t, n, "aqueduct_client_macroflows"); got != 1 {
				t.Errorf("aqueduct_client_macroflows = %v, want 1", got)
			}
			mfs, _ := n.Gatherer().Gather()
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "macroflow" && l.GetValue() == name {
							t.Errorf("%s exported with macroflow=%q", mf.GetName(), name)
						}
					}
				}
			}
			tr.CloseIdleConnections()
			waitFor(t, "the client's flows closed", func() bool {
				_, ok := n.Congestion().Query(name)
				return !ok
			})
		})
	}
}
