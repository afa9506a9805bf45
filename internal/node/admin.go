package node

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminHandler serves the admin endpoint; see the package doc.
func (n *Node) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Aqueduct %s %q admin endpoint\n\n", n.cfg.Role, n.cfg.Name)
		fmt.Fprintln(w, "/healthz   200 while the process runs")
		fmt.Fprintln(w, "/readyz    200 when the node can serve, else 503 and why")
		fmt.Fprintln(w, "/metrics   Prometheus metrics")
		fmt.Fprintln(w, "/status    congestion estimates per macroflow and connection, JSON (aqueduct status ADDR)")
		if n.cfg.Admin.Pprof {
			fmt.Fprintln(w, "/debug/pprof/   Go profiler")
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.HandleFunc("GET /status", n.serveStatus)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	if n.cfg.Admin.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// readyz answers 200 and "ready" when every check passes; else 503, with
// one line per check.
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	checks := slices.Clone(n.checks)
	n.mu.Unlock()
	var b strings.Builder
	ready := true
	if n.stopping.Load() {
		ready = false
		b.WriteString("shutting down\n")
	}
	for _, c := range checks {
		if err := c.fn(); err != nil {
			ready = false
			fmt.Fprintf(&b, "%s: %v\n", c.name, err)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", c.name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "not ready\n"+b.String())
		return
	}
	fmt.Fprint(w, "ready\n"+b.String())
}
