package wire

import (
	"bytes"
	"strings"
	"testing"
)

var validHandshake = []namedFrame{
	{"HELLO/basic", Hello{MinVersion: 1, MaxVersion: 1, MaxFrame: DefaultMaxFrame, Nonce: nonce(1), Name: "edge-fra-1"}},
	{"HELLO/limits", Hello{MinVersion: 1, MaxVersion: 0xffff, MaxFrame: MinMaxFrame, Nonce: nonce(0xf0), Name: strings.Repeat("n", 255)}},
	{"HELLO/empty name", Hello{MinVersion: 3, MaxVersion: 3, MaxFrame: MaxMaxFrame}},
	{"HELLO/utf8 name", Hello{MinVersion: 1, MaxVersion: 2, MaxFrame: DefaultMaxFrame, Name: "relais-zürich-ü"}},
	{"CHALLENGE/basic", Challenge{Version: 1, MaxFrame: DefaultMaxFrame, Nonce: nonce(2), MAC: nonce(100), Name: "origin"}},
	{"CHALLENGE/limits", Challenge{Version: 0xffff, MaxFrame: MaxMaxFrame, Nonce: nonce(3), MAC: nonce(4), Name: strings.Repeat("é", 127)}},
	{"CHALLENGE/empty name", Challenge{Version: 1, MaxFrame: MinMaxFrame}},
	{"AUTH/basic", Auth{MAC: nonce(9)}},
	{"AUTH/zero", Auth{}},
	{"READY/basic", Ready{}},
}

func TestHandshake_roundTrip(t *testing.T) { checkRoundTrip(t, validHandshake) }

func TestHello_encoding(t *testing.T) {
	h := Hello{MinVersion: 1, MaxVersion: 2, MaxFrame: 0x00040000, Nonce: nonce(1), Name: "ab"}
	want := bytes.Join([][]byte{
		{0, 0, 0, 43, 0x01, 0, 0, 0},
		{0, 1, 0, 2, 0, 4, 0, 0},
		func() []byte { n := nonce(1); return n[:] }(),
		{2, 'a', 'b'},
	}, nil)
	if got := h.Append(nil); !bytes.Equal(got, want) {
		t.Fatalf("Append = %x, want %x", got, want)
	}
	if got := h.AppendPayload([]byte("T")); !bytes.Equal(got, append([]byte("T"), want[HeaderLen:]...)) {
		t.Fatalf("AppendPayload = %x, want T + %x", got, want[HeaderLen:])
	}
}

func TestChallenge_AppendPayloadForTranscript(t *testing.T) {
	c := Challenge{Version: 1, MaxFrame: DefaultMaxFrame, Nonce: nonce(2), MAC: nonce(100), Name: "origin"}
	full := c.Append(nil)[HeaderLen:]
	got := c.AppendPayloadForTranscript([]byte("T"))
	want := append([]byte("T"), full...)
	copy(want[1+2+4+32:], make([]byte, 32)) // mac at payload offset 38
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendPayloadForTranscript = %x, want %x", got, want)
	}
	// The MAC of the frame itself is untouched.
	if !bytes.Equal(c.Append(nil)[HeaderLen:], full) {
		t.Fatal("AppendPayloadForTranscript changed the frame")
	}
	zero := c
	zero.MAC = [32]byte{}
	if !bytes.Equal(got[1:], zero.Append(nil)[HeaderLen:]) {
		t.Fatal("transcript payload differs from the payload with a zero MAC")
	}
}

func TestHandshake_malformed(t *testing.T) {
	n := nonce(1)
	mf := be32(DefaultMaxFrame)
	hello := func(min, max uint16, maxFrame []byte, rest ...[]byte) []byte {
		return frame(TypeHello, 0, append([][]byte{be16(min), be16(max), maxFrame, n[:]}, rest...)...)
	}
	chal := func(v uint16, maxFrame []byte, rest ...[]byte) []byte {
		return frame(TypeChallenge, 0, append([][]byte{be16(v), maxFrame, n[:], n[:]}, rest...)...)
	}
	checkRejects(t, []badFrame{
		{"HELLO/min 0", hello(0, 1, mf, s8("")), TypeHello, "versions [0, 1]"},
		{"HELLO/both 0", hello(0, 0, mf, s8("")), TypeHello, "versions [0, 0]"},
		{"HELLO/min > max", hello(2, 1, mf, s8("")), TypeHello, "versions [2, 1]"},
		{"HELLO/max_frame 0", hello(1, 1, be32(0), s8("")), TypeHello, "max_frame 0 outside"},
		{"HELLO/max_frame low", hello(1, 1, be32(MinMaxFrame-1), s8("")), TypeHello, "max_frame 16383 outside"},
		{"HELLO/max_frame high", hello(1, 1, be32(MaxMaxFrame+1), s8("")), TypeHello, "max_frame 16777217 outside"},
		{"HELLO/max_frame max", hello(1, 1, be32(1<<32-1), s8("")), TypeHello, "max_frame 4294967295 outside"},
		{"HELLO/name past end", hello(1, 1, mf, []byte{5, 'a', 'b', 'c'}), TypeHello, "name length 5 > 3 bytes left"},
		{"HELLO/name 255 past end", hello(1, 1, mf, []byte{255}), TypeHello, "name length 255 > 0 bytes left"},
		{"HELLO/trailing", hello(1, 1, mf, s8("ab"), []byte{0}), TypeHello, "1 trailing bytes"},
		{"HELLO/name bad utf8", hello(1, 1, mf, s8("a\xffb")), TypeHello, "name is not valid UTF-8"},
		{"HELLO/name overlong", hello(1, 1, mf, s8("\xc0\x80")), TypeHello, "name is not valid UTF-8"},
		{"HELLO/name surrogate", hello(1, 1, mf, s8("\xed\xa0\x80")), TypeHello, "name is not valid UTF-8"},
		{"HELLO/name cut rune", hello(1, 1, mf, s8("é"[:1])), TypeHello, "name is not valid UTF-8"},
		{"CHALLENGE/version 0", chal(0, mf, s8("")), TypeChallenge, "version 0"},
		{"CHALLENGE/max_frame low", chal(1, be32(MinMaxFrame-1), s8("")), TypeChallenge, "max_frame 16383 outside"},
		{"CHALLENGE/max_frame high", chal(1, be32(MaxMaxFrame+1), s8("")), TypeChallenge, "max_frame 16777217 outside"},
		{"CHALLENGE/name past end", chal(1, mf, []byte{1}), TypeChallenge, "name length 1 > 0 bytes left"},
		{"CHALLENGE/trailing", chal(1, mf, s8(""), []byte("xy")), TypeChallenge, "2 trailing bytes"},
		{"CHALLENGE/name bad utf8", chal(1, mf, s8("\x80")), TypeChallenge, "name is not valid UTF-8"},
		{"AUTH/short", frame(TypeAuth, 0, n[:31]), TypeAuth, "length 31, want 32"},
		{"AUTH/long", frame(TypeAuth, 0, n[:], []byte{0}), TypeAuth, "length 33, want 32"},
		{"READY/payload", frame(TypeReady, 0, []byte{0}), TypeReady, "length 1, want 0"},
	})
}
