package randfile

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		seed byte
		size int64
	}{
		{"empty", 1, 0},
		{"small", 1, 1000},
		{"over the buffer", 2, 3<<20 + 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := filepath.Join(dir, tc.name+".a"), filepath.Join(dir, tc.name+".b")
			seed := [32]byte{tc.seed}
			sa, err := Write(a, seed, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := Write(b, seed, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			da, _ := os.ReadFile(a)
			db, _ := os.ReadFile(b)
			if int64(len(da)) != tc.size || !bytes.Equal(da, db) || sa != sb {
				t.Fatalf("not deterministic: %d bytes, equal %v", len(da), bytes.Equal(da, db))
			}
			if sha256.Sum256(da) != sa {
				t.Fatal("returned digest does not match the file")
			}
		})
	}
	x, _ := Write(filepath.Join(dir, "x"), [32]byte{9}, 4096)
	y, _ := Write(filepath.Join(dir, "y"), [32]byte{10}, 4096)
	if x == y {
		t.Fatal("different seeds gave the same bytes")
	}
	if _, err := Write(filepath.Join(dir, "no", "such", "dir"), [32]byte{}, 1); err == nil {
		t.Fatal("no error writing into a missing directory")
	}
}
