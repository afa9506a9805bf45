// Package aqtest holds helpers shared by Aqueduct's tests: loggers that
// write to the test's log, and the goroutine-leak check.
package aqtest

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// Logger returns a logger that writes to t.Log at level and above.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: level}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// VerifyTestMain runs the package's tests, then fails them if goroutines
// they started are still running (go.uber.org/goleak): a Close that does
// not wait for its goroutines, a connection left open. Packages that start
// goroutines call it from TestMain:
//
//	func TestMain(m *testing.M) { aqtest.VerifyTestMain(m) }
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	// Tests share http.DefaultClient: its idle keep-alive connections are
	// no leak of the code under test. Any other goroutine is.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// FreeAddr returns a loopback address that was free a moment ago, for a
// listener that must be named before it exists (two nodes that name each
// other). Another process may take it meanwhile; tests accept that.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
