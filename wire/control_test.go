package wire

import (
	"strings"
	"testing"
)

var validControl = []namedFrame{
	{"CANCEL/basic", Cancel{Request: 1}},
	{"CANCEL/max", Cancel{Request: 0xffffffff}},
	{"CLOSE/basic", Close{Handle: 1}},
	{"CLOSE/max", Close{Handle: 0xffffffff}},
	{"PING/zero", Ping{}},
	{"PING/max", Ping{Opaque: 1<<64 - 1}},
	{"PONG/zero", Pong{}},
	{"PONG/basic", Pong{Opaque: 0x0123456789abcdef}},
	{"GOAWAY/empty", GoAway{Code: CodeShuttingDown}},
	{"GOAWAY/message", GoAway{Code: CodeShuttingDown, Message: "draining for upgrade"}},
	{"GOAWAY/max message", GoAway{Code: CodeChanged, Message: strings.Repeat("ü", MaxMessageLen/2)}},
	{"GOAWAY/protocol", GoAway{Code: CodeProtocol, Message: "bad frame"}},
}

func TestControl_roundTrip(t *testing.T) { checkRoundTrip(t, validControl) }

func TestControl_malformed(t *testing.T) {
	checkRejects(t, []badFrame{
		{"CANCEL/request 0", frame(TypeCancel, 0, be32(0)), TypeCancel, "request is 0"},
		{"CANCEL/long", frame(TypeCancel, 0, be32(1), be32(1)), TypeCancel, "length 8, want 4"},
		{"CLOSE/handle 0", frame(TypeClose, 0, be32(0)), TypeClose, "handle is 0"},
		{"CLOSE/short", frame(TypeClose, 0, be16(1)), TypeClose, "length 2, want 4"},
		{"PING/short", frame(TypePing, 0, be32(1)), TypePing, "length 4, want 8"},
		{"PONG/long", frame(TypePong, 0, be64(1), []byte{0}), TypePong, "length 9, want 8"},
		{"GOAWAY/code 0", frame(TypeGoAway, 0, be16(0), s16("")), TypeGoAway, "unknown code 0"},
		{"GOAWAY/code 14", frame(TypeGoAway, 0, be16(14), s16("")), TypeGoAway, "unknown code 14"},
		{"GOAWAY/code max", frame(TypeGoAway, 0, be16(0xffff), s16("")), TypeGoAway, "unknown code 65535"},
		{"GOAWAY/message 1025", frame(TypeGoAway, 0, be16(11), be16(MaxMessageLen+1), []byte("x")), TypeGoAway, "message length 1025 > max 1024"},
		{"GOAWAY/message past end", frame(TypeGoAway, 0, be16(11), be16(4), []byte("xyz")), TypeGoAway, "message length 4 > 3 bytes left"},
		{"GOAWAY/trailing", frame(TypeGoAway, 0, be16(11), s16("x"), []byte("y")), TypeGoAway, "1 trailing bytes"},
		{"GOAWAY/bad utf8", frame(TypeGoAway, 0, be16(11), s16("bye\xff")), TypeGoAway, "message is not valid UTF-8"},
	})
}
