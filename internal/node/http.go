package node

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// observe wraps an HTTP server's handler: it counts every request in the
// metrics, writes it to the access log if there is one, logs it at Debug,
// and logs at Warn a response cut mid-body because its content could not be
// fetched (the handler panics with http.ErrAbortHandler, which passes
// through to net/http; see httpserve.Serve).
func (n *Node) observe(h http.Handler) http.Handler {
	m := n.http
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		cc, _ := r.Context().Value(clientKey{}).(*clientConn)
		rec := &recorder{ResponseWriter: w, sent: m.bytes, client: cc}
		completed := false
		defer func() {
			if cc != nil {
				cc.finished()
			}
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				panic(v) // a bug, not an abort: net/http logs it with its stack
			} else if v != nil {
				defer panic(v) // let net/http close the connection
			}
			m.inFlight.Dec()
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			m.requests.WithLabelValues(methodLabel(r.Method), strconv.Itoa(status)).Inc()
			if !rec.first.IsZero() {
				m.firstByte.Observe(rec.first.Sub(start).Seconds())
			}
			if n.access != nil {
				n.access.log(r, status, rec.bytes, start)
			}
			ctx := r.Context()
			if !completed {
				m.aborted.Inc()
				n.log.LogAttrs(ctx, slog.LevelWarn, "response aborted mid-body: its content could not be fetched",
					slog.String("method", r.Method), slog.String("path", clip(r.URL.EscapedPath(), maxLoggedPath)),
					slog.Int("status", status), slog.Int64("bytes", rec.bytes), slog.String("remote_addr", r.RemoteAddr))
			} else if n.log.Enabled(ctx, slog.LevelDebug) {
				n.log.LogAttrs(ctx, slog.LevelDebug, "http request",
					slog.String("method", r.Method), slog.String("path", clip(r.URL.EscapedPath(), maxLoggedPath)),
					slog.String("range", clip(r.Header.Get("Range"), maxLoggedPath)),
					slog.Int("status", status), slog.Int64("bytes", rec.bytes),
					slog.Duration("duration", time.Since(start)), slog.String("remote_addr", r.RemoteAddr))
			}
		}()
		h.ServeHTTP(rec, r)
		completed = true
	})
}

// maxLoggedPath bounds what a log record quotes of a request.
const maxLoggedPath = 512

// clip cuts s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// recorder notes a response's status, body bytes and first byte's time,
// and counts the bytes in the metrics as they are written. It
// keeps the underlying writer's ReadFrom (sendfile) and, through Unwrap,
// everything http.ResponseController reaches.
type recorder struct {
	http.ResponseWriter
	sent   prometheus.Counter // counts body bytes as they go
	client *clientConn        // the connection's flow, if it has one
	status int
	bytes  int64
	first  time.Time
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// begin marks the start of the body; the first byte leaves now.
func (w *recorder) begin() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.first.IsZero() {
		w.first = time.Now()
		if w.client != nil {
			w.client.started()
		}
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.begin()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	w.sent.Add(float64(n))
	return n, err
}

func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	w.begin()
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.bytes += n
	w.sent.Add(float64(n))
	return n, err
}

func (w *recorder) Flush() {
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
