package store

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestLayout_names(t *testing.T) {
	tests := []struct {
		name  string
		block bool // parseBlockName accepts it
		temp  bool // isTempName accepts it
	}{
		{"0.blk", true, false},
		{"41.blk", true, false},
		{"16777215.blk", true, false},
		{"16777216.blk", false, false},
		{"99999999.blk", false, false},
		{"4294967296.blk", false, false},
		{"00.blk", false, false},
		{"01.blk", false, false},
		{"+1.blk", false, false},
		{"1.BLK", false, false},
		{".blk", false, false},
		{"1.blk.tmp", false, false},
		{"1.blk.123.tmp", false, true},
		{"0.blk.4294967295.tmp", false, true},
		{"1.blk..tmp", false, false},
		{"1.blk.12a.tmp", false, false},
		{"01.blk.1.tmp", false, false},
		{"x.blk.1.tmp", false, false},
		{"1.blk.1.tmp.tmp", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := parseBlockName(tt.name); ok != tt.block {
				t.Errorf("parseBlockName = %v, want %v", ok, tt.block)
			}
			if ok := isTempName(tt.name); ok != tt.temp {
				t.Errorf("isTempName = %v, want %v", ok, tt.temp)
			}
		})
	}
}

// The names Put creates are the names Open recognises.
func TestLayout_roundTrip(t *testing.T) {
	root := t.TempDir()
	d := dig("a")
	for _, idx := range []uint32{0, 7, 1234, maxBlocks - 1} {
		path := blockPath(root, &d, idx)
		if got, ok := parseBlockName(filepath.Base(path)); !ok || got != idx {
			t.Errorf("blockPath(%d) = %s, parses as %d, %v", idx, path, got, ok)
		}
		if filepath.Dir(path) != objectDir(root, &d) {
			t.Errorf("blockPath(%d) = %s, not in %s", idx, path, objectDir(root, &d))
		}
		f, err := os.CreateTemp(root, tempPattern(idx))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !isTempName(filepath.Base(f.Name())) {
			t.Errorf("temporary file %s not recognised", f.Name())
		}
	}
	want := regexp.MustCompile(`/objects/[0-9a-f]{2}/[0-9a-f]{64}$`)
	if dir := filepath.ToSlash(objectDir(root, &d)); !want.MatchString(dir) {
		t.Errorf("objectDir = %s", dir)
	}
	if got, ok := parseDigestHex(filepath.Base(objectDir(root, &d))); !ok || got != d {
		t.Errorf("object directory name does not parse back")
	}
}
