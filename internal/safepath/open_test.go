package safepath

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// newRoot builds a content root with files, directories and symbolic links
// pointing inside and outside it, and returns it opened with os.OpenRoot.
func newRoot(t *testing.T) *os.Root {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	outside := filepath.Join(base, "secret.txt")
	mustWrite(t, outside, "outside the root")
	mustWrite(t, filepath.Join(dir, "a.mp4"), "video")
	mustWrite(t, filepath.Join(dir, "sub", "b.ts"), "segment")
	mustWrite(t, filepath.Join(dir, ".git", "config"), "[core]")
	mustWrite(t, filepath.Join(dir, ".env"), "SECRET=1")
	mustWrite(t, filepath.Join(dir, "noperm.mp4"), "x")
	if err := os.Chmod(filepath.Join(dir, "noperm.mp4"), 0); err != nil {
		t.Fatal(err)
	}
	links := []struct{ target, name string }{
		{"/etc", "etc"},                             // absolute, outside
		{"/etc/passwd", "passwd"},                   // absolute, outside
		{outside, "secret"},                         // absolute, outside
		{"../secret.txt", "rel-secret"},             // relative, outside
		{"../../../../../../../..", "up"},           // relative, far outside
		{"a.mp4", "in.mp4"},                         // relative, inside: allowed
		{"../a.mp4", "sub/in-parent.mp4"},           // relative via "..", inside: allowed
		{"sub", "subdir-link"},                      // relative directory, inside
		{filepath.Join(dir, "a.mp4"), "abs-in.mp4"}, // absolute, inside: refused by os.Root
		{"loop", "loop"},
		{"missing.mp4", "dangling.mp4"},
	}
	for _, l := range links {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	if err := mkfifo(filepath.Join(dir, "fifo.mp4")); err != nil && err != errNoFIFO {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

func mustWrite(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	root := newRoot(t)
	tests := []struct {
		rel    string
		status int    // 0: opened
		body   string // when opened
		is     error  // errors.Is must hold, if set
	}{
		{rel: "a.mp4", body: "video"},
		{rel: "sub/b.ts", body: "segment"},
		{rel: "in.mp4", body: "video"},
		{rel: "sub/in-parent.mp4", body: "video"},
		{rel: "subdir-link/b.ts", body: "segment"},
		{rel: "etc/passwd", status: 403},
		{rel: "passwd", status: 403},
		{rel: "secret", status: 403},
		{rel: "rel-secret", status: 403},
		{rel: "up/etc/passwd", status: 403},
		{rel: "abs-in.mp4", status: 403},
		{rel: "loop", status: 403},
		{rel: "dangling.mp4", status: 404, is: fs.ErrNotExist},
		{rel: "missing.mp4", status: 404, is: fs.ErrNotExist},
		{rel: "a.mp4/x", status: 404, is: fs.ErrNotExist},
		{rel: "sub", status: 403, is: ErrIsDir},
		{rel: "subdir-link", status: 403, is: ErrIsDir},
		{rel: "fifo.mp4", status: 403},
		{rel: ".env", status: 403},
		{rel: ".git/config", status: 403},
		{rel: "../etc/passwd", status: 403},
		{rel: "/etc/passwd", status: 400},
		{rel: "", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			if tc.rel == "fifo.mp4" && !haveFIFO {
				t.Skip("no FIFOs on this system")
			}
			done := make(chan struct{})
			var (
				f   *os.File
				fi  fs.FileInfo
				err error
			)
			go func() { defer close(done); f, fi, err = Open(root, tc.rel) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Open(%q) blocked", tc.rel)
			}
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("Open(%q): %v", tc.rel, err)
				}
				defer f.Close()
				b, err := io.ReadAll(f)
				if err != nil || string(b) != tc.body || fi.Size() != int64(len(tc.body)) {
					t.Fatalf("Open(%q): read %q, %v, size %d; want %q", tc.rel, b, err, fi.Size(), tc.body)
				}
				return
			}
			if err == nil {
				f.Close()
				t.Fatalf("Open(%q) succeeded, want status %d", tc.rel, tc.status)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status() != tc.status {
				t.Fatalf("Open(%q) = %v, want *Error with status %d", tc.rel, err, tc.status)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Open(%q) = %v, want errors.Is %v", tc.rel, err, tc.is)
			}
		})
	}
}

func TestOpen_permission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files regardless of mode")
	}
	root := newRoot(t)
	_, _, err := Open(root, "noperm.mp4")
	if Status(err) != 403 || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Open(noperm.mp4) = %v, want 403 wrapping fs.ErrPermission", err)
	}
}

func TestOpenDir(t *testing.T) {
	root := newRoot(t)
	tests := []struct {
		rel    string
		status int
		is     error
	}{
		{rel: ""},
		{rel: "sub"},
		{rel: "subdir-link"},
		{rel: "etc", status: 403},
		{rel: "up", status: 403},
		{rel: "a.mp4", status: 404, is: ErrNotDir},
		{rel: "fifo.mp4", status: 404, is: ErrNotDir},
		{rel: "missing", status: 404, is: fs.ErrNotExist},
		{rel: ".git", status: 403},
		{rel: "sub/", status: 400},
	}
	for _, tc := range tests {
		if tc.rel == "fifo.mp4" && !haveFIFO {
			continue
		}
		f, fi, err := OpenDir(root, tc.rel)
		if tc.status == 0 {
			if err != nil || !fi.IsDir() {
				t.Errorf("OpenDir(%q) = %v", tc.rel, err)
				continue
			}
			f.Close()
			continue
		}
		if err == nil {
			f.Close()
			t.Errorf("OpenDir(%q) succeeded, want %d", tc.rel, tc.status)
			continue
		}
		if Status(err) != tc.status || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("OpenDir(%q) = %v (status %d), want %d / %v", tc.rel, err, Status(err), tc.status, tc.is)
		}
	}
}
