package wire

import (
	"strings"
	"testing"
)

var validError = []namedFrame{
	{"ERROR/connection", Error{Request: 0, Code: CodeProtocol}},
	{"ERROR/request", Error{Request: 7, Code: CodeNotFound, Message: "no such object"}},
	{"ERROR/max message", Error{Request: 0xffffffff, Code: CodeChanged, Message: strings.Repeat("m", MaxMessageLen)}},
	{"ERROR/NUL in message", Error{Request: 1, Code: CodeInternal, Message: "a\x00b"}},
}

func TestError_roundTrip(t *testing.T) {
	frames := validError
	for c := CodeProtocol; c <= CodeChanged; c++ {
		frames = append(frames, namedFrame{"ERROR/" + c.String(), Error{Request: uint32(c), Code: c, Message: c.String()}})
	}
	checkRoundTrip(t, frames)
}

func TestError_malformed(t *testing.T) {
	e := func(req uint32, code uint16, msg ...[]byte) []byte {
		return frame(TypeError, 0, append([][]byte{be32(req), be16(code)}, msg...)...)
	}
	checkRejects(t, []badFrame{
		{"code 0", e(0, 0, s16("")), TypeError, "unknown code 0"},
		{"code 14", e(1, 14, s16("x")), TypeError, "unknown code 14"},
		{"code max", e(1, 0xffff, s16("x")), TypeError, "unknown code 65535"},
		{"message 1025", e(1, 1, be16(MaxMessageLen+1), []byte("x")), TypeError, "message length 1025 > max 1024"},
		{"message 65535", e(1, 1, be16(0xffff)), TypeError, "message length 65535 > max 1024"},
		{"message past end", e(1, 1, be16(2), []byte("x")), TypeError, "message length 2 > 1 bytes left"},
		{"trailing", e(1, 1, s16("x"), []byte("yz")), TypeError, "2 trailing bytes"},
		{"bad utf8", e(1, 1, s16("\xc3\x28")), TypeError, "message is not valid UTF-8"},
		{"too long", e(1, 1, s16(strings.Repeat("x", MaxMessageLen+1))), TypeError, "length 1033 > max 1032"},
	})
}
