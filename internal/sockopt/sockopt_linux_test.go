package sockopt

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
)

func available(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_congestion_control")
	if err != nil {
		t.Fatalf("cannot read the available congestion controls: %v", err)
	}
	return strings.Fields(string(b))
}

// pair dials a listener made with server from a dialer made with client and
// returns both ends.
func pair(t *testing.T, server, client Options) (cl, sc net.Conn) {
	t.Helper()
	ln, err := server.ListenConfig().Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cl, err = client.Dialer().Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if sc = <-accepted; sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { cl.Close(); sc.Close() })
	return cl, sc
}

// The listener's congestion control reaches accepted connections, with and
// without MPTCP, and the dialer's reaches the client's socket.
func TestCongestion(t *testing.T) {
	for _, mptcp := range []bool{false, true} {
		for _, cc := range available(t) {
			o := Options{MPTCP: mptcp, Congestion: cc}
			cl, sc := pair(t, o, o)
			for side, c := range map[string]net.Conn{"client": cl, "server": sc} {
				got, err := Congestion(c)
				if err != nil {
					t.Fatal(err)
				}
				if got != cc {
					t.Errorf("mptcp=%v %s side: congestion %q, want %q", mptcp, side, got, cc)
				}
				if MultipathTCP(c) != mptcp {
					t.Errorf("mptcp=%v %s side: MultipathTCP() = %v", mptcp, side, !mptcp)
				}
			}
		}
	}
}

// A name the kernel refuses leaves the kernel's default, and Check says so.
func TestCongestion_refused(t *testing.T) {
	def, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Congestion: "no-such-cc"}
	cl, _ := pair(t, o, o)
	got, err := Congestion(cl)
	if err != nil || got != strings.TrimSpace(string(def)) {
		t.Errorf("congestion %q, %v; want the default %q", got, err, strings.TrimSpace(string(def)))
	}
	if err := Check("no-such-cc"); err == nil || !strings.Contains(err.Error(), `"no-such-cc"`) {
		t.Errorf("Check(no-such-cc) = %v, want a refusal naming it", err)
	}
	for _, cc := range append(available(t), "") {
		if err := Check(cc); err != nil {
			t.Errorf("Check(%q) = %v", cc, err)
		}
	}
}

func TestCongestion_notSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := Congestion(a); err != ErrNotSocket {
		t.Errorf("Congestion(pipe) = %v, want ErrNotSocket", err)
	}
	if MultipathTCP(a) {
		t.Error("MultipathTCP(pipe) = true")
	}
}

// The kernel takes a pacing cap on a TCP socket and refuses it on an
// MPTCP one, whose sender must then pace itself.
func TestMaxPacingRate(t *testing.T) {
	cl, _ := pair(t, Options{}, Options{})
	if err := MaxPacingRate(cl, 1<<20); err != nil {
		t.Fatalf("TCP: %v", err)
	}
	if err := MaxPacingRate(cl, Unpaced); err != nil {
		t.Fatalf("TCP, lifting the cap: %v", err)
	}
	mp, _ := pair(t, Options{MPTCP: true}, Options{MPTCP: true})
	if !MultipathTCP(mp) {
		t.Fatal("no MPTCP connection on loopback (net.mptcp.enabled=0?)")
	}
	if err := MaxPacingRate(mp, 1<<20); err == nil {
		t.Fatal("MPTCP took SO_MAX_PACING_RATE; the CM's user-space pacing assumes it does not")
	}
}
