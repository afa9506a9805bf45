package node

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// limitListener bounds the connections an HTTP server holds: at most max
// in all and perClient from one IP address. A connection past a limit is
// answered at once, without reading its request, with 503 (the server is
// full) or 429 (that client has too many), Retry-After and Connection:
// close, and closed: a client sees why, and the server spends a write on it.
type limitListener struct {
	net.Listener
	max, perClient int
	refused        *prometheus.CounterVec

	mu     sync.Mutex
	total  int
	byHost map[string]int
}

func newLimitListener(ln net.Listener, max, perClient int, m *httpMetrics) *limitListener {
	return &limitListener{Listener: ln, max: max, perClient: perClient, refused: m.refused, byHost: make(map[string]int)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(c.RemoteAddr().String())
		if err != nil {
			host = c.RemoteAddr().String()
		}
		l.mu.Lock()
		switch {
		case l.max > 0 && l.total >= l.max:
			l.mu.Unlock()
			l.refused.WithLabelValues("total").Inc()
			go refuse(c, 503, "Service Unavailable", fmt.Sprintf("the server holds its most connections (%d); retry", l.max))
			continue
		case l.perClient > 0 && l.byHost[host] >= l.perClient:
			l.mu.Unlock()
			l.refused.WithLabelValues("client").Inc()
			go refuse(c, 429, "Too Many Requests", fmt.Sprintf("more than %d connections from one address", l.perClient))
			continue
		}
		l.total++
		l.byHost[host]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *limitListener) done(host string) {
	l.mu.Lock()
	l.total--
	if l.byHost[host]--; l.byHost[host] <= 0 {
		delete(l.byHost, host)
	}
	l.mu.Unlock()
}

// open is the number of connections held, for the metrics.
func (l *limitListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// refuse answers a connection past a limit and closes it.
func refuse(c net.Conn, code int, status, why string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	body := fmt.Sprintf("%d %s: %s\n", code, status, why)
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
		code, status, len(body), body)
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	host string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.host) })
	return err
}

// NetConn is the connection underneath, for TCP_INFO (package tcpinfo
// unwraps it).
func (c *limitedConn) NetConn() net.Conn { return c.Conn }

// ReadFrom keeps the TCP connection's sendfile and splice for net/http.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite keeps net/http's graceful close of TCP connections.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
