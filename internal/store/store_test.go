package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestPutGet_roundTrip(t *testing.T) {
	const B = 4096
	tests := []struct {
		name    string
		blocks  []int // lengths of blocks 0, 1, …; 0 leaves the index out
		reverse bool  // put the last block first
	}{
		{name: "one full block", blocks: []int{B}},
		{name: "one short block", blocks: []int{100}},
		{name: "one byte", blocks: []int{1}},
		{name: "full blocks and a short last", blocks: []int{B, B, B, 1000}},
		{name: "short last block first", blocks: []int{B, B, B, B, B, 7}, reverse: true},
		{name: "beyond one bitset word", blocks: append(slices.Repeat([]int{B}, 130), 5), reverse: true},
		{name: "sparse", blocks: []int{B, 0, 0, B, 0, 17}},
		{name: "uneven lengths", blocks: []int{300, B, 12, B, 99}},
		{name: "uneven lengths reversed", blocks: []int{300, B, 12, B, 99}, reverse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, 1<<20)
			d := dig(tt.name)
			var total, count int64
			order := make([]int, len(tt.blocks))
			for i := range order {
				order[i] = i
			}
			if tt.reverse {
				slices.Reverse(order)
			}
			for _, i := range order {
				if n := tt.blocks[i]; n > 0 {
					mustPut(t, s, d, uint32(i), blockData(d, uint32(i), n))
					total += int64(n)
					count++
				}
			}
			for i, n := range tt.blocks {
				if n == 0 {
					if s.Has(d, uint32(i)) {
						t.Errorf("Has(%d) = true for a block never put", i)
					}
					continue
				}
				if !s.Has(d, uint32(i)) {
					t.Errorf("Has(%d) = false", i)
				}
				checkGet(t, s, d, uint32(i), blockData(d, uint32(i), n))
			}
			st := s.Stats()
			if st.Bytes != total || st.Blocks != count || st.Objects != 1 {
				t.Errorf("Stats = %+v, want %d bytes in %d blocks of 1 object", st, total, count)
			}
			if st.Hits != count {
				t.Errorf("Hits = %d, want %d", st.Hits, count)
			}
			checkConsistent(t, s)
		})
	}
}

func TestGet_miss(t *testing.T) {
	s := openStore(t, 1<<20)
	a := dig("a")
	data := blockData(a, 1, 1000)
	mustPut(t, s, a, 1, data)
	buf := make([]byte, 1000)
	tests := []struct {
		name string
		d    Digest
		idx  uint32
	}{
		{"unknown object", dig("b"), 1},
		{"unknown block", a, 0},
		{"index past the bitset", a, 1 << 20},
		{"largest index", a, ^uint32(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Stats().Misses
			if n, ok := s.Get(tt.d, tt.idx, buf); ok || n != 0 {
				t.Errorf("Get = %d, %v; want a miss", n, ok)
			}
			if s.Has(tt.d, tt.idx) {
				t.Errorf("Has = true")
			}
			if got := s.Stats().Misses; got != before+1 {
				t.Errorf("Misses = %d, want %d", got, before+1)
			}
		})
	}
	checkGet(t, s, a, 1, data)
}

// A Get into a buffer too short for the block is a read error: a miss that
// is logged and drops the block.
func TestGet_shortBuffer(t *testing.T) {
	var logs logBuffer
	s, err := Open(Config{Dir: t.TempDir(), MaxBytes: 1 << 20, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := dig("a")
	mustPut(t, s, a, 0, blockData(a, 0, 1000))
	if n, ok := s.Get(a, 0, make([]byte, 999)); ok || n != 0 {
		t.Fatalf("Get into 999 bytes = %d, %v; want a miss", n, ok)
	}
	if s.Has(a, 0) {
		t.Errorf("block still cached after a failed read")
	}
	if !strings.Contains(logs.String(), "read failed") {
		t.Errorf("read error not logged; log: %q", logs.String())
	}
	checkConsistent(t, s)
}

// A block file damaged behind the store's back is dropped on the first Get.
func TestGet_readError(t *testing.T) {
	tests := []struct {
		name   string
		damage func(path string) error
	}{
		{"truncated", func(p string) error { return os.Truncate(p, 10) }},
		{"deleted", os.Remove},
		{"replaced by a directory", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, 1<<20)
			a := dig("a")
			mustPut(t, s, a, 0, blockData(a, 0, 1000))
			mustPut(t, s, a, 1, blockData(a, 1, 1000))
			if err := tt.damage(blockPath(s.root, &a, 0)); err != nil {
				t.Fatal(err)
			}
			if n, ok := s.Get(a, 0, make([]byte, 1000)); ok {
				t.Fatalf("Get of a damaged block = %d, true", n)
			}
			if s.Has(a, 0) {
				t.Errorf("damaged block still indexed")
			}
			if st := s.Stats(); st.Bytes != 1000 || st.Blocks != 1 || st.Misses != 1 {
				t.Errorf("Stats = %+v, want the other block only and 1 miss", st)
			}
			checkGet(t, s, a, 1, blockData(a, 1, 1000))
			checkConsistent(t, s)
		})
	}
}

// A Put of a block that is already cached writes nothing.
func TestPut_alreadyCached(t *testing.T) {
	s := openStore(t, 1<<20)
	a := dig("a")
	data := blockData(a, 0, 1000)
	mustPut(t, s, a, 0, data)
	path := blockPath(s.root, &a, 0)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, a, 0, data)
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("second Put rewrote the file")
	}
	if st := s.Stats(); st.Bytes != 1000 || st.Blocks != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestEviction runs scripts of calls on a store with room for three
// 100-byte blocks and checks which blocks remain.
//
// Script lines: "put a 0" (100 bytes), "put a 0 250" (250 bytes),
// "get a 0" (must hit), "has a 0", "remove a 0", "removeobject a".
func TestEviction_lru(t *testing.T) {
	tests := []struct {
		name      string
		script    string
		want      string // cached blocks, sorted: "a0 b0"
		evictions int64
	}{
		{
			name:      "least recently put goes first",
			script:    "put a 0; put b 0; put c 0; put d 0",
			want:      "b0 c0 d0",
			evictions: 1,
		},
		{
			name:      "get makes recent",
			script:    "put a 0; put b 0; put c 0; get a 0; put d 0",
			want:      "a0 c0 d0",
			evictions: 1,
		},
		{
			name:      "put of a cached block makes recent",
			script:    "put a 0; put b 0; put c 0; put a 0; put d 0",
			want:      "a0 c0 d0",
			evictions: 1,
		},
		{
			name:      "put of another block makes recent",
			script:    "put a 0; put b 0 50; put c 0 50; put a 1 50; put d 0",
			want:      "a0 a1 c0 d0",
			evictions: 1,
		},
		{
			name:      "has does not make recent",
			script:    "put a 0; put b 0; put c 0; has a 0; put d 0",
			want:      "b0 c0 d0",
			evictions: 1,
		},
		{
			name:      "whole objects go",
			script:    "put a 0; put a 1; put b 0; put c 0",
			want:      "b0 c0",
			evictions: 1,
		},
		{
			name:      "several objects for one block",
			script:    "put a 0; put b 0; put c 0; put d 0 250",
			want:      "d0",
			evictions: 3,
		},
		{
			name:      "only as many as needed",
			script:    "put a 0; put b 0; put c 0; put d 0 150",
			want:      "c0 d0",
			evictions: 2,
		},
		{
			name:      "the object being written stays",
			script:    "put a 0; put a 1; put b 0; put a 2",
			want:      "a0 a1 a2",
			evictions: 1,
		},
		{
			name:      "unless it alone is too big",
			script:    "put a 0; put a 1; put a 2; put a 3",
			want:      "a3",
			evictions: 1,
		},
		{
			name:      "a block as big as the budget",
			script:    "put a 0; put b 0; put c 0 300",
			want:      "c0",
			evictions: 2,
		},
		{
			name:      "remove makes room",
			script:    "put a 0; put b 0; put c 0; remove b 0; put d 0",
			want:      "a0 c0 d0",
			evictions: 0,
		},
		{
			name:      "removeobject makes room",
			script:    "put a 0 50; put a 1 50; put b 0; put c 0; removeobject a; put d 0",
			want:      "b0 c0 d0",
			evictions: 0,
		},
		{
			name:      "evicted object comes back",
			script:    "put a 0; put b 0; put c 0; put d 0; put a 0",
			want:      "a0 c0 d0",
			evictions: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, 300)
			runScript(t, s, tt.script)
			if got := cachedBlocks(s); got != tt.want {
				t.Errorf("cached %q, want %q", got, tt.want)
			}
			if st := s.Stats(); st.Evictions != tt.evictions {
				t.Errorf("Evictions = %d, want %d", st.Evictions, tt.evictions)
			}
			checkConsistent(t, s)
		})
	}
}

func runScript(t *testing.T, s *Store, script string) {
	t.Helper()
	for line := range strings.SplitSeq(script, ";") {
		f := strings.Fields(line)
		d := dig(f[1])
		var idx uint32
		if len(f) > 2 {
			v, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			idx = uint32(v)
		}
		size := 100
		if len(f) > 3 {
			size, _ = strconv.Atoi(f[3])
		}
		switch f[0] {
		case "put":
			mustPut(t, s, d, idx, blockData(d, idx, size))
		case "get":
			if _, ok := s.Get(d, idx, make([]byte, 300)); !ok {
				t.Fatalf("%q missed", line)
			}
		case "has":
			s.Has(d, idx)
		case "remove":
			s.Remove(d, idx)
		case "removeobject":
			s.RemoveObject(d)
		default:
			t.Fatalf("bad script line %q", line)
		}
		if u := diskUsage(t, s.root); u > s.max {
			t.Fatalf("after %q: %d bytes on disk, budget %d", line, u, s.max)
		}
	}
}

// cachedBlocks lists the cached blocks of the objects named a to z, as
// "a0 a1 b0".
func cachedBlocks(s *Store) string {
	var out []string
	for c := 'a'; c <= 'z'; c++ {
		d := dig(string(c))
		for idx := range uint32(8) {
			if s.Has(d, idx) {
				out = append(out, fmt.Sprintf("%c%d", c, idx))
			}
		}
	}
	return strings.Join(out, " ")
}

// TestBudget_random puts, gets and removes at random and checks after every
// call that neither the accounting nor the disk exceed the budget, and that
// what is cached reads back right.
func TestBudget_random(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		block    int
	}{
		{"tight", 4000, 1000},
		{"roomy", 50_000, 1000},
		{"budget below one object", 2500, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, tt.maxBytes)
			rng := rand.New(rand.NewPCG(1, 2))
			const objects, blocks = 20, 8
			length := func(obj int, idx uint32) int {
				if idx == blocks-1 {
					return 1 + obj*13%tt.block // a short last block
				}
				return tt.block
			}
			for i := range 3000 {
				obj := rng.IntN(objects)
				d := dig(strconv.Itoa(obj))
				idx := uint32(rng.IntN(blocks))
				switch op := rng.IntN(10); {
				case op < 5:
					mustPut(t, s, d, idx, blockData(d, idx, length(obj, idx)))
					if !s.Has(d, idx) {
						t.Fatalf("op %d: block not cached right after Put", i)
					}
				case op < 8:
					buf := make([]byte, tt.block)
					if n, ok := s.Get(d, idx, buf); ok {
						if want := blockData(d, idx, length(obj, idx)); string(buf[:n]) != string(want) {
							t.Fatalf("op %d: Get returned wrong content", i)
						}
					}
				case op < 9:
					s.Remove(d, idx)
				default:
					if rng.IntN(10) == 0 {
						s.RemoveObject(d)
					}
				}
				if st := s.Stats(); st.Bytes > tt.maxBytes {
					t.Fatalf("op %d: Stats.Bytes = %d > %d", i, st.Bytes, tt.maxBytes)
				}
				if i%100 == 0 {
					if u := diskUsage(t, s.root); u > tt.maxBytes {
						t.Fatalf("op %d: %d bytes on disk > %d", i, u, tt.maxBytes)
					}
					checkConsistent(t, s)
				}
			}
			checkConsistent(t, s)
			if st := s.Stats(); st.Evictions == 0 {
				t.Errorf("no evictions: the test does not test the budget")
			}
		})
	}
}

func TestRemove(t *testing.T) {
	s := openStore(t, 1<<20)
	a, b := dig("a"), dig("b")
	for idx := range uint32(3) {
		mustPut(t, s, a, idx, blockData(a, idx, 1000))
	}
	mustPut(t, s, b, 0, blockData(b, 0, 500))

	s.Remove(a, 1)
	s.Remove(a, 1)        // again: nothing
	s.Remove(a, 7)        // never cached
	s.Remove(dig("c"), 0) // unknown object
	if s.Has(a, 1) {
		t.Errorf("block still cached after Remove")
	}
	if _, err := os.Stat(blockPath(s.root, &a, 1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("block file still there: %v", err)
	}
	if st := s.Stats(); st.Bytes != 2500 || st.Blocks != 3 || st.Objects != 2 {
		t.Errorf("Stats = %+v", st)
	}
	checkConsistent(t, s)

	// Removing the last block removes the object and its directory.
	s.Remove(b, 0)
	if _, err := os.Stat(objectDir(s.root, &b)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty object directory still there: %v", err)
	}
	if st := s.Stats(); st.Objects != 1 {
		t.Errorf("Objects = %d, want 1", st.Objects)
	}

	// RemoveObject removes every block and the directory, and leaves
	// files the store does not know.
	keep := filepath.Join(objectDir(s.root, &a), "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.RemoveObject(a)
	s.RemoveObject(a)
	if s.Has(a, 0) || s.Has(a, 2) {
		t.Errorf("blocks still cached after RemoveObject")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("RemoveObject deleted a file it does not own: %v", err)
	}
	if st := s.Stats(); st.Bytes != 0 || st.Blocks != 0 || st.Objects != 0 || st.Evictions != 0 {
		t.Errorf("Stats = %+v, want empty and no evictions", st)
	}
	checkConsistent(t, s)

	// The object can be cached again.
	mustPut(t, s, a, 0, blockData(a, 0, 1000))
	checkGet(t, s, a, 0, blockData(a, 0, 1000))
	checkConsistent(t, s)
}

func TestPut_refused(t *testing.T) {
	s := openStore(t, 1000)
	a := dig("a")
	tests := []struct {
		name string
		idx  uint32
		n    int
		want error // nil: any error
	}{
		{"longer than the budget", 0, 1001, ErrTooLarge},
		{"index too large", maxBlocks, 10, ErrTooLarge},
		{"largest index", ^uint32(0), 10, ErrTooLarge},
		{"empty", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Put(a, tt.idx, make([]byte, tt.n))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Put = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	mustPut(t, s, a, maxBlocks-1, make([]byte, 1000)) // the largest index and length
	if st := s.Stats(); st.Blocks != 1 || st.WriteErrors != 0 {
		t.Errorf("Stats = %+v", st)
	}
	checkConsistent(t, s)
}

// TestPut_writeFailure makes writes fail in several ways and checks that
// Put returns the error, counts it, leaves no partial file and keeps the
// accounting exact, and that the store still works afterwards.
func TestPut_writeFailure(t *testing.T) {
	tests := []struct {
		name    string
		root    bool // runs as root too (root ignores permissions)
		setup   func(t *testing.T, s *Store, d Digest)
		wantErr error // also checked with errors.Is, if set
	}{
		{
			name: "a file where the object directory goes",
			root: true,
			setup: func(t *testing.T, s *Store, d Digest) {
				dir := objectDir(s.root, &d)
				mkdir(t, filepath.Dir(dir))
				writeFile(t, dir, "not a directory")
			},
			wantErr: syscall.ENOTDIR,
		},
		{
			name: "a file where the prefix directory goes",
			root: true,
			setup: func(t *testing.T, s *Store, d Digest) {
				writeFile(t, filepath.Dir(objectDir(s.root, &d)), "not a directory")
			},
			wantErr: syscall.ENOTDIR,
		},
		{
			name: "a directory where the block file goes",
			root: true,
			setup: func(t *testing.T, s *Store, d Digest) {
				mkdir(t, blockPath(s.root, &d, 0))
			},
		},
		{
			name: "disk full halfway through the write",
			root: true,
			setup: func(t *testing.T, s *Store, d Digest) {
				s.writeFile = func(f *os.File, b []byte) (int, error) {
					n, _ := f.Write(b[:len(b)/2])
					return n, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
				}
			},
			wantErr: ErrNoSpace,
		},
		{
			name: "quota exhausted",
			root: true,
			setup: func(t *testing.T, s *Store, d Digest) {
				s.writeFile = func(f *os.File, b []byte) (int, error) {
					return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.EDQUOT}
				}
			},
			wantErr: ErrNoSpace,
		},
		{
			name: "short write",
			root: true,
			setup: func(t *testing.T, s *Store, d Digest) {
				s.writeFile = func(f *os.File, b []byte) (int, error) { return f.Write(b[:1]) }
			},
		},
		{
			name: "read-only object directory",
			setup: func(t *testing.T, s *Store, d Digest) {
				dir := objectDir(s.root, &d)
				mkdir(t, dir)
				chmod(t, dir, 0o500)
			},
			wantErr: fs.ErrPermission,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.root && (runtime.GOOS == "windows" || os.Geteuid() == 0) {
				t.Skip("needs a non-root user on a POSIX system: root ignores directory permissions")
			}
			s := openStore(t, 10_000)
			a, b := dig("a"), dig("b")
			mustPut(t, s, b, 0, blockData(b, 0, 1000)) // an innocent bystander
			before := s.Stats()
			tt.setup(t, s, a)

			err := s.Put(a, 0, blockData(a, 0, 1000))
			if err == nil {
				t.Fatalf("Put succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Put = %v, want %v", err, tt.wantErr)
			}
			if errors.Is(tt.wantErr, ErrNoSpace) && !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
				t.Errorf("Put = %v, does not wrap the cause", err)
			}
			t.Logf("Put: %v", err)
			st := s.Stats()
			if errors.Is(tt.wantErr, ErrNoSpace) {
				// A full disk: the bystander is evicted to make room, and
				// the block written again (here the write fails again).
				if st.WriteErrors != 2 || st.Bytes != 0 || st.Evictions != before.Evictions+1 {
					t.Errorf("Stats = %+v after a full disk, was %+v; want two write errors and the bystander evicted", st, before)
				}
			} else if st.WriteErrors != 1 || st.Bytes != before.Bytes || st.Blocks != before.Blocks || st.Objects != before.Objects {
				t.Errorf("Stats = %+v after a failed write, was %+v", st, before)
			}
			if s.Has(a, 0) {
				t.Errorf("failed block is cached")
			}
			s.mu.Lock()
			_, indexed := s.objects[a]
			s.mu.Unlock()
			if indexed {
				t.Errorf("object with no blocks left in the index")
			}
			checkConsistent(t, s)
			if !errors.Is(tt.wantErr, ErrNoSpace) {
				checkGet(t, s, b, 0, blockData(b, 0, 1000))
			}

			// Other objects can still be written, and so can this one
			// once the obstacle is gone.
			s.writeFile = (*os.File).Write
			c := dig("c")
			mustPut(t, s, c, 0, blockData(c, 0, 1000))
			checkGet(t, s, c, 0, blockData(c, 0, 1000))
			if !strings.Contains(tt.name, "where") && !strings.Contains(tt.name, "read-only") {
				mustPut(t, s, a, 0, blockData(a, 0, 1000))
				checkGet(t, s, a, 0, blockData(a, 0, 1000))
			}
			checkConsistent(t, s)
		})
	}
}

// A block of an object with other blocks cached fails to write: the other
// blocks stay.
func TestPut_writeFailureKeepsObject(t *testing.T) {
	s := openStore(t, 10_000)
	a := dig("a")
	mustPut(t, s, a, 0, blockData(a, 0, 1000))
	mkdir(t, blockPath(s.root, &a, 1))
	if err := s.Put(a, 1, blockData(a, 1, 1000)); err == nil {
		t.Fatal("Put over a directory succeeded")
	}
	checkGet(t, s, a, 0, blockData(a, 0, 1000))
	if st := s.Stats(); st.Bytes != 1000 || st.Blocks != 1 || st.Objects != 1 {
		t.Errorf("Stats = %+v", st)
	}
	checkConsistent(t, s)
}

// When the temporary file of a failed write cannot be deleted either, its
// bytes keep counting against the budget.
func TestPut_unreclaimed(t *testing.T) {
	s := openStore(t, 3000)
	a, b := dig("a"), dig("b")
	s.writeFile = func(f *os.File, b []byte) (int, error) {
		f.Write(b)
		return 0, syscall.ENOSPC
	}
	s.removeFile = func(string) error { return syscall.EACCES }
	if err := s.Put(a, 0, blockData(a, 0, 1000)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put = %v, want ErrNoSpace", err)
	}
	s.writeFile, s.removeFile = (*os.File).Write, os.Remove
	if st := s.Stats(); st.Unreclaimed != 1000 || st.Bytes != 0 {
		t.Errorf("Stats = %+v, want 1000 unreclaimed", st)
	}
	// Two more blocks fit; a third does not, and evicts.
	mustPut(t, s, b, 0, blockData(b, 0, 1000))
	mustPut(t, s, b, 1, blockData(b, 1, 1000))
	if u := diskUsage(t, s.root) + 1000; u > 3000 {
		t.Errorf("disk holds %d bytes with the stray temporary file, budget 3000", u)
	}
	c := dig("c")
	mustPut(t, s, c, 0, blockData(c, 0, 1000))
	if s.Has(b, 0) || !s.Has(c, 0) {
		t.Errorf("cached %q, want only c0", cachedBlocks(s))
	}
}

// Deleting a file fails during eviction: its bytes stay counted, so the disk
// stays within the budget, and Put reports ErrNoSpace once nothing is left
// to evict.
func TestEviction_deleteFails(t *testing.T) {
	s := openStore(t, 2000)
	a, b, c := dig("a"), dig("b"), dig("c")
	mustPut(t, s, a, 0, blockData(a, 0, 1000))
	mustPut(t, s, b, 0, blockData(b, 0, 1000))
	aDir := objectDir(s.root, &a)
	s.removeFile = func(name string) error {
		if strings.HasPrefix(name, aDir) {
			return &fs.PathError{Op: "remove", Path: name, Err: syscall.EACCES}
		}
		return os.Remove(name)
	}
	// Evicts a, whose file stays and keeps counting, so b goes too.
	mustPut(t, s, c, 0, blockData(c, 0, 1000))
	st := s.Stats()
	if st.Unreclaimed != 1000 || st.Bytes != 1000 || st.Evictions != 2 {
		t.Errorf("Stats = %+v, want 1000 unreclaimed, 1000 cached, 2 evictions", st)
	}
	if got := cachedBlocks(s); got != "c0" {
		t.Errorf("cached %q, want c0", got)
	}
	if u := diskUsage(t, s.root); u != 2000 {
		t.Errorf("disk holds %d bytes, want 2000", u)
	}
	checkConsistent(t, s)

	// A block as long as the budget cannot fit while a's file stays.
	if err := s.Put(dig("d"), 0, make([]byte, 2000)); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Put = %v, want ErrNoSpace", err)
	}
	if u := diskUsage(t, s.root); u > 2000 {
		t.Errorf("disk holds %d bytes, budget 2000", u)
	}
	checkConsistent(t, s)

	// A restart counts the disk afresh.
	s.removeFile = os.Remove
	s.Close()
	s = openDir(t, s.root, 10_000)
	if st, u := s.Stats(), diskUsage(t, s.root); st.Unreclaimed != 0 || st.Bytes != u || u != 1000 {
		t.Errorf("after reopening: Stats = %+v, disk %d", st, u)
	}
	checkConsistent(t, s)
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, MaxBytes: 1 << 20, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a := dig("a")
	mustPut(t, s, a, 0, blockData(a, 0, 100))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Put(a, 1, blockData(a, 1, 100)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	if _, ok := s.Get(a, 0, make([]byte, 100)); ok {
		t.Errorf("Get after Close hit")
	}
	if s.Has(a, 0) {
		t.Errorf("Has after Close = true")
	}
	s.Remove(a, 0)
	s.RemoveObject(a)
	if _, err := os.Stat(blockPath(s.root, &a, 0)); err != nil {
		t.Errorf("Remove after Close deleted the file: %v", err)
	}
	if st := s.Stats(); st.Blocks != 1 {
		t.Errorf("Stats after Close = %+v", st)
	}
}

// Close waits for Puts that wait for room, and they fail with ErrClosed.
func TestClose_waitingPut(t *testing.T) {
	s := openStore(t, 1000)
	a := dig("a")
	entered := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	s.writeFile = func(f *os.File, b []byte) (int, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return f.Write(b)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Put(a, 0, make([]byte, 1000)); err != nil {
			t.Errorf("first Put: %v", err)
		}
	})
	<-entered
	// The budget is held by a reservation: this Put waits.
	errc := make(chan error, 1)
	go func() { errc <- s.Put(dig("b"), 0, make([]byte, 1000)) }()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	close(release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	err := <-errc
	if err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("waiting Put = %v, want nil or ErrClosed", err)
	}
}

func TestStore_concurrent(t *testing.T) {
	const (
		goroutines = 16
		ops        = 400
		objects    = 12
		blocks     = 8
		blockLen   = 4096
		maxBytes   = 20 * blockLen
	)
	s := openStore(t, maxBytes)
	length := func(obj int, idx uint32) int {
		if idx == blocks-1 {
			return 100 + obj
		}
		return blockLen
	}
	stop := make(chan struct{})
	var monitor sync.WaitGroup
	monitor.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.mu.Lock()
			u := s.used()
			s.mu.Unlock()
			if u > maxBytes {
				t.Errorf("used %d > budget %d", u, maxBytes)
				return
			}
			runtime.Gosched()
		}
	})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			buf := make([]byte, blockLen)
			for range ops {
				obj := rng.IntN(objects)
				d := dig(strconv.Itoa(obj))
				idx := uint32(rng.IntN(blocks))
				switch op := rng.IntN(20); {
				case op < 9:
					if err := s.Put(d, idx, blockData(d, idx, length(obj, idx))); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
				case op < 17:
					if n, ok := s.Get(d, idx, buf); ok {
						if want := blockData(d, idx, length(obj, idx)); string(buf[:n]) != string(want) {
							t.Errorf("Get(%s) returned wrong content", blockName(&d, idx))
							return
						}
					}
				case op < 18:
					s.Has(d, idx)
				case op < 19:
					s.Remove(d, idx)
				default:
					s.RemoveObject(d)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	monitor.Wait()
	checkConsistent(t, s)
	st := s.Stats()
	t.Logf("Stats: %+v", st)
	if st.Evictions == 0 || st.Hits == 0 {
		t.Errorf("no evictions or no hits: the test tests too little")
	}
	if st.WriteErrors != 0 {
		t.Errorf("WriteErrors = %d", st.WriteErrors)
	}
}

// Many goroutines write the blocks of one object larger than the budget at
// once, so that it evicts itself while others are writing to it.
func TestStore_concurrentOneObject(t *testing.T) {
	s := openStore(t, 10*1000)
	d := dig("big")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				idx := uint32(g*50 + i)
				if err := s.Put(d, idx, blockData(d, idx, 1000)); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkConsistent(t, s)
	if st := s.Stats(); st.Bytes > 10_000 || st.Blocks == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, name string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(name, 0o700) })
}

// TestPut_diskFull fills a real, small file system. It runs only when
// AQUEDUCT_STORE_SMALLFS names a directory on one, for example a 1 MiB
// tmpfs: mount -t tmpfs -o size=1m tmpfs /mnt/small.
func TestPut_diskFull(t *testing.T) {
	small := os.Getenv("AQUEDUCT_STORE_SMALLFS")
	if small == "" {
		t.Skip("set AQUEDUCT_STORE_SMALLFS to a directory on a small file system")
	}
	dir, err := os.MkdirTemp(small, "store")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := openDir(t, dir, 1<<30)
	const n = 100_000
	var full error
	var put []Digest
	for i := range 1000 {
		d := dig(strconv.Itoa(i))
		if err := s.Put(d, 0, blockData(d, 0, n)); err != nil {
			full = err
			break
		}
		put = append(put, d)
	}
	if !errors.Is(full, ErrNoSpace) || !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk = %v, want ErrNoSpace wrapping ENOSPC", full)
	}
	t.Logf("%d blocks fit; then: %v", len(put), full)
	st := s.Stats()
	if st.Bytes != int64(len(put))*n || st.WriteErrors != 1 {
		t.Errorf("Stats = %+v", st)
	}
	checkConsistent(t, s)
	for _, d := range put {
		checkGet(t, s, d, 0, blockData(d, 0, n))
	}
	// Freeing space lets writes succeed again.
	s.RemoveObject(put[0])
	s.RemoveObject(put[1])
	d := dig("after")
	mustPut(t, s, d, 0, blockData(d, 0, n))
	checkConsistent(t, s)
}

// A Put stuck in a slow write holds up neither Gets nor Puts of other
// objects, nor Stats.
func TestPut_slowWriteBlocksNobody(t *testing.T) {
	s := openStore(t, 1<<20)
	a, b, c := dig("a"), dig("b"), dig("c")
	mustPut(t, s, b, 0, blockData(b, 0, 1000))
	entered := make(chan struct{})
	release := make(chan struct{})
	s.writeFile = func(f *os.File, p []byte) (int, error) {
		if strings.Contains(f.Name(), filepath.Base(objectDir("", &a))) {
			close(entered)
			<-release
		}
		return f.Write(p)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Put(a, 0, blockData(a, 0, 1000)); err != nil {
			t.Errorf("slow Put: %v", err)
		}
	})
	<-entered
	checkGet(t, s, b, 0, blockData(b, 0, 1000))
	mustPut(t, s, c, 0, blockData(c, 0, 1000))
	checkGet(t, s, c, 0, blockData(c, 0, 1000))
	if s.Has(a, 0) {
		t.Errorf("block being written is visible")
	}
	s.Stats()
	close(release)
	wg.Wait()
	checkGet(t, s, a, 0, blockData(a, 0, 1000))
	checkConsistent(t, s)
}

// Two Puts of the same block race; the one that renames last wins, and the
// accounting follows its length.
func TestPut_sameBlockRace(t *testing.T) {
	s := openStore(t, 1<<20)
	a := dig("a")
	entered := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	s.writeFile = func(f *os.File, p []byte) (int, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return f.Write(p)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Put(a, 0, blockData(a, 0, 1000)); err != nil {
			t.Errorf("first Put: %v", err)
		}
	})
	<-entered
	mustPut(t, s, a, 0, blockData(a, 0, 500)) // commits first
	close(release)
	wg.Wait()
	checkGet(t, s, a, 0, blockData(a, 0, 1000))
	if st := s.Stats(); st.Bytes != 1000 || st.Blocks != 1 || st.Objects != 1 {
		t.Errorf("Stats = %+v", st)
	}
	checkConsistent(t, s)
}

// An object is removed while a Put to it waits to start writing: the Put
// starts again on a fresh object.
func TestPut_objectRemovedBeforeWrite(t *testing.T) {
	s := openStore(t, 1<<20)
	a := dig("a")
	mustPut(t, s, a, 0, blockData(a, 0, 1000))
	s.mu.Lock()
	o := s.objects[a]
	s.mu.Unlock()

	o.mu.Lock() // as a deletion in progress does
	errc := make(chan error, 1)
	go func() { errc <- s.Put(a, 1, blockData(a, 1, 1000)) }()
	for { // until the Put holds its reservation and waits for o.mu
		s.mu.Lock()
		w := o.writers
		s.mu.Unlock()
		if w == 1 {
			break
		}
		runtime.Gosched()
	}
	s.mu.Lock()
	s.retire(o)
	s.mu.Unlock()
	s.deleteFiles(o)
	o.mu.Unlock()

	if err := <-errc; err != nil {
		t.Fatalf("Put: %v", err)
	}
	if s.Has(a, 0) || !s.Has(a, 1) {
		t.Errorf("cached %q, want a1 only", cachedBlocks(s))
	}
	checkGet(t, s, a, 1, blockData(a, 1, 1000))
	checkConsistent(t, s)
}

// Remove cannot delete the file: the block leaves the index, its bytes stay
// counted.
func TestRemove_deleteFails(t *testing.T) {
	s := openStore(t, 1<<20)
	a := dig("a")
	mustPut(t, s, a, 0, blockData(a, 0, 1000))
	mustPut(t, s, a, 1, blockData(a, 1, 1000))
	s.removeFile = func(name string) error {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EACCES}
	}
	s.Remove(a, 0)
	s.removeFile = os.Remove
	if s.Has(a, 0) {
		t.Errorf("block still cached")
	}
	if st := s.Stats(); st.Bytes != 1000 || st.Unreclaimed != 1000 {
		t.Errorf("Stats = %+v, want 1000 cached and 1000 unreclaimed", st)
	}
	checkConsistent(t, s)
}

func TestCheck(t *testing.T) {
	s := openStore(t, 1<<20)
	if err := s.Check(); err != nil {
		t.Fatalf("Check on an open store: %v", err)
	}
	entries, _ := os.ReadDir(s.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "check-") {
			t.Errorf("Check left %s behind", e.Name())
		}
	}
	// A directory that vanished (a disk unmounted, a mistaken rm -r).
	away := s.Dir() + ".away"
	if err := os.Rename(s.Dir(), away); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err == nil {
		t.Error("Check with the directory gone: nil")
	}
	if err := os.Rename(away, s.Dir()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Check(); !errors.Is(err, ErrClosed) {
		t.Errorf("Check after Close: %v, want ErrClosed", err)
	}
}
