package origin

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
)

// Run ends on a listener error while ctx is alive: index(ctx) is not told
// to stop and wg.Wait waits for the whole content directory to be hashed.
// And when ctx does end, the hashing already started goes on after Run
// returned.
func TestOrigin_indexStopsWithRun(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.bin", "b.bin"} {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(8 << 30); err != nil { // sparse
			t.Fatal(err)
		}
		f.Close()
	}
	o, err := node.New(originConfig(t, dir), node.Options{Logger: aqtest.Logger(t, slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	if err := Mount(o); err != nil {
		t.Fatal(err)
	}
	// A second HTTP server whose listener the test holds.
	ln, err := o.Listen("http2", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.ServeHTTP(ln, http.NotFoundHandler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	ln.Close() // HTTP Serve fails: Run should shut down
	start := time.Now()
	select {
	case err := <-done:
		t.Logf("Run returned after %v: %v", time.Since(start), err)
	case <-time.After(3 * time.Second):
		t.Errorf("Run still running %v after its HTTP server failed (indexing)", time.Since(start))
		cancel()
		<-done
		t.Logf("returned once ctx was cancelled, %v after the failure", time.Since(start))
	}
	cancel()
	// Is a hashing goroutine still running after Run returned?
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	if strings.Contains(string(buf[:n]), "object.Describe") {
		t.Errorf("a hashing goroutine outlives Run")
	}
}
