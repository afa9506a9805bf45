package node

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/tcpinfo"
)

// Congestion is the node's congestion manager: the one owner of what the
// process knows about its paths (package congestion).
func (n *Node) Congestion() *congestion.Manager { return n.cm }

// clientPrefix starts the name of every macroflow of HTTP clients.
const clientPrefix = "client/"

// ClientMacroflow is the congestion manager's macroflow of the HTTP
// clients at remoteAddr's host (an http.Request's RemoteAddr):
// "client/HOST". The node's HTTP connections to one host share it, apart
// from the macroflow of that host's peer links: a client's path is what
// this node sends down to it, a peer link to the same host may be what
// this node fetches from it, and on one machine (the demo, the tests)
// both are 127.0.0.1.
func ClientMacroflow(remoteAddr string) string {
	return clientPrefix + congestion.Host(remoteAddr)
}

func isClientMacroflow(name string) bool { return strings.HasPrefix(name, clientPrefix) }

// clientKey is the context key of a connection's *clientConn.
type clientKey struct{}

// clientFlows registers each connection of an HTTP server as a Send flow
// of the congestion manager (http.adapt), which then samples its TCP_INFO:
// the rate to each client that content adaptation needs. A connection's
// flow is busy (congestion.Flow.SetBusy) from the first byte of a
// response's body until the client has acknowledged all of it, so that
// its rate is what the path gives while there is something to send, and a
// keep-alive connection waiting for its next request keeps its estimate
// instead of decaying to zero; the time a response waits for its first
// byte (the engine fetching upstream) is not counted. HTTP/1 serves one
// request at a time on a connection; a response that stalls mid-body
// waiting upstream counts as busy, which lowers the rate.
type clientFlows struct {
	cm  *congestion.Manager
	log *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*clientConn
}

func newClientFlows(cm *congestion.Manager, log *slog.Logger) *clientFlows {
	return &clientFlows{cm: cm, log: log, conns: make(map[net.Conn]*clientConn)}
}

// connContext is an http.Server's ConnContext: it opens c's flow.
func (cf *clientFlows) connContext(ctx context.Context, c net.Conn) context.Context {
	addr := c.RemoteAddr().String()
	// Open takes a host or host:port; a name without a port is taken
	// as it is.
	cc := &clientConn{c: c, flow: cf.cm.Open(ClientMacroflow(addr))}
	// Adaptation wants a client's rate to within a variant's step, not
	// every 20 ms: thousands of players would cost a system call each.
	cc.flow.SetMinInterval(clientSampleInterval)
	if err := cc.flow.Watch(c, congestion.Send); err != nil {
		cf.log.Debug("congestion manager cannot watch the HTTP connection; its client's rate is unknown",
			"remote_addr", addr, "err", err)
	}
	cf.mu.Lock()
	cf.conns[c] = cc
	cf.mu.Unlock()
	return context.WithValue(ctx, clientKey{}, cc)
}

// connState is an http.Server's ConnState: it closes the flow of a
// connection that closes or is hijacked.
func (cf *clientFlows) connState(c net.Conn, s http.ConnState) {
	if s != http.StateClosed && s != http.StateHijacked {
		return
	}
	cf.mu.Lock()
	cc := cf.conns[c]
	delete(cf.conns, c)
	cf.mu.Unlock()
	if cc != nil {
		cc.close()
	}
}

// clientSampleInterval is the least interval at which the congestion
// manager samples an HTTP client's connection.
const clientSampleInterval = 100 * time.Millisecond

// Bounds of how often a finished response's connection is looked at until
// the client has acknowledged everything, and of how long in all.
const (
	minDrainPoll = 10 * time.Millisecond
	maxDrainPoll = time.Second
	maxDrain     = 30 * time.Second
)

// clientConn is one HTTP connection's flow and busy state.
type clientConn struct {
	c    net.Conn
	flow *congestion.Flow

	mu         sync.Mutex
	busy       bool      // the flow is marked busy
	responding bool      // a response's body is being written
	gen        int       // counts responses, so a stale drain check knows it
	drainStart time.Time // when the last response's handler returned
	timer      *time.Timer
	closed     bool
}

// started marks the first byte of a response's body.
func (cc *clientConn) started() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return
	}
	cc.gen++
	cc.responding = true
	if cc.timer != nil {
		cc.timer.Stop()
		cc.timer = nil
	}
	if !cc.busy {
		cc.busy = true
		cc.flow.SetBusy(true)
	}
}

// finished marks the end of a response's handler: the flow stays busy
// until the client has acknowledged what the kernel still holds.
func (cc *clientConn) finished() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed || !cc.responding {
		return
	}
	cc.responding = false
	cc.drainStart = time.Now()
	cc.checkLocked(cc.gen)
}

// checkLocked ends the busy time if the connection holds nothing
// unacknowledged, else looks again later; cc.mu is held.
func (cc *clientConn) checkLocked(gen int) {
	if cc.closed || cc.responding || gen != cc.gen || !cc.busy {
		return
	}
	ti, err := tcpinfo.Get(cc.c)
	if err != nil || !ti.Outstanding() || time.Since(cc.drainStart) > maxDrain {
		cc.busy = false
		cc.flow.SetBusy(false)
		return
	}
	wait := min(max(ti.RTT/2, minDrainPoll), maxDrainPoll)
	cc.timer = time.AfterFunc(wait, func() {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		cc.checkLocked(gen)
	})
}

func (cc *clientConn) close() {
	cc.mu.Lock()
	cc.closed = true
	if cc.timer != nil {
		cc.timer.Stop()
		cc.timer = nil
	}
	cc.mu.Unlock()
	cc.flow.Close()
}
