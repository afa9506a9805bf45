package node

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// accessLog writes one line per HTTP request in the Combined Log Format of
// Apache and nginx:
//
//	HOST - - [TIME] "METHOD TARGET PROTO" STATUS BYTES "REFERER" "USER-AGENT"
//
// Quoted fields escape '"', '\' and bytes outside printable ASCII as \xHH
// (as nginx does), and are cut to a bounded length, so that a line is
// always one line, at most a few kilobytes, whatever a client sends.
type accessLog struct {
	mu  sync.Mutex
	w   io.Writer
	f   *os.File // nil for standard output
	buf []byte
}

// Bounds of the quoted fields.
const (
	maxLoggedTarget = 2048
	maxLoggedHeader = 512
)

// openAccessLog opens path for appending, or uses stdout for "-".
func openAccessLog(path string, stdout io.Writer) (*accessLog, error) {
	if path == "-" {
		return &accessLog{w: stdout}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("node: access log: %w", err)
	}
	return &accessLog{w: f, f: f}, nil
}

func (a *accessLog) Close() error {
	if a.f != nil {
		return a.f.Close()
	}
	return nil
}

func (a *accessLog) log(r *http.Request, status int, bytes int64, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf = appendCombined(a.buf[:0], r, status, bytes, at)
	a.w.Write(a.buf) // a failing access log must not fail requests
}

// appendCombined appends r's line in the Combined Log Format.
func appendCombined(b []byte, r *http.Request, status int, bytes int64, at time.Time) []byte {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	b = appendEscaped(b, host, 64)
	b = append(b, " - - ["...)
	b = at.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, r.Method, 32)
	b = append(b, ' ')
	b = appendEscaped(b, r.RequestURI, maxLoggedTarget)
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto, 16)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	if bytes > 0 {
		b = strconv.AppendInt(b, bytes, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendEscaped(b, dash(r.Referer()), maxLoggedHeader)
	b = append(b, "\" \""...)
	b = appendEscaped(b, dash(r.UserAgent()), maxLoggedHeader)
	return append(b, "\"\n"...)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped appends at most max bytes of s, escaping as the type doc
// says, and "..." where it was cut.
func appendEscaped(b []byte, s string, max int) []byte {
	const hex = "0123456789ABCDEF"
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	if cut {
		b = append(b, "..."...)
	}
	return b
}
