package tcpinfo

import (
	"errors"
	"io"
	"net"
	"testing"
)

func TestGet(t *testing.T) {
	for _, mptcp := range []bool{false, true} {
		var lc net.ListenConfig
		lc.SetMultipathTCP(mptcp)
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		var d net.Dialer
		d.SetMultipathTCP(mptcp)
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		ti, err := Get(c)
		if err != nil {
			t.Fatalf("mptcp=%v: %v", mptcp, err)
		}
		if ti.RTT <= 0 || ti.MinRTT <= 0 || ti.Cwnd == 0 {
			t.Fatalf("mptcp=%v: %+v", mptcp, ti)
		}
		c.Close()
		ln.Close()
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, err := Get(p1); !errors.Is(err, ErrNotTCP) {
		t.Fatalf("pipe: %v", err)
	}
}
