// Package node assembles one Aqueduct node, whatever its role: its
// listeners, its block store and transfer engine, its admin endpoint and
// metrics, and its ordered, graceful shutdown. A role (packages
// internal/roles/origin, relay and edge) is a handler and its configuration
// mounted on a Node; package internal/roles picks the role.
//
// The caller's duties, in order:
//
//  1. New, with a validated conf.Config whose Key is set. It sets up the
//     logger, the metrics registry and the admin listener, and checks the
//     peer links' congestion control once.
//  2. Mount the role: it calls OpenStore, StartEngine, Listen, ListenPeer,
//     ServeHTTP, ServePeer, Go, OnClose and AddCheck as it needs. Each part
//     registers its metrics, its readiness check and its closing.
//  3. Run until the context ends; or, if mounting failed, Close.
//
// Run serves until its context ends or a server fails, then shuts down in
// order: /readyz turns unready; the HTTP and peer servers stop taking
// connections and finish what is in flight (up to ShutdownGrace, 10 s);
// background tasks are cancelled and waited for; then what the parts
// registered closes in reverse order of registration (the engine before
// the store it writes to, the store before its directory is removed); the
// admin server stops last, so that metrics can be scraped during the
// drain.
//
// The admin endpoint (conf key admin.listen, on loopback by default) serves
// /healthz (200 while the process runs), /readyz (200 when every readiness
// check passes: an upstream connection is up, the store takes writes, the
// content directory is readable; else 503 with the reasons), /metrics
// (Prometheus text format; see metrics.go for the names) and, with
// admin.pprof, /debug/pprof/.
package node
