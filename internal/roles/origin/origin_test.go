package origin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/node/nodetest"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// originConfig is an origin's configuration over dir on loopback ports.
func originConfig(t testing.TB, dir string) conf.Config {
	cfg := nodetest.Config(t, conf.RoleOrigin, peer.Key{})
	cfg.Origin.Root = dir
	return cfg
}

// startOrigin runs an origin over dir on loopback ports.
func startOrigin(t *testing.T, dir string) (*node.Node, peer.Key) {
	t.Helper()
	cfg := originConfig(t, dir)
	return nodetest.Start(t, cfg, Mount), cfg.Key
}

func TestOrigin_peerSide(t *testing.T) {
	dir := t.TempDir()
	data := peertest.RandomBytes(1<<20+3, 1)
	if err := os.MkdirAll(filepath.Join(dir, "v"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "v", "a.mp4"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "escape"))
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("hidden"), 0o644)

	o, key := startOrigin(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := peer.Dial(ctx, o.Addr("peer").String(), peer.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	h, desc, err := c.Open(ctx, "v/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	hashes, digest, err := object.Describe(context.Background(), bytes.NewReader(data), int64(len(data)), object.BlockSizeFor(int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digest || desc.Size != uint64(len(data)) || desc.ContentType != "video/mp4" {
		t.Fatalf("OBJECT %+v", desc)
	}
	// The peer side and the HTTP side agree on the entity tag.
	resp, err := http.Head("http://" + o.Addr("http").String() + "/v/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("ETag") != desc.ETag {
		t.Fatalf("HTTP ETag %s, peer %s", resp.Header.Get("ETag"), desc.ETag)
	}
	raw, err := c.Hashes(ctx, h, 0, uint32(len(hashes)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range hashes {
		if !bytes.Equal(raw[i*32:(i+1)*32], hashes[i][:]) {
			t.Fatalf("hash %d differs", i)
		}
	}
	dst := make([]byte, 1000)
	done := make(chan error, 1)
	c.Read(h, 500000, dst, func(err error) { done <- err })
	if err := <-done; err != nil || !bytes.Equal(dst, data[500000:501000]) {
		t.Fatalf("read: %v", err)
	}

	for _, tc := range []struct {
		path string
		code wire.Code
	}{
		{"missing", wire.CodeNotFound},
		{"escape", wire.CodeForbidden},
		{".hidden", wire.CodeForbidden},
		{"../etc/passwd", wire.CodeForbidden},
		{"v", wire.CodeForbidden},
		{"v/../v/a.mp4", wire.CodeForbidden},
		{"/etc/passwd", wire.CodeBadRequest},
	} {
		_, _, err := c.Open(ctx, tc.path)
		var pe *peer.Error
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("open %q: %v, want %v", tc.path, err, tc.code)
		}
	}

	// A file rewritten after it was opened is refused with CHANGED.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(dir, "v", "a.mp4"), bytes.Repeat([]byte{1}, len(data)+1), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Read(h, 0, dst, func(err error) { done <- err })
	if err := <-done; !errors.Is(err, &peer.Error{Code: wire.CodeChanged}) {
		t.Fatalf("read of a changed file: %v, want CHANGED", err)
	}
	// Opening it again describes the new version.
	_, desc2, err := c.Open(ctx, "v/a.mp4")
	if err != nil || desc2.Digest == desc.Digest || desc2.Size != uint64(len(data)+1) {
		t.Fatalf("reopen: %v %+v", err, desc2)
	}
}

func TestOrigin_refusesWithoutRoot(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	for _, root := range []string{"", filepath.Join(t.TempDir(), "missing"), f} {
		n, err := node.New(originConfig(t, root), node.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := Mount(n); err == nil {
			t.Errorf("Mount with root %q succeeded", root)
		}
		n.Close()
	}
}

// A file is hashed once for all the opens that want it at the same time;
// when the first of them gives up, the hashing goes on for the others.
func TestOrigin_cancelledOpenDoesNotSpoilOthers(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(512 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	h := &peerHandler{root: root, log: slog.New(slog.DiscardHandler), descs: newDescCache(64<<20, slog.New(slog.DiscardHandler))}

	ctx1, cancel1 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.Open(ctx1, "big.bin")
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	done2 := make(chan error, 1)
	go func() {
		o, err := h.Open(context.Background(), "big.bin")
		if o != nil {
			o.Close()
		}
		done2 <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel1()
	t.Logf("first opener (cancelled): %v", <-errc)
	if err := <-done2; err != nil {
		t.Errorf("second opener, whose context is alive, failed: %v", err)
	}
}
