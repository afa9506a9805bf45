package tcpinfo

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestGet(t *testing.T) {
	const size = 1 << 20
	for _, mptcp := range []bool{false, true} {
		var lc net.ListenConfig
		lc.SetMultipathTCP(mptcp)
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		type got struct {
			ti  Info
			err error
		}
		recv := make(chan got, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				recv <- got{err: err}
				return
			}
			defer c.Close()
			if _, err := io.CopyN(io.Discard, c, size); err != nil {
				recv <- got{err: err}
				return
			}
			ti, err := Get(c)
			recv <- got{ti, err}
			io.Copy(io.Discard, c)
		}()
		var d net.Dialer
		d.SetMultipathTCP(mptcp)
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		r := <-recv
		if r.err != nil {
			t.Fatalf("mptcp=%v: receiver: %v", mptcp, r.err)
		}
		// The receiver has read every byte: the kernel counted them.
		if r.ti.BytesReceived < size || r.ti.DataSegsIn == 0 {
			t.Errorf("mptcp=%v: receiver %+v, want %d bytes received", mptcp, r.ti, size)
		}
		// Acknowledgements may trail the reads by a moment.
		var ti Info
		for deadline := time.Now().Add(2 * time.Second); ; {
			if ti, err = Get(c); err != nil {
				t.Fatalf("mptcp=%v: %v", mptcp, err)
			}
			if ti.BytesAcked >= size || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if ti.RTT <= 0 || ti.MinRTT <= 0 || ti.Cwnd == 0 || ti.SegsOut == 0 || ti.PacingRate == 0 {
			t.Errorf("mptcp=%v: sender %+v", mptcp, ti)
		}
		if ti.BytesAcked < size {
			t.Errorf("mptcp=%v: %d bytes acknowledged, want %d", mptcp, ti.BytesAcked, size)
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
