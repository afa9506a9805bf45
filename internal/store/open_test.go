package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeBlock lays out a block file by hand, as a crashed store leaves it,
// with the given modification time.
func writeBlock(t *testing.T, root string, d Digest, idx uint32, data []byte, mtime time.Time) {
	t.Helper()
	name := blockPath(root, &d, idx)
	writeFile(t, name, string(data))
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_reopen(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, 1<<20)
	a, b := dig("a"), dig("b")
	for idx := range uint32(5) {
		mustPut(t, s, a, idx, blockData(a, idx, 4096))
	}
	mustPut(t, s, a, 5, blockData(a, 5, 10)) // short last block
	mustPut(t, s, b, 3, blockData(b, 3, 700))
	before := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDir(t, dir, 1<<20)
	st := s.Stats()
	if st.Bytes != before.Bytes || st.Blocks != before.Blocks || st.Objects != before.Objects {
		t.Errorf("after reopening: Stats = %+v, before %+v", st, before)
	}
	for idx := range uint32(5) {
		checkGet(t, s, a, idx, blockData(a, idx, 4096))
	}
	checkGet(t, s, a, 5, blockData(a, 5, 10))
	checkGet(t, s, b, 3, blockData(b, 3, 700))
	if _, err := os.Stat(filepath.Join(dir, lruFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open kept the lru file: %v", err)
	}
	checkConsistent(t, s)
}

// TestOpen_lruOrder checks that the eviction order survives a restart: from
// the lru file after a Close, from file times after a crash.
func TestOpen_lruOrder(t *testing.T) {
	tests := []struct {
		name   string
		script string // on a store with room for 300 bytes, before restarting
		crash  bool   // restart without Close
		want   string // cached after "put d 0" on the restarted store
	}{
		{
			name:   "clean restart keeps the order of use",
			script: "put a 0; put b 0; put c 0; get a 0",
			want:   "a0 c0 d0",
		},
		{
			name:   "clean restart, gets only",
			script: "put a 0; put b 0; put c 0; get c 0; get b 0; get a 0",
			want:   "a0 b0 d0",
		},
		{
			name:   "crash orders by write time",
			script: "put a 0; put b 0; put c 0; get a 0",
			crash:  true,
			want:   "b0 c0 d0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openDir(t, dir, 300)
			runScript(t, s, tt.script)
			if tt.crash {
				// Spread the write times, which a fast file system may
				// not have told apart.
				base := time.Now().Add(-time.Hour)
				for i, name := range []string{"a", "b", "c"} {
					d := dig(name)
					mt := base.Add(time.Duration(i) * time.Minute)
					if err := os.Chtimes(blockPath(dir, &d, 0), mt, mt); err != nil {
						t.Fatal(err)
					}
				}
				s.lock.Close() // what dying does; no lru file is written
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openDir(t, dir, 300)
			runScript(t, s, "put d 0")
			if got := cachedBlocks(s); got != tt.want {
				t.Errorf("cached %q, want %q", got, tt.want)
			}
		})
	}
}

// Objects the lru file does not list were written after it, so they count
// as more recent than those it lists.
func TestOpen_lruFileAndNewObjects(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, 1000)
	runScript(t, s, "put a 0; put b 0; get a 0") // order: b, a
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	c := dig("c")
	writeBlock(t, dir, c, 0, blockData(c, 0, 100), old) // old, but not listed
	s = openDir(t, dir, 300)
	runScript(t, s, "put d 0")
	if got := cachedBlocks(s); got != "a0 c0 d0" {
		t.Errorf("cached %q, want a0 c0 d0", got)
	}
}

func TestOpen_lruFileMalformed(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"no header", "00\n"},
		{"bad line", lruHeader + "\nxyz\n"},
		{"upper-case hex", lruHeader + "\n" + strings.Repeat("AB", 32) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			base := time.Now().Add(-time.Hour)
			for i, name := range []string{"a", "b", "c"} {
				d := dig(name)
				writeBlock(t, dir, d, 0, blockData(d, 0, 100), base.Add(time.Duration(i)*time.Minute))
			}
			writeFile(t, filepath.Join(dir, lruFileName), tt.content)
			s := openDir(t, dir, 300)
			runScript(t, s, "put d 0")
			if got := cachedBlocks(s); got != "b0 c0 d0" {
				t.Errorf("cached %q, want b0 c0 d0 (file times)", got)
			}
			if _, err := os.Stat(filepath.Join(dir, lruFileName)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("malformed lru file kept: %v", err)
			}
		})
	}
}

// TestOpen_cleanup lays out files by hand and checks which Open indexes,
// deletes or leaves alone.
func TestOpen_cleanup(t *testing.T) {
	a := dig("a")
	aDir := objectDir("", &a)[1:] // objects/xx/<hex>
	hexA := filepath.Base(aDir)
	tests := []struct {
		name    string
		path    string // under Dir
		content string
		want    string // "block", "deleted" or "kept"
	}{
		{"block", aDir + "/0.blk", "zero", "block"},
		{"large index", aDir + "/16777215.blk", "last", "block"},
		{"temporary file", aDir + "/1.blk.123456.tmp", "partial", "deleted"},
		{"empty block file", aDir + "/2.blk", "", "deleted"},
		{"lru temporary file", "lru.42.tmp", "x", "deleted"},
		{"leading zero", aDir + "/03.blk", "x", "kept"},
		{"index too large", aDir + "/16777216.blk", "x", "kept"},
		{"negative index", aDir + "/-1.blk", "x", "kept"},
		{"other file in an object directory", aDir + "/notes.txt", "x", "kept"},
		{"temporary-looking but not ours", aDir + "/1.blk.abc.tmp", "x", "kept"},
		{"upper-case object directory", "objects/" + strings.ToUpper(hexA[:2]) + "/" + strings.ToUpper(hexA) + "/0.blk", "x", "kept"},
		{"object in the wrong prefix", "objects/00/" + hexA + "/0.blk", "x", "kept"},
		{"short object name", "objects/" + hexA[:2] + "/" + hexA[:10] + "/0.blk", "x", "kept"},
		{"file in objects", "objects/README", "x", "kept"},
		{"file in Dir", "notes.txt", "x", "kept"},
		{"other lru-looking file", "lru.x.tmp", "x", "kept"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(tt.path)), tt.content)
	}
	s := openDir(t, dir, 1<<20)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tt.path)))
			exists := err == nil
			switch tt.want {
			case "block":
				idx, _ := parseBlockName(filepath.Base(tt.path))
				if !exists || !s.Has(a, idx) {
					t.Errorf("not indexed (file exists: %v)", exists)
				}
			case "deleted":
				if exists {
					t.Errorf("not deleted")
				}
			case "kept":
				if !exists {
					t.Errorf("deleted")
				}
			}
		})
	}
	if st := s.Stats(); st.Blocks != 2 || st.Bytes != 8 || st.Objects != 1 {
		t.Errorf("Stats = %+v, want the two blocks", st)
	}
	// Evicting the object keeps what Open kept.
	s.RemoveObject(a)
	for _, name := range []string{"03.blk", "notes.txt", "16777216.blk"} {
		if _, err := os.Stat(filepath.Join(dir, aDir, name)); err != nil {
			t.Errorf("RemoveObject deleted %s: %v", name, err)
		}
	}
}

// Open deletes the directories of objects that have no block left.
func TestOpen_emptyObjectDirectory(t *testing.T) {
	dir := t.TempDir()
	a := dig("a")
	writeFile(t, filepath.Join(objectDir(dir, &a), "0.blk.1.tmp"), "partial")
	s := openDir(t, dir, 1<<20)
	if _, err := os.Stat(objectDir(dir, &a)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty object directory kept: %v", err)
	}
	if st := s.Stats(); st.Objects != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOpen_overBudget(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i := range 10 {
		d := dig(fmt.Sprint(i))
		writeBlock(t, dir, d, 0, blockData(d, 0, 1000), base.Add(time.Duration(i)*time.Minute))
		writeBlock(t, dir, d, 1, blockData(d, 1, 500), base.Add(time.Duration(i)*time.Minute))
	}
	s := openDir(t, dir, 4000)
	st := s.Stats()
	if st.Bytes != 3000 || st.Objects != 2 || st.Evictions != 8 {
		t.Errorf("Stats = %+v, want the 2 newest objects and 8 evictions", st)
	}
	for i := 8; i < 10; i++ {
		d := dig(fmt.Sprint(i))
		checkGet(t, s, d, 1, blockData(d, 1, 500))
	}
	if u := diskUsage(t, dir); u != 3000 {
		t.Errorf("disk holds %d bytes, want 3000", u)
	}
	checkConsistent(t, s)
}

func TestOpen_locked(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock on " + runtime.GOOS)
	}
	dir := t.TempDir()
	s := openDir(t, dir, 1000)
	if s2, err := Open(Config{Dir: dir}); err == nil {
		s2.Close()
		t.Fatal("second Open of a directory in use succeeded")
	} else {
		t.Logf("second Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOpen_config(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		wantMax int64
	}{
		{name: "no Dir", cfg: Config{}, wantErr: true},
		{name: "negative MaxBytes", cfg: Config{Dir: t.TempDir(), MaxBytes: -1}, wantErr: true},
		{name: "Dir is a file", cfg: Config{Dir: file}, wantErr: true},
		{name: "default budget", cfg: Config{Dir: t.TempDir()}, wantMax: 1 << 30},
		{name: "Dir created", cfg: Config{Dir: filepath.Join(t.TempDir(), "a", "b"), MaxBytes: 5}, wantMax: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.cfg)
			if tt.wantErr {
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.HasPrefix(err.Error(), "store: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.max != tt.wantMax {
				t.Errorf("budget %d, want %d", s.max, tt.wantMax)
			}
		})
	}
}
