package store

import (
	"bytes"
	"crypto/sha256"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logWriter sends log lines to t.Log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logBuffer collects log output for tests that check what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openStore opens a store in a new temporary directory, and closes it when
// the test ends.
func openStore(t testing.TB, maxBytes int64) *Store {
	t.Helper()
	return openDir(t, t.TempDir(), maxBytes)
}

func openDir(t testing.TB, dir string, maxBytes int64) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, MaxBytes: maxBytes, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dig names a test object.
func dig(name string) Digest { return sha256.Sum256([]byte(name)) }

// blockData is the content of block idx of object d, n bytes long: every
// block of every object differs, so a Get that returns the wrong file shows.
func blockData(d Digest, idx uint32, n int) []byte {
	seed := sha256.Sum256(append(d[:], byte(idx), byte(idx>>8), byte(idx>>16), byte(idx>>24)))
	b := make([]byte, n)
	for i := range b {
		b[i] = seed[i%len(seed)] ^ byte(i/len(seed))
	}
	return b
}

func mustPut(t testing.TB, s *Store, d Digest, idx uint32, data []byte) {
	t.Helper()
	if err := s.Put(d, idx, data); err != nil {
		t.Fatalf("Put(%s): %v", blockName(&d, idx), err)
	}
}

// checkGet fails unless block idx of d is cached with content want.
func checkGet(t testing.TB, s *Store, d Digest, idx uint32, want []byte) {
	t.Helper()
	buf := make([]byte, len(want)+17)
	n, ok := s.Get(d, idx, buf)
	if !ok {
		t.Fatalf("Get(%s) missed", blockName(&d, idx))
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("Get(%s) = %d bytes, not the %d put", blockName(&d, idx), n, len(want))
	}
}

// diskBlocks walks the objects directory of a store rooted at root and
// returns the length of every block file in the layout, by path, and the
// temporary files found.
func diskBlocks(t testing.TB, root string) (blocks map[string]int64, temps []string) {
	t.Helper()
	blocks = make(map[string]int64)
	err := filepath.WalkDir(filepath.Join(root, objectsDirName), func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		objDir := filepath.Dir(path)
		d, ok := parseDigestHex(filepath.Base(objDir))
		if !ok || filepath.Dir(objDir) != filepath.Join(root, objectsDirName, filepath.Base(objDir)[:2]) {
			return nil
		}
		if isTempName(e.Name()) {
			temps = append(temps, path)
			return nil
		}
		if idx, ok := parseBlockName(e.Name()); ok {
			info, err := e.Info()
			if err != nil {
				return err
			}
			blocks[blockPath(root, &d, idx)] = info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return blocks, temps
}

// diskUsage is the total length of the block files under root.
func diskUsage(t testing.TB, root string) int64 {
	t.Helper()
	blocks, _ := diskBlocks(t, root)
	var sum int64
	for _, n := range blocks {
		sum += n
	}
	return sum
}

// checkConsistent checks, between calls, that the index agrees with itself
// and with the disk: every indexed block has a file of its length, every
// block file is indexed (or counted as unreclaimed), no temporary file is
// left, and the budget holds.
func checkConsistent(t testing.TB, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.reserved != 0 || s.freeing != 0 {
		t.Errorf("idle store has reserved %d, freeing %d", s.reserved, s.freeing)
	}
	if u := s.used(); u > s.max {
		t.Errorf("used %d > max %d", u, s.max)
	}
	listed := make(map[*object]bool)
	var prev *object
	for o := s.head; o != nil; o = o.next {
		if o.prev != prev {
			t.Fatalf("LRU list: broken prev link")
		}
		if listed[o] {
			t.Fatalf("LRU list: cycle")
		}
		listed[o] = true
		prev = o
	}
	if s.tail != prev {
		t.Errorf("LRU list: tail is not the last element")
	}
	if len(listed) != len(s.objects) {
		t.Errorf("LRU list has %d objects, index %d", len(listed), len(s.objects))
	}
	want := make(map[string]int64)
	var live, nblocks int64
	for d, o := range s.objects {
		name := blockName(&d, 0)
		switch {
		case o.digest != d:
			t.Errorf("object %s filed under the wrong digest", name)
		case o.dying || o.writers != 0:
			t.Errorf("object %s: dying %v, writers %d in an idle store", name, o.dying, o.writers)
		case !listed[o]:
			t.Errorf("object %s not in the LRU list", name)
		case o.blocks == 0:
			t.Errorf("object %s has no blocks", name)
		}
		var sum int64
		var count uint32
		o.each(func(idx uint32) {
			n := int64(o.length(idx))
			if n <= 0 {
				t.Errorf("block %s has length %d", blockName(&d, idx), n)
			}
			sum += n
			count++
			want[blockPath(s.root, &d, idx)] = n
		})
		if sum != o.bytes || count != o.blocks {
			t.Errorf("object %s: bitset holds %d blocks, %d bytes; counters say %d, %d", name, count, sum, o.blocks, o.bytes)
		}
		live += o.bytes
		nblocks += int64(o.blocks)
	}
	if live != s.live || nblocks != s.nblocks || int64(len(s.objects)) != s.nobjects {
		t.Errorf("totals: index holds %d bytes, %d blocks, %d objects; counters say %d, %d, %d",
			live, nblocks, len(s.objects), s.live, s.nblocks, s.nobjects)
	}

	got, temps := diskBlocks(t, s.root)
	for _, tmp := range temps {
		t.Errorf("temporary file left: %s", tmp)
	}
	var extra int64
	for path, n := range got {
		w, ok := want[path]
		switch {
		case !ok:
			extra += n
		case w != n:
			t.Errorf("%s: file has %d bytes, index %d", path, n, w)
		}
	}
	for path := range want {
		if _, ok := got[path]; !ok {
			t.Errorf("%s: indexed but missing", path)
		}
	}
	if extra > s.unreclaimed {
		t.Errorf("%d bytes of block files are not indexed (unreclaimed: %d)", extra, s.unreclaimed)
	}
}
