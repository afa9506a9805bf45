package wire

import (
	"strings"
	"testing"
)

var validOpen = []namedFrame{
	{"OPEN/basic", Open{Request: 1, Handle: 1, Path: "videos/keynote/1080p/seg-00042.m4s"}},
	{"OPEN/one byte", Open{Request: 0xffffffff, Handle: 0xffffffff, Path: "a"}},
	{"OPEN/max path", Open{Request: 7, Handle: 9, Path: strings.Repeat("p/", MaxPathLen/2)}},
	{"OPEN/utf8", Open{Request: 2, Handle: 3, Path: "vidéos/日本語/ü.mp4"}},
	// Semantic checks are the server's: the decoder lets these through.
	{"OPEN/leading slash", Open{Request: 2, Handle: 3, Path: "/etc/passwd"}},
	{"OPEN/dot dot", Open{Request: 2, Handle: 3, Path: "../x"}},
}

func TestOpen_roundTrip(t *testing.T) { checkRoundTrip(t, validOpen) }

func TestOpen_malformed(t *testing.T) {
	open := func(req, handle uint32, path ...[]byte) []byte {
		return frame(TypeOpen, 0, append([][]byte{be32(req), be32(handle)}, path...)...)
	}
	checkRejects(t, []badFrame{
		{"request 0", open(0, 1, s16("a")), TypeOpen, "request is 0"},
		{"handle 0", open(1, 0, s16("a")), TypeOpen, "handle is 0"},
		{"empty path", open(1, 1, s16("")), TypeOpen, "empty path"},
		{"NUL first", open(1, 1, s16("\x00a")), TypeOpen, "path holds a NUL byte"},
		{"NUL middle", open(1, 1, s16("a\x00b")), TypeOpen, "path holds a NUL byte"},
		{"NUL last", open(1, 1, s16("ab\x00")), TypeOpen, "path holds a NUL byte"},
		{"NUL only", open(1, 1, s16("\x00")), TypeOpen, "path holds a NUL byte"},
		{"bad utf8", open(1, 1, s16("a/\xfe")), TypeOpen, "path is not valid UTF-8"},
		{"cut rune", open(1, 1, s16("a/日"[:4])), TypeOpen, "path is not valid UTF-8"},
		{"path 4097", open(1, 1, be16(MaxPathLen+1), []byte("a")), TypeOpen, "path length 4097 > max 4096"},
		{"path 65535", open(1, 1, be16(0xffff), []byte("a")), TypeOpen, "path length 65535 > max 4096"},
		{"path past end", open(1, 1, be16(10), []byte("abc")), TypeOpen, "path length 10 > 3 bytes left"},
		{"trailing", open(1, 1, s16("ab"), []byte("c")), TypeOpen, "1 trailing bytes"},
		{"length missing", open(1, 1), TypeOpen, "length 8 < min 10"},
	})
}
