package lab_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/lab/labtest"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// twoHosts returns a topology of hosts a and b joined by one link.
func twoHosts(ab, ba linkem.Config) lab.Topology {
	return lab.Topology{
		Hosts: []lab.Host{{Name: "a"}, {Name: "b"}},
		Links: []lab.Link{{A: "a", B: "b", AB: ab, BA: ba}},
	}
}

func build(t *testing.T, cfg lab.TestbedConfig) *lab.Testbed {
	t.Helper()
	labtest.RequireRoot(t)
	if cfg.ID == "" {
		cfg.ID = labtest.ID(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tb, err := lab.Build(ctx, cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := tb.Err(); err != nil {
			t.Errorf("links: %v", err)
		}
	})
	return tb
}

func TestTestbed_tcpAcrossARouter(t *testing.T) {
	// a – r – b: b reaches a only through r, which forwards.
	top := lab.Topology{
		Hosts: []lab.Host{{Name: "a"}, {Name: "r"}, {Name: "b"}},
		Links: []lab.Link{
			{A: "a", B: "r", AB: linkem.Config{Delay: time.Millisecond}, BA: linkem.Config{Delay: time.Millisecond}},
			{A: "r", B: "b", AB: linkem.Config{Delay: time.Millisecond}, BA: linkem.Config{Delay: time.Millisecond}},
		},
	}
	tb := build(t, lab.TestbedConfig{Topology: top, Congestion: "cubic"})
	aAddr, err := tb.Addr("a", "r")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tb.Listen("a", "tcp", aAddr.String()+":7000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	c, err := tb.Dial(ctx, "b", "tcp", aAddr.String()+":7000")
	if err != nil {
		t.Fatalf("dial across the router: %v", err)
	}
	defer c.Close()
	if rtt := time.Since(start); rtt < 4*time.Millisecond {
		t.Errorf("handshake took %v, less than the 4 ms round trip", rtt)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	// Congestion control and buffers reached the namespaces.
	var cc string
	err = tb.Do("b", func() error {
		tc := c.(*net.TCPConn)
		raw, err := tc.SyscallConn()
		if err != nil {
			return err
		}
		return raw.Control(func(fd uintptr) { cc = tcpCongestion(int(fd)) })
	})
	if err != nil || cc != "cubic" {
		t.Errorf("congestion control of a socket in b: %q, %v; want cubic", cc, err)
	}
	s := tb.LinkStats()
	if s[0].AB.DeliveredPackets == 0 || s[1].BA.DeliveredPackets == 0 {
		t.Errorf("no packets through the links: %+v", s)
	}
	hc, err := tb.Counters(ctx, "b")
	if err != nil || hc.TCPOutSegs == 0 {
		t.Errorf("counters %+v, %v", hc, err)
	}
	if !strings.HasPrefix(tb.NS("a"), lab.Prefix) {
		t.Errorf("namespace %q lacks the prefix", tb.NS("a"))
	}
}
