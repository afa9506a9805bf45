package peer

import (
	"net"
	"testing"
)

type fakeConn struct {
	net.Conn
	addr   string
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.ParseIP(c.addr), Port: 1} }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

func TestAdmission(t *testing.T) {
	a := newAdmission(4, 2, 1000)
	var dones []func()
	admit := func(addr string) (*fakeConn, string, bool) {
		c := &fakeConn{addr: addr}
		done, refused, evicted := a.admit(c)
		if done != nil {
			dones = append(dones, done)
		}
		return c, refused, evicted
	}
	c1, _, _ := admit("10.0.0.1")
	admit("10.0.0.1")
	if _, why, _ := admit("10.0.0.1"); why != refusedHost {
		t.Errorf("a third pending from one address: %q, want %q", why, refusedHost)
	}
	admit("10.0.0.2")
	admit("10.0.0.3")
	// Four pending, the most: a fifth pushes out the oldest.
	if _, why, evicted := admit("10.0.0.4"); why != "" || !evicted || !c1.closed {
		t.Errorf("a fifth: refused %q, evicted %v, oldest closed %v", why, evicted, c1.closed)
	}
	dones[0]() // the evicted one's handshake ends: nothing to undo
	if _, why, _ := admit("10.0.0.1"); why != "" {
		t.Errorf("10.0.0.1 has one pending after its oldest was pushed out: refused %q", why)
	}
	for _, d := range dones {
		d()
	}
	if a.pending.Len() != 0 {
		t.Errorf("%d pending after every handshake ended", a.pending.Len())
	}
	for h, hs := range a.hosts {
		if hs.n != 0 {
			t.Errorf("%s: %d pending", h, hs.n)
		}
	}

	// The rate: bursts of twice the rate, then refused.
	b := newAdmission(100, 100, 5)
	n := 0
	for range 20 {
		done, why, _ := b.admit(&fakeConn{addr: "10.0.0.9"})
		if why == refusedRate {
			break
		}
		done()
		n++
	}
	if n != 10 {
		t.Errorf("%d admitted at once at 5 a second, want a burst of 10", n)
	}
}
