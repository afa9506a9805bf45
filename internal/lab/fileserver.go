package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// ServeFiles serves the files under root over HTTP (Range requests
// included) on addr until ctx is done. It exists only to validate the
// testbed itself: experiments serve content with "aqueduct origin".
func ServeFiles(ctx context.Context, root, addr string, log *slog.Logger) error {
	log = discardLogger(log)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("lab: fileserver: %w", err)
	}
	srv := &http.Server{
		Handler:           http.FileServer(http.Dir(root)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	log.Info("fileserver: listening (testbed validation only)", "addr", ln.Addr().String(), "root", root)
	fmt.Fprintf(os.Stderr, "fileserver listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("lab: fileserver: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("lab: fileserver: %w", err)
	}
	<-errc
	return nil
}
