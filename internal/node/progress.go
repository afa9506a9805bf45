package node

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/tcpinfo"
)

// connKey holds a request's connection in its context (http.Server's
// ConnContext), for the progress watch.
type connKey struct{}

func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// progress cuts off a client that takes nothing for d, and only such a
// client: a player reading slowly but steadily is never cut, however long
// one write of the handler takes at its pace.
//
// On Linux the connection's write deadline is d ahead and a watch moves it
// on while the client makes progress: every min(d/4, 1 s) it reads TCP_INFO
// and, if the client acknowledged more bytes since the last look, or holds
// none that it has not acknowledged (the server is the one that is slow,
// fetching upstream), sets the deadline d from now. A client that stops
// reading stops acknowledging; its writes fail d later and the connection
// closes. Where TCP_INFO cannot be read, each write gets d to finish.
func progress(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		if c == nil {
			h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, d: d}, r)
			return
		}
		ti, err := tcpinfo.Get(c)
		if err != nil {
			h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, d: d}, r)
			return
		}
		rc.SetWriteDeadline(time.Now().Add(d))
		stop, done := make(chan struct{}), make(chan struct{})
		go watchProgress(c, rc, d, ti.BytesAcked, stop, done)
		defer func() {
			close(stop)
			<-done
			rc.SetWriteDeadline(time.Time{}) // the next request on the connection sets its own
		}()
		h.ServeHTTP(w, r)
	})
}

// watchProgress moves rc's write deadline on while the client acknowledges
// bytes or has everything; see progress.
func watchProgress(c net.Conn, rc *http.ResponseController, d time.Duration, acked uint64, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(min(d/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ti, err := tcpinfo.Get(c)
			if err != nil {
				return // the connection is gone
			}
			if ti.BytesAcked != acked || !ti.Outstanding() {
				acked = ti.BytesAcked
				rc.SetWriteDeadline(time.Now().Add(d))
			}
		}
	}
}

// deadlineWriter gives each write of a response d to finish: progress where
// the kernel's view of the connection is not available.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
