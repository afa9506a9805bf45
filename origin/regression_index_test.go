package origin

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
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
	key, _ := peer.GenerateKey()
	o, err := New(Config{Root: dir, HTTPAddr: "127.0.0.1:0", PeerAddr: "127.0.0.1:0", Peer: peer.Config{Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	o.httpLn.Close() // HTTP Serve fails: Run should shut down
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
