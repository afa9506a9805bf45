package wire

import (
	"fmt"
	"testing"
)

func TestHeader_roundTrip(t *testing.T) {
	for _, h := range []Header{
		{Length: 0, Type: TypeReady},
		{Length: 8, Type: TypePing},
		{Length: 16, Type: TypeData, Flags: FlagFin},
		{Length: MaxMaxFrame, Type: TypeData},
	} {
		b := h.Append([]byte("x"))
		if len(b) != 1+HeaderLen || b[0] != 'x' {
			t.Fatalf("Append(%+v) = %x", h, b)
		}
		got, err := ParseHeader(b[1:], MaxMaxFrame)
		if err != nil || got != h {
			t.Fatalf("ParseHeader(%x) = %+v, %v; want %+v", b[1:], got, err, h)
		}
	}
	want := []byte{0x00, 0x01, 0x02, 0x03, 0x15, 0x01, 0x00, 0x00}
	if got := (Header{Length: 0x010203, Type: TypeData, Flags: FlagFin}).Append(nil); string(got) != string(want) {
		t.Fatalf("Append = %x, want %x", got, want)
	}
}

func TestParseHeader_malformed(t *testing.T) {
	hdr := func(length uint32, typ FrameType, flags uint8, r0, r1 byte) []byte {
		b := Header{Length: length, Type: typ, Flags: flags}.Append(nil)
		b[6], b[7] = r0, r1
		return b
	}
	cases := []badFrame{
		{"reserved high", hdr(8, TypePing, 0, 1, 0), TypePing, "reserved bytes 0x0100"},
		{"reserved low", hdr(8, TypePing, 0, 0, 0x80), TypePing, "reserved bytes 0x0080"},
		{"reserved DATA", hdr(20, TypeData, 0, 0xff, 0xff), TypeData, "reserved bytes 0xffff"},
		{"DATA length > max", hdr(MaxMaxFrame+1, TypeData, 0, 0, 0), TypeData, "length 16777217 > max 16777216"},
		{"DATA length 2^32-1", hdr(1<<32-1, TypeData, FlagFin, 0, 0), TypeData, "length 4294967295 > max 16777216"},
		{"HASHES length > max", hdr(MaxMaxFrame+8, TypeHashes, 0, 0, 0), TypeHashes, "length 16777224 > max 16777216"},
		{"READY length 1", hdr(1, TypeReady, 0, 0, 0), TypeReady, "length 1, want 0"},
		{"AUTH length 31", hdr(31, TypeAuth, 0, 0, 0), TypeAuth, "length 31, want 32"},
		{"GETHASHES length 17", hdr(17, TypeGetHashes, 0, 0, 0), TypeGetHashes, "length 17, want 16"},
		{"READ length 16", hdr(16, TypeRead, 0, 0, 0), TypeRead, "length 16, want 20"},
		{"CANCEL length 8", hdr(8, TypeCancel, 0, 0, 0), TypeCancel, "length 8, want 4"},
		{"CLOSE length 0", hdr(0, TypeClose, 0, 0, 0), TypeClose, "length 0, want 4"},
		{"PING length 4", hdr(4, TypePing, 0, 0, 0), TypePing, "length 4, want 8"},
		{"PONG length 16", hdr(16, TypePong, 0, 0, 0), TypePong, "length 16, want 8"},
		{"HELLO short", hdr(40, TypeHello, 0, 0, 0), TypeHello, "length 40 < min 41"},
		{"HELLO long", hdr(41+256, TypeHello, 0, 0, 0), TypeHello, "length 297 > max 296"},
		{"CHALLENGE short", hdr(70, TypeChallenge, 0, 0, 0), TypeChallenge, "length 70 < min 71"},
		{"CHALLENGE long", hdr(71+256, TypeChallenge, 0, 0, 0), TypeChallenge, "length 327 > max 326"},
		{"OPEN short", hdr(10, TypeOpen, 0, 0, 0), TypeOpen, "length 10 < min 11"},
		{"OPEN long", hdr(11+4096+8*16+1, TypeOpen, 0, 0, 0), TypeOpen, "length 4236 > max 4235"},
		{"OBJECT short", hdr(61, TypeObject, 0, 0, 0), TypeObject, "length 61 < min 62"},
		{"OBJECT long", hdr(62+511, TypeObject, 0, 0, 0), TypeObject, "length 573 > max 572"},
		{"HASHES no hash", hdr(8, TypeHashes, 0, 0, 0), TypeHashes, "length 8 < min 40"},
		{"DATA short", hdr(15, TypeData, FlagFin, 0, 0), TypeData, "length 15 < min 16"},
		{"ERROR short", hdr(7, TypeError, 0, 0, 0), TypeError, "length 7 < min 8"},
		{"ERROR long", hdr(8+1025, TypeError, 0, 0, 0), TypeError, "length 1033 > max 1032"},
		{"GOAWAY short", hdr(3, TypeGoAway, 0, 0, 0), TypeGoAway, "length 3 < min 4"},
		{"GOAWAY long", hdr(4+1025, TypeGoAway, 0, 0, 0), TypeGoAway, "length 1029 > max 1028"},
	}
	// Every undefined type, and every undefined flag of every type.
	for typ := range 256 {
		if _, ok := FrameType(typ).info(); !ok {
			cases = append(cases, badFrame{fmt.Sprintf("type 0x%02x", typ), hdr(0, FrameType(typ), 0, 0, 0), FrameType(typ), "unknown type"})
		}
	}
	for _, typ := range knownTypes {
		for bit := range 8 {
			flag := uint8(1) << bit
			if typ == TypeData && flag == FlagFin || typ == TypeObject && flag == FlagStale {
				continue
			}
			cases = append(cases, badFrame{
				fmt.Sprintf("%v flag 0x%02x", typ, flag),
				hdr(frameInfos[typ].minLen, typ, flag, 0, 0),
				typ, fmt.Sprintf("undefined flags 0x%02x", flag),
			})
		}
	}
	for _, tc := range cases {
		_, err := ParseHeader(tc.b, MaxMaxFrame)
		checkProtocolError(t, tc.name, err, tc.typ, tc.reason)
		// ParseFrame rejects the header before any payload has arrived.
		f, n, err := ParseFrame(tc.b, MaxMaxFrame)
		checkProtocolError(t, tc.name, err, tc.typ, tc.reason)
		if f != nil || n != 0 {
			t.Errorf("%s: ParseFrame returned %#v, %d with the error", tc.name, f, n)
		}
	}
}

func TestParseHeader_maxPayload(t *testing.T) {
	// No payload may exceed MaxMaxFrame, whatever the caller accepts.
	b0 := Header{Length: MaxMaxFrame + 1, Type: TypeData}.Append(nil)
	if _, err := ParseHeader(b0, 1<<32-1); err == nil {
		t.Fatal("length above MaxMaxFrame accepted")
	}
	if _, err := ParseHeader(b0[:HeaderLen-1], 1<<32-1); err != ErrShort {
		t.Fatalf("7 bytes: %v, want ErrShort", err)
	}
	b := Header{Length: HandshakeMaxPayload + 1, Type: TypeData}.Append(nil)
	if _, err := ParseHeader(b, HandshakeMaxPayload); err == nil {
		t.Fatal("length above the handshake limit accepted")
	}
	if h, err := ParseHeader(b, DefaultMaxFrame); err != nil || h.Length != HandshakeMaxPayload+1 {
		t.Fatalf("ParseHeader = %+v, %v", h, err)
	}
	b = Header{Length: 0, Type: TypeReady}.Append(nil)
	if _, err := ParseHeader(b, 0); err != nil {
		t.Fatalf("empty payload with maxPayload 0: %v", err)
	}
}

func TestFrameType_String(t *testing.T) {
	want := map[FrameType]string{
		TypeHello: "HELLO", TypeChallenge: "CHALLENGE", TypeAuth: "AUTH", TypeReady: "READY",
		TypeOpen: "OPEN", TypeObject: "OBJECT", TypeGetHashes: "GETHASHES", TypeHashes: "HASHES",
		TypeRead: "READ", TypeData: "DATA", TypeCancel: "CANCEL", TypeClose: "CLOSE",
		TypeError: "ERROR", TypePing: "PING", TypePong: "PONG", TypeGoAway: "GOAWAY",
	}
	if len(want) != len(knownTypes) {
		t.Fatalf("%d names for %d types", len(want), len(knownTypes))
	}
	for typ := range 256 {
		got := FrameType(typ).String()
		if name, ok := want[FrameType(typ)]; ok {
			if got != name {
				t.Errorf("FrameType(0x%02x).String() = %q, want %q", typ, got, name)
			}
		} else if w := fmt.Sprintf("FrameType(0x%02x)", typ); got != w {
			t.Errorf("FrameType(0x%02x).String() = %q, want %q", typ, got, w)
		}
	}
}
