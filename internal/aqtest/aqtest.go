// Package aqtest holds helpers shared by Aqueduct's tests: loggers that
// write to the test's log.
package aqtest

import (
	"log/slog"
	"strings"
	"testing"
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
