package lab

import (
	"errors"
	"log/slog"
	"os"
)

// Prefix starts the name of every network namespace, network device and
// work directory the lab creates. "aqueduct lab clean" removes what carries
// it and nothing else.
const Prefix = "aql-"

// ErrUnsupported reports that the testbed cannot run here: it needs Linux,
// root (CAP_NET_ADMIN and CAP_SYS_ADMIN), /dev/net/tun and iproute2.
var ErrUnsupported = errors.New("lab: the testbed needs Linux, root, /dev/net/tun and the ip command")

// traceLog, set by AQUEDUCT_LAB_TRACE=1, logs every command the lab runs.
var traceLog = func() *slog.Logger {
	if os.Getenv("AQUEDUCT_LAB_TRACE") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}()

func trace(msg string, args ...any) {
	if traceLog != nil {
		traceLog.Debug("lab trace: "+msg, args...)
	}
}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
