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
	{"OPEN/via", Open{Request: 4, Handle: 5, Path: "v/a.mp4", Via: []NodeID{0x1122334455667788, 1}}},
	{"OPEN/max via", Open{Request: 4, Handle: 5, Path: strings.Repeat("p/", MaxPathLen/2), Via: maxVia()}},
}

func maxVia() []NodeID {
	v := make([]NodeID, MaxVia)
	for i := range v {
		v[i] = 1<<63 | NodeID(i)
	}
	return v
}

func TestOpen_roundTrip(t *testing.T) { checkRoundTrip(t, validOpen) }

func TestOpen_malformed(t *testing.T) {
	// open builds an OPEN with no via list unless rest gives one.
	open := func(req, handle uint32, path []byte, rest ...[]byte) []byte {
		if rest == nil {
			rest = [][]byte{{0}}
		}
		return frame(TypeOpen, 0, append([][]byte{be32(req), be32(handle), path}, rest...)...)
	}
	via := func(n int, ids ...uint64) []byte {
		b := []byte{byte(n)}
		for _, id := range ids {
			b = append(b, be64(id)...)
		}
		return b
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
		{"path 4097", open(1, 1, append(be16(MaxPathLen+1), 'a')), TypeOpen, "path length 4097 > max 4096"},
		{"path 65535", open(1, 1, append(be16(0xffff), 'a')), TypeOpen, "path length 65535 > max 4096"},
		{"path past end", open(1, 1, append(be16(10), "abc"...), nil), TypeOpen, "path length 10 > 3 bytes left"},
		{"trailing", open(1, 1, s16("ab"), []byte{0, 'c'}), TypeOpen, "1 trailing bytes"},
		{"length missing", frame(TypeOpen, 0, be32(1), be32(1)), TypeOpen, "length 8 < min 11"},
		{"via count missing", open(1, 1, s16("ab"), []byte{}), TypeOpen, "via count missing"},
		{"via 17", open(1, 1, s16("a"), via(17, make([]uint64, 17)...)), TypeOpen, "via of 17 nodes > max 16"},
		{"via short", open(1, 1, s16("a"), via(2, 7), []byte{1, 2}), TypeOpen, "via of 2 nodes > 10 bytes left"},
		{"via zero", open(1, 1, s16("a"), via(2, 7, 0)), TypeOpen, "via node 1 is 0"},
		{"via trailing", open(1, 1, s16("a"), via(1, 7), []byte{9}), TypeOpen, "1 trailing bytes"},
	})
}
