package lab_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// TestTestbed_mptcpSubflowTakesSecondPath: one MPTCP connection from c to
// s's address on path 1 gets a second subflow, over path 2, exactly when c
// has a subflow endpoint on its path-2 address; the host counters record
// the join and the link counters show both paths carrying the data.
func TestTestbed_mptcpSubflowTakesSecondPath(t *testing.T) {
	for _, tt := range []struct {
		name      string
		endpoints string
		joins     uint64
	}{
		{"no endpoint", "", 0},
		{"subflow endpoint", "subflow", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := linkem.Config{Rate: 20 * linkem.Mbps, Delay: 5 * time.Millisecond}
			top := lab.Topology{
				Hosts: []lab.Host{
					{Name: "s", MPTCP: &lab.MPTCPSpec{Subflows: 2}},
					{Name: "c", SourceRouting: true, MPTCP: &lab.MPTCPSpec{Subflows: 2, Endpoints: tt.endpoints}},
				},
				Links: []lab.Link{{A: "s", B: "c", AB: path, BA: path}, {A: "s", B: "c", AB: path, BA: path}},
			}
			tb := build(t, lab.TestbedConfig{Topology: top, Congestion: "cubic"})
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			before := map[string]lab.HostCounters{}
			for _, h := range []string{"s", "c"} {
				hc, err := tb.Counters(ctx, h)
				if err != nil {
					t.Fatal(err)
				}
				before[h] = hc
			}

			const size = 6 << 20            // 2.4 s at one path's 20 Mbit/s
			sAddr, err := tb.Addr("s", "c") // on the first link: path 1
			if err != nil {
				t.Fatal(err)
			}
			var ln net.Listener
			err = tb.Do("s", func() (err error) {
				var lc net.ListenConfig
				lc.SetMultipathTCP(true)
				ln, err = lc.Listen(ctx, "tcp", sAddr.String()+":7000")
				return err
			})
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
				// Let the join finish before the data starts.
				time.Sleep(200 * time.Millisecond)
				io.CopyN(c, zeros{}, size)
			}()
			var c net.Conn
			err = tb.Do("c", func() (err error) {
				var d net.Dialer
				d.SetMultipathTCP(true)
				c, err = d.DialContext(ctx, "tcp", sAddr.String()+":7000")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if n, err := io.Copy(io.Discard, c); n != size {
				t.Fatalf("received %d bytes of %d: %v", n, size, err)
			}
			if on, err := c.(*net.TCPConn).MultipathTCP(); !on || err != nil {
				t.Fatalf("connection is not MPTCP (%v, %v)", on, err)
			}

			after := map[string]lab.HostCounters{}
			for _, h := range []string{"s", "c"} {
				hc, err := tb.Counters(ctx, h)
				if err != nil {
					t.Fatal(err)
				}
				after[h] = hc
			}
			conns := after["s"].MPTCPConnections() - before["s"].MPTCPConnections()
			joins := after["s"].MPTCPJoins() - before["s"].MPTCPJoins()
			if conns != 1 || joins != tt.joins {
				t.Errorf("s accepted %d MPTCP connection(s) and %d join(s), want 1 and %d (counters %v)", conns, joins, tt.joins, after["s"].MPTCP)
			}
			st := tb.LinkStats()
			p1, p2 := st[0].AB.Delivered, st[1].AB.Delivered
			t.Logf("s→c bytes: path 1 %d, path 2 %d", p1, p2)
			switch {
			case tt.joins == 0 && p2 > 0:
				t.Errorf("path 2 carried %d bytes without an endpoint", p2)
			case tt.joins > 0 && (p1 < size/10 || p2 < size/10):
				t.Errorf("with a second subflow, path 1 carried %d bytes and path 2 %d of %d: want both over a tenth", p1, p2, size)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
