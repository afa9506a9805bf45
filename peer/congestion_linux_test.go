package peer

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func available(t *testing.T) []string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_congestion_control")
	if err != nil {
		t.Fatalf("cannot read the available congestion controls: %v", err)
	}
	return strings.Fields(string(b))
}

// The listener's congestion control reaches accepted connections, with and
// without MPTCP, and the dialer's reaches the client's socket.
func TestCongestion(t *testing.T) {
	for _, mptcp := range []bool{false, true} {
		for _, cc := range available(t) {
			ln, err := Listen(context.Background(), "127.0.0.1:0", Config{Congestion: cc, MPTCP: mptcp})
			if err != nil {
				t.Fatal(err)
			}
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					accepted <- nil
					return
				}
				accepted <- c
			}()
			d := net.Dialer{Control: congestionControl(Config{Congestion: cc}.withDefaults())}
			d.SetMultipathTCP(mptcp)
			cl, err := d.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			sc := <-accepted
			if sc == nil {
				t.Fatal("accept failed")
			}
			for side, c := range map[string]net.Conn{"client": cl, "server": sc} {
				rc, err := c.(syscall.Conn).SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				got, err := congestionOf(rc)
				if err != nil {
					t.Fatal(err)
				}
				if got != cc {
					t.Errorf("mptcp=%v %s side: congestion %q, want %q", mptcp, side, got, cc)
				}
			}
			cl.Close()
			sc.Close()
			ln.Close()
		}
	}
}

func TestCongestionUnknownFallsBack(t *testing.T) {
	ln, err := Listen(context.Background(), "127.0.0.1:0", Config{Congestion: "no-such-cc"})
	if err != nil {
		t.Fatalf("listen with an unknown congestion control must still work: %v", err)
	}
	ln.Close()
}
