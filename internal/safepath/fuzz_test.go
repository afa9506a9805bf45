package safepath

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzFromURL checks the properties every accepted path must have. Seeds are
// in testdata/fuzz/FuzzFromURL (one per hostile form in safepath_test.go and
// some ordinary paths).
func FuzzFromURL(f *testing.F) {
	for _, tc := range hostile {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, dir, err := FromURL(p)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("FromURL(%q): error %v is not an *Error", p, err)
			}
			if e.Status() != 400 && e.Status() != 403 && e.Status() != 404 {
				t.Fatalf("FromURL(%q): status %d", p, e.Status())
			}
			if rel != "" || dir {
				t.Fatalf("FromURL(%q): %q, %v returned with an error", p, rel, dir)
			}
			return
		}
		if rel == "" {
			if p != "/" || !dir {
				t.Fatalf("FromURL(%q) = root, want only for %q", p, "/")
			}
			return
		}
		checkAccepted(t, p, rel)
		if err := Check(rel); err != nil {
			t.Fatalf("FromURL(%q) = %q, but Check refuses it: %v", p, rel, err)
		}
		// Re-encoding the result and parsing it again gives it back.
		segs := strings.Split(rel, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		again := "/" + strings.Join(segs, "/")
		if dir {
			again += "/"
		}
		if rel2, dir2, err := FromURL(again); err != nil || rel2 != rel || dir2 != dir {
			t.Fatalf("FromURL(%q) = %q, %v; re-encoded %q gives %q, %v, %v", p, rel, dir, again, rel2, dir2, err)
		}
	})
}

// checkAccepted asserts what must hold of every accepted relative path.
func checkAccepted(t *testing.T, p, rel string) {
	t.Helper()
	switch {
	case strings.HasPrefix(rel, "/"):
		t.Fatalf("FromURL(%q) = %q: starts with a slash", p, rel)
	case strings.HasSuffix(rel, "/"):
		t.Fatalf("FromURL(%q) = %q: ends with a slash", p, rel)
	case strings.ContainsAny(rel, "\\\x00:"):
		t.Fatalf("FromURL(%q) = %q: contains a backslash, NUL or colon", p, rel)
	case !filepath.IsLocal(rel):
		t.Fatalf("FromURL(%q) = %q: not local", p, rel)
	}
	for _, seg := range strings.Split(rel, "/") {
		// ".." inside a name ("a..b") is an ordinary name; as a segment,
		// or as the start of one, it is never accepted.
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			t.Fatalf("FromURL(%q) = %q: segment %q", p, rel, seg)
		}
		for _, c := range []byte(seg) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("FromURL(%q) = %q: control byte %#x", p, rel, c)
			}
		}
	}
	const root = "/srv/content"
	joined := filepath.Join(root, filepath.FromSlash(rel))
	if !strings.HasPrefix(joined, root+string(filepath.Separator)) {
		t.Fatalf("FromURL(%q) = %q: joined under %s gives %s", p, rel, root, joined)
	}
	if joined != root+string(filepath.Separator)+filepath.FromSlash(rel) {
		t.Fatalf("FromURL(%q) = %q: Join changed it to %s", p, rel, joined)
	}
}
