package peer

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// slowProxy forwards connections to addr on a loopback port, the
// server-to-client direction at about rate bytes per second.
func slowProxy(t *testing.T, addr string, rate int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				return
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				defer c.Close()
				buf := make([]byte, 4<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
						time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// On a slow connection a 128 KiB DATA frame takes a second to arrive;
// LastData moves while it does (it moved once a frame before, and the
// engine took a receiving connection for a stalled one).
func TestConn_lastDataMovesWithinAFrame(t *testing.T) {
	key := testKey(t)
	data := randomBytes(256<<10, 5)
	h := &memHandler{objects: map[string][]byte{"v/a.mp4": data}}
	_, addr := startServer(t, Config{Key: key, Name: "srv"}, h)
	c := dial(t, slowProxy(t, addr, 128<<10), Config{Key: key, Name: "cli"})
	hd, _, err := c.Open(context.Background(), "v/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if _, err := c.Read(hd, 0, make([]byte, len(data)), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	last, moved := c.LastData(), time.Now()
	var worst time.Duration
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("longest time without LastData moving: %v", worst)
			if worst > 600*time.Millisecond {
				t.Fatalf("LastData stood still for %v while a frame arrived at 128 KiB/s (a frame takes 1 s)", worst)
			}
			return
		case <-tick.C:
			if ld := c.LastData(); ld.After(last) {
				last, moved = ld, time.Now()
			} else {
				worst = max(worst, time.Since(moved))
			}
		case <-timeout:
			t.Fatal("the read did not end")
		}
	}
}
