package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// namedFrame is a valid frame of the round-trip tables.
type namedFrame struct {
	name string
	f    Frame
}

// badFrame is an encoded frame that the decoder must reject with a
// *ProtocolError of type typ whose reason contains reason.
type badFrame struct {
	name   string
	b      []byte
	typ    FrameType
	reason string
}

// validFrames returns the valid frames of every per-type table.
func validFrames() []namedFrame {
	var all []namedFrame
	for _, tab := range [][]namedFrame{
		validHandshake, validOpen, validObject, validGetHashes, validHashes,
		validRead, validData, validControl, validError,
	} {
		all = append(all, tab...)
	}
	return all
}

// Builders for hand-made frames.

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func s8(s string) []byte   { return append([]byte{byte(len(s))}, s...) }
func s16(s string) []byte  { return append(be16(uint16(len(s))), s...) }
func rep(n int, c byte) []byte {
	return bytes.Repeat([]byte{c}, n)
}

// frame builds a frame of type t with the given flags and the concatenation
// of parts as payload; the header length is the payload length.
func frame(t FrameType, flags uint8, parts ...[]byte) []byte {
	p := bytes.Join(parts, nil)
	return append(Header{Length: uint32(len(p)), Type: t, Flags: flags}.Append(nil), p...)
}

// nonce returns 32 bytes starting at first and counting up.
func nonce(first byte) [32]byte {
	var n [32]byte
	for i := range n {
		n[i] = first + byte(i)
	}
	return n
}

// sameFrame reports whether two frames are equal, taking a nil and an
// empty []byte field as equal.
func sameFrame(a, b Frame) bool {
	norm := func(f Frame) Frame {
		switch f := f.(type) {
		case Data:
			if len(f.Payload) == 0 {
				f.Payload = nil
			}
			return f
		case Hashes:
			if len(f.Hashes) == 0 {
				f.Hashes = nil
			}
			return f
		}
		return f
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// checkRoundTrip encodes each frame, decodes it with ParseFrame and
// ParsePayload, and checks that the result equals the frame and re-encodes
// to the same bytes.
func checkRoundTrip(t *testing.T, frames []namedFrame) {
	t.Helper()
	for _, tc := range frames {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.f.Append(nil)
			if len(b) != tc.f.Len() {
				t.Fatalf("Append wrote %d bytes, Len() = %d", len(b), tc.f.Len())
			}
			if got := FrameType(b[4]); got != tc.f.Type() {
				t.Fatalf("header type %v, Type() = %v", got, tc.f.Type())
			}
			// Append appends: it keeps what the buffer held.
			prefix := []byte("prefix")
			if got := tc.f.Append(append([]byte(nil), prefix...)); !bytes.Equal(got, append(prefix, b...)) {
				t.Fatalf("Append to a non-empty buffer = %x, want prefix + %x", got, b)
			}

			// A following frame is left alone.
			in := append(append([]byte(nil), b...), Ping{Opaque: 7}.Append(nil)...)
			got, n, err := ParseFrame(in, MaxMaxFrame)
			if err != nil {
				t.Fatalf("ParseFrame: %v", err)
			}
			if n != len(b) {
				t.Fatalf("ParseFrame used %d bytes, want %d", n, len(b))
			}
			if !sameFrame(got, tc.f) {
				t.Fatalf("ParseFrame = %#v, want %#v", got, tc.f)
			}
			if re := got.Append(nil); !bytes.Equal(re, b) {
				t.Fatalf("re-encoding = %x, want %x", re, b)
			}

			h, err := ParseHeader(b, MaxMaxFrame)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if int(h.Length) != len(b)-HeaderLen || h.Type != tc.f.Type() {
				t.Fatalf("ParseHeader = %+v, frame of %d bytes and type %v", h, len(b), tc.f.Type())
			}
			got, err = ParsePayload(h, b[HeaderLen:])
			if err != nil {
				t.Fatalf("ParsePayload: %v", err)
			}
			if !sameFrame(got, tc.f) {
				t.Fatalf("ParsePayload = %#v, want %#v", got, tc.f)
			}

			// A pointer to a frame is a Frame too and encodes the same.
			pf := reflect.New(reflect.TypeOf(tc.f))
			pf.Elem().Set(reflect.ValueOf(tc.f))
			if pb := pf.Interface().(Frame).Append(nil); !bytes.Equal(pb, b) {
				t.Fatalf("pointer encoding = %x, want %x", pb, b)
			}
		})
	}
}

// checkRejects checks that ParseFrame, and ParsePayload where the header
// passes, reject each frame with the expected *ProtocolError.
func checkRejects(t *testing.T, frames []badFrame) {
	t.Helper()
	for _, tc := range frames {
		t.Run(tc.name, func(t *testing.T) {
			f, n, err := ParseFrame(tc.b, MaxMaxFrame)
			checkProtocolError(t, "ParseFrame", err, tc.typ, tc.reason)
			if f != nil || n != 0 {
				t.Errorf("ParseFrame returned frame %#v and n %d with the error", f, n)
			}
			h, herr := ParseHeader(tc.b, MaxMaxFrame)
			if herr != nil {
				// Rejected by the header: a header of the same type with a
				// valid length must fail in ParsePayload for the same reason
				// if the reason concerns the header alone.
				checkProtocolError(t, "ParseHeader", herr, tc.typ, tc.reason)
				return
			}
			if len(tc.b) != HeaderLen+int(h.Length) {
				t.Fatalf("test frame has %d bytes, header says %d + %d", len(tc.b), HeaderLen, h.Length)
			}
			f, err = ParsePayload(h, tc.b[HeaderLen:])
			checkProtocolError(t, "ParsePayload", err, tc.typ, tc.reason)
			if f != nil {
				t.Errorf("ParsePayload returned frame %#v with the error", f)
			}
		})
	}
}

func checkProtocolError(t *testing.T, fn string, err error, typ FrameType, reason string) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("%s error = %v, want a *ProtocolError", fn, err)
	}
	if pe.Type != typ || !strings.Contains(pe.Reason, reason) {
		t.Fatalf("%s error = %q (type %v), want type %v and a reason containing %q", fn, err, pe.Type, typ, reason)
	}
	if !strings.HasPrefix(err.Error(), "wire: ") {
		t.Fatalf("%s error %q lacks the package prefix", fn, err)
	}
}

func TestParseFrame_roundTrip(t *testing.T) {
	frames := validFrames()
	seen := map[FrameType]bool{}
	for _, tc := range frames {
		seen[tc.f.Type()] = true
	}
	for _, typ := range knownTypes {
		if !seen[typ] {
			t.Errorf("no valid %v frame in the tables", typ)
		}
	}
	checkRoundTrip(t, frames)
}

// knownTypes lists every frame type of version 1.
var knownTypes = []FrameType{
	TypeHello, TypeChallenge, TypeAuth, TypeReady, TypeOpen, TypeObject,
	TypeGetHashes, TypeHashes, TypeRead, TypeData, TypeCancel, TypeClose,
	TypeError, TypePing, TypePong, TypeGoAway,
}

// TestParseFrame_short checks that every strict prefix of a valid frame,
// the empty one included, asks for more bytes.
func TestParseFrame_short(t *testing.T) {
	for _, tc := range validFrames() {
		b := tc.f.Append(nil)
		for k := range len(b) {
			f, n, err := ParseFrame(b[:k], MaxMaxFrame)
			if err != ErrShort || f != nil || n != 0 {
				t.Fatalf("%s: ParseFrame of %d of %d bytes = %v, %d, %v; want ErrShort", tc.name, k, len(b), f, n, err)
			}
		}
		for k := range HeaderLen {
			if _, err := ParseHeader(b[:k], MaxMaxFrame); err != ErrShort {
				t.Fatalf("%s: ParseHeader of %d bytes: %v, want ErrShort", tc.name, k, err)
			}
		}
	}
}

// resizeOK reports whether a valid frame of type typ stays valid with a
// payload of k bytes, cut or extended with 0xaa bytes.
func resizeOK(f Frame, k int) bool {
	switch f := f.(type) {
	case Data:
		n := uint64(k - dataFixedLen)
		return (k > dataFixedLen || k == dataFixedLen && f.Fin) && f.Offset+n <= MaxObjectSize
	case Hashes:
		return k >= hashesFixedLen+DigestLen && (k-hashesFixedLen)%DigestLen == 0
	}
	return false
}

// TestParseFrame_resized cuts the payload of every valid frame at every byte
// and extends it by up to 40 bytes, with the header length set to match, and
// checks that the decoder rejects the result unless the type allows it.
func TestParseFrame_resized(t *testing.T) {
	for _, tc := range validFrames() {
		payload := tc.f.Append(nil)[HeaderLen:]
		flags := uint8(0)
		if d, ok := tc.f.(Data); ok && d.Fin {
			flags = FlagFin
		}
		for k := range len(payload) + 41 {
			if k == len(payload) {
				continue
			}
			var p []byte
			if k < len(payload) {
				p = payload[:k]
			} else {
				p = append(append([]byte(nil), payload...), rep(k-len(payload), 0xaa)...)
			}
			b := frame(tc.f.Type(), flags, p)
			f, n, err := ParseFrame(b, MaxMaxFrame)
			if resizeOK(tc.f, k) {
				if err != nil || n != len(b) || !bytes.Equal(f.Append(nil), b) {
					t.Fatalf("%s: payload resized to %d: %v, %d, %v; want a valid frame", tc.name, k, f, n, err)
				}
				continue
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Type != tc.f.Type() || f != nil || n != 0 {
				t.Fatalf("%s: payload resized from %d to %d: %v, %d, %v; want a %v *ProtocolError", tc.name, len(payload), k, f, n, err, tc.f.Type())
			}
		}
	}
}

// TestParseFrame_sequence decodes frames back to back from one buffer.
func TestParseFrame_sequence(t *testing.T) {
	frames := validFrames()
	var b []byte
	for _, tc := range frames {
		b = tc.f.Append(b)
	}
	for i, tc := range frames {
		f, n, err := ParseFrame(b, MaxMaxFrame)
		if err != nil {
			t.Fatalf("frame %d (%s): %v", i, tc.name, err)
		}
		if !sameFrame(f, tc.f) {
			t.Fatalf("frame %d = %#v, want %#v", i, f, tc.f)
		}
		b = b[n:]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left", len(b))
	}
}

// TestParseFrame_maxPayload checks that the caller's limit applies to every
// type, before the payload has arrived.
func TestParseFrame_maxPayload(t *testing.T) {
	for _, tc := range validFrames() {
		b := tc.f.Append(nil)
		plen := uint32(len(b) - HeaderLen)
		if _, _, err := ParseFrame(b, plen); err != nil {
			t.Errorf("%s: maxPayload = payload length %d: %v", tc.name, plen, err)
		}
		if plen == 0 {
			continue
		}
		for _, in := range [][]byte{b, b[:HeaderLen]} {
			_, _, err := ParseFrame(in, plen-1)
			checkProtocolError(t, tc.name, err, tc.f.Type(), "> max")
		}
	}
}

func TestParsePayload_header(t *testing.T) {
	checkErr := func(name string, h Header, payload []byte, typ FrameType, reason string) {
		t.Helper()
		f, err := ParsePayload(h, payload)
		checkProtocolError(t, name, err, typ, reason)
		if f != nil {
			t.Errorf("%s: frame %#v with the error", name, f)
		}
	}
	ping := Ping{Opaque: 1}.Append(nil)[HeaderLen:]
	checkErr("unknown type", Header{Length: 8, Type: 0x33}, ping, 0x33, "unknown type")
	checkErr("flags", Header{Length: 8, Type: TypePing, Flags: FlagFin}, ping, TypePing, "undefined flags 0x01")
	checkErr("length", Header{Length: 9, Type: TypePing}, append(ping, 0), TypePing, "length 9, want 8")
	checkErr("payload longer than header", Header{Length: 8, Type: TypePing}, append(ping, 0), TypePing, "payload of 9 bytes, header says 8")
	checkErr("payload shorter than header", Header{Length: 20, Type: TypeData}, make([]byte, 19), TypeData, "payload of 19 bytes, header says 20")
	checkErr("DATA flags", Header{Length: 20, Type: TypeData, Flags: 0x80}, make([]byte, 20), TypeData, "undefined flags 0x80")
	checkErr("DATA short", Header{Length: 15, Type: TypeData}, make([]byte, 15), TypeData, "length 15 < min 16")
}

func TestProtocolError_Error(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{frame(TypeOpen, 0, be32(1), be32(1), be16(5000), []byte("a")), "wire: OPEN frame: path length 5000 > max 4096"},
		{frame(0x99, 0), "wire: frame type 0x99: unknown type"},
		{frame(0x00, 0), "wire: frame type 0x00: unknown type"},
		{frame(TypeData, 0, be32(1), be32(0), be64(0)), "wire: DATA frame: empty without FIN"},
		{frame(TypeError, 0, be32(0), be16(0), s16("")), "wire: ERROR frame: unknown code 0"},
	} {
		_, _, err := ParseFrame(tc.b, MaxMaxFrame)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseFrame(%x) error = %v, want %q", tc.b, err, tc.want)
		}
	}
}

// TestAppend_invalid checks that frames with invalid fields encode without
// panicking, to exactly Len() bytes that the decoder rejects.
func TestAppend_invalid(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []namedFrame{
		{"HELLO/versions 0", Hello{MaxFrame: DefaultMaxFrame}},
		{"HELLO/min > max", Hello{MinVersion: 2, MaxVersion: 1, MaxFrame: DefaultMaxFrame}},
		{"HELLO/max_frame 0", Hello{MinVersion: 1, MaxVersion: 1}},
		{"HELLO/name 256", Hello{MinVersion: 1, MaxVersion: 1, MaxFrame: DefaultMaxFrame, Name: long(256)}},
		{"HELLO/name 300", Hello{MinVersion: 1, MaxVersion: 1, MaxFrame: DefaultMaxFrame, Name: long(300)}},
		{"CHALLENGE/name 511", Challenge{Version: 1, MaxFrame: DefaultMaxFrame, Name: long(511)}},
		{"CHALLENGE/version 0", Challenge{MaxFrame: DefaultMaxFrame}},
		{"OPEN/empty path", Open{Request: 1, Handle: 1}},
		{"OPEN/path 4097", Open{Request: 1, Handle: 1, Path: long(4097)}},
		{"OPEN/path 65536", Open{Request: 1, Handle: 1, Path: long(65536)}},
		{"OPEN/path 65537", Open{Request: 1, Handle: 1, Path: long(65537)}},
		{"OPEN/request 0", Open{Handle: 1, Path: "a"}},
		{"OBJECT/etag 256", Object{Request: 1, Handle: 1, BlockSize: MinBlockSize, ETag: long(256)}},
		{"OBJECT/content_type 300", Object{Request: 1, Handle: 1, BlockSize: MinBlockSize, ContentType: long(300)}},
		{"OBJECT/block_size 0", Object{Request: 1, Handle: 1}},
		{"GETHASHES/count 0", GetHashes{Request: 1, Handle: 1}},
		{"HASHES/none", Hashes{Request: 1}},
		{"HASHES/33 bytes", Hashes{Request: 1, Hashes: make([]byte, 33)}},
		{"READ/length 0", Read{Request: 1, Handle: 1}},
		{"DATA/empty without FIN", Data{Request: 1}},
		{"DATA/request 0", Data{Payload: []byte("x")}},
		{"CANCEL/0", Cancel{}},
		{"CLOSE/0", Close{}},
		{"ERROR/code 0", Error{}},
		{"ERROR/message 1025", Error{Code: CodeInternal, Message: long(1025)}},
		{"ERROR/message 70000", Error{Code: CodeInternal, Message: long(70000)}},
		{"GOAWAY/code 14", GoAway{Code: 14}},
		{"GOAWAY/message 65536", GoAway{Code: CodeShuttingDown, Message: long(65536)}},
	} {
		b := tc.f.Append(nil)
		if len(b) != tc.f.Len() {
			t.Errorf("%s: Append wrote %d bytes, Len() = %d", tc.name, len(b), tc.f.Len())
		}
		f, n, err := ParseFrame(b, MaxMaxFrame)
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: ParseFrame = %#v, %d, %v; want a *ProtocolError", tc.name, f, n, err)
		}
	}
}

// TestParseFrame_dataAllocs checks that decoding DATA allocates nothing when
// the caller switches on the frame in place, as a read loop does. It depends
// on ParseFrame and ParsePayload being inlined.
func TestParseFrame_dataAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes inlining")
	}
	b := Data{Request: 1, Seq: 2, Offset: 3, Payload: make([]byte, 1024)}.Append(nil)
	var total int
	allocs := testing.AllocsPerRun(100, func() {
		f, n, err := ParseFrame(b, MaxMaxFrame)
		if err != nil || n != len(b) {
			t.Fatal(err)
		}
		// Printing f would let it escape: only look inside.
		d, ok := f.(Data)
		if !ok {
			t.Fatal("not a Data")
		}
		total += len(d.Payload)
	})
	if allocs != 0 {
		t.Errorf("ParseFrame of DATA: %v allocations, want 0", allocs)
	}
	h, _ := ParseHeader(b, MaxMaxFrame)
	allocs = testing.AllocsPerRun(100, func() {
		f, err := ParsePayload(h, b[HeaderLen:])
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.(Data); ok {
			total += len(d.Payload)
		}
	})
	if allocs != 0 {
		t.Errorf("ParsePayload of DATA: %v allocations, want 0", allocs)
	}
}

var sinkInt int

func BenchmarkParseFrame(b *testing.B) {
	hashes := make([]byte, 64*DigestLen)
	for _, bc := range []struct {
		name string
		f    Frame
	}{
		{"DATA-128KiB", Data{Request: 1, Seq: 9, Offset: 1 << 30, Payload: make([]byte, 128<<10)}},
		{"DATA-1KiB", Data{Request: 1, Seq: 9, Offset: 1 << 30, Payload: make([]byte, 1<<10)}},
		{"READ", Read{Request: 1, Handle: 2, Offset: 1 << 30, Length: 1 << 20}},
		{"PING", Ping{Opaque: 42}},
		{"OPEN", Open{Request: 1, Handle: 2, Path: "videos/2024/keynote/1080p/segment-00042.m4s"}},
		{"OBJECT", Object{Request: 1, Handle: 2, Size: 1 << 30, BlockSize: 1 << 20, ETag: `"5f2a-1c0000"`, ContentType: "video/mp4"}},
		{"HASHES-64", Hashes{Request: 1, Hashes: hashes}},
	} {
		buf := bc.f.Append(nil)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				f, n, err := ParseFrame(buf, MaxMaxFrame)
				if err != nil {
					b.Fatal(err)
				}
				// Consume the frame in place, as a read loop does.
				switch f := f.(type) {
				case Data:
					sinkInt += n + len(f.Payload)
				case Read:
					sinkInt += n + int(f.Length)
				case Ping:
					sinkInt += n + int(f.Opaque)
				case Open:
					sinkInt += n + len(f.Path)
				case Object:
					sinkInt += n + len(f.ETag)
				case Hashes:
					sinkInt += n + f.Count()
				}
			}
		})
	}
}

// TestParsers_short calls each payload decoder directly with payloads too
// short for its fixed fields, and too long for a fixed-size frame. The
// header check keeps such payloads from them, but each decoder must still
// reject them on its own rather than panic.
func TestParsers_short(t *testing.T) {
	parsers := map[FrameType]func(p []byte) error{
		TypeHello:     func(p []byte) error { _, err := parseHello(p); return err },
		TypeChallenge: func(p []byte) error { _, err := parseChallenge(p); return err },
		TypeAuth:      func(p []byte) error { _, err := parseAuth(p); return err },
		TypeReady:     func(p []byte) error { _, err := parseReady(p); return err },
		TypeOpen:      func(p []byte) error { _, err := parseOpen(p); return err },
		TypeObject:    func(p []byte) error { _, err := parseObject(FlagStale, p); return err },
		TypeGetHashes: func(p []byte) error { _, err := parseGetHashes(p); return err },
		TypeHashes:    func(p []byte) error { _, err := parseHashes(p); return err },
		TypeRead:      func(p []byte) error { _, err := parseRead(p); return err },
		TypeData:      func(p []byte) error { _, err := parseData(FlagFin, p); return err },
		TypeCancel:    func(p []byte) error { _, err := parseCancel(p); return err },
		TypeClose:     func(p []byte) error { _, err := parseClose(p); return err },
		TypeError:     func(p []byte) error { _, err := parseError(p); return err },
		TypePing:      func(p []byte) error { _, err := parsePing(p); return err },
		TypePong:      func(p []byte) error { _, err := parsePong(p); return err },
		TypeGoAway:    func(p []byte) error { _, err := parseGoAway(p); return err },
	}
	for _, typ := range knownTypes {
		fi, _ := typ.info()
		parse := parsers[typ]
		lengths := []int{}
		for k := range int(fi.minLen) {
			lengths = append(lengths, k)
		}
		if fi.minLen == fi.maxLen {
			lengths = append(lengths, int(fi.minLen)+1)
		}
		for _, k := range lengths {
			p := rep(k, 0x01)
			var pe *ProtocolError
			if err := parse(p); !errors.As(err, &pe) || pe.Type != typ {
				t.Errorf("%v decoder with %d bytes: %v, want a *ProtocolError", typ, k, err)
			}
		}
	}
}
