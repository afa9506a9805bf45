package store

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
)

// Names under Dir; see the package documentation.
const (
	objectsDirName = "objects"
	lockFileName   = "lock"
	lruFileName    = "lru"
	lruTempPattern = "lru.*.tmp"
	lruHeader      = "aqueduct store lru 1"

	blockSuffix = ".blk"
	tempSuffix  = ".tmp"
)

// maxBlocks bounds block indices, and so the bitset of one object (2 MiB).
// With 64 KiB blocks it allows objects of 1 TiB; the protocol's origin picks
// block sizes that keep objects under 65536 blocks.
const maxBlocks = 1 << 24

// appendObjectDir appends the directory of object d to b:
// objects/<hex[0:2]>/<hex>, under root.
func appendObjectDir(b []byte, root string, d *Digest) []byte {
	var h [2 * len(Digest{})]byte
	hex.Encode(h[:], d[:])
	b = append(b, root...)
	b = append(b, os.PathSeparator)
	b = append(b, objectsDirName...)
	b = append(b, os.PathSeparator)
	b = append(b, h[:2]...)
	b = append(b, os.PathSeparator)
	return append(b, h[:]...)
}

// objectDir returns the directory of object d under root.
func objectDir(root string, d *Digest) string {
	var buf [256]byte
	return string(appendObjectDir(buf[:0], root, d))
}

// blockPath returns the path of block idx of object d under root.
func blockPath(root string, d *Digest, idx uint32) string {
	var buf [256]byte
	b := appendObjectDir(buf[:0], root, d)
	b = append(b, os.PathSeparator)
	b = strconv.AppendUint(b, uint64(idx), 10)
	b = append(b, blockSuffix...)
	return string(b)
}

// tempPattern is the os.CreateTemp pattern for block idx: "7.blk.*.tmp".
func tempPattern(idx uint32) string {
	return strconv.FormatUint(uint64(idx), 10) + blockSuffix + ".*" + tempSuffix
}

// parseIndex parses a block index written in canonical decimal: digits
// only, no leading zero unless it is "0", below maxBlocks.
func parseIndex(s string) (uint32, bool) {
	if s == "" || len(s) > 8 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var v uint32
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint32(c-'0')
	}
	return v, v < maxBlocks
}

// parseBlockName recognises a block file name, "<idx>.blk".
func parseBlockName(name string) (uint32, bool) {
	s, ok := strings.CutSuffix(name, blockSuffix)
	if !ok {
		return 0, false
	}
	return parseIndex(s)
}

// isTempName recognises a temporary block file name, "<idx>.blk.<digits>.tmp",
// as os.CreateTemp makes it from tempPattern.
func isTempName(name string) bool {
	s, ok := strings.CutSuffix(name, tempSuffix)
	if !ok {
		return false
	}
	i := strings.Index(s, blockSuffix+".")
	if i < 0 {
		return false
	}
	if _, ok := parseIndex(s[:i]); !ok {
		return false
	}
	r := s[i+len(blockSuffix)+1:]
	if r == "" {
		return false
	}
	for j := range len(r) {
		if r[j] < '0' || r[j] > '9' {
			return false
		}
	}
	return true
}

// parseDigestHex parses 64 lower-case hex digits. Upper case is not
// recognised, so that one digest has exactly one directory name.
func parseDigestHex(s string) (Digest, bool) {
	var d Digest
	if len(s) != 2*len(d) || !isLowerHex(s) {
		return d, false
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, false
	}
	return d, true
}

// isPrefixName recognises a prefix directory name: two lower-case hex digits.
func isPrefixName(s string) bool { return len(s) == 2 && isLowerHex(s) }

func isLowerHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
