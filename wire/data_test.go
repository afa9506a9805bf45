package wire

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

var validData = []namedFrame{
	{"DATA/basic", Data{Request: 1, Seq: 0, Offset: 0, Payload: []byte("hello, world")}},
	{"DATA/fin", Data{Request: 2, Seq: 7, Offset: 1 << 20, Fin: true, Payload: []byte("last")}},
	{"DATA/fin empty", Data{Request: 3, Seq: 0xffffffff, Offset: 12345, Fin: true}},
	{"DATA/fin empty at end", Data{Request: 3, Seq: 1, Offset: MaxObjectSize, Fin: true}},
	{"DATA/one byte at end", Data{Request: 0xffffffff, Seq: 2, Offset: MaxObjectSize - 1, Payload: []byte{0}}},
	{"DATA/4KiB", Data{Request: 4, Seq: 3, Offset: 4096, Payload: bytes.Repeat([]byte{0xd5}, 4096)}},
}

func TestData_roundTrip(t *testing.T) { checkRoundTrip(t, validData) }

func TestData_malformed(t *testing.T) {
	data := func(flags uint8, req uint32, offset uint64, payload []byte) []byte {
		return frame(TypeData, flags, be32(req), be32(0), be64(offset), payload)
	}
	checkRejects(t, []badFrame{
		{"request 0", data(0, 0, 0, []byte("x")), TypeData, "request is 0"},
		{"request 0 fin", data(FlagFin, 0, 0, nil), TypeData, "request is 0"},
		{"empty without FIN", data(0, 1, 0, nil), TypeData, "empty without FIN"},
		{"end past 2^62", data(0, 1, MaxObjectSize, []byte("x")), TypeData, "offset 4611686018427387904 + 1 bytes > max 4611686018427387904"},
		{"end past 2^62 fin", data(FlagFin, 1, MaxObjectSize-2, []byte("xyz")), TypeData, "+ 3 bytes > max"},
		{"offset 2^62+1 empty fin", data(FlagFin, 1, MaxObjectSize+1, nil), TypeData, "offset 4611686018427387905 + 0 bytes"},
		{"offset 2^64-1", data(0, 1, 1<<64-1, []byte("x")), TypeData, "offset 18446744073709551615 + 1 bytes"},
		{"sum wraps to 0", data(0, 1, 1<<64-4, []byte("abcd")), TypeData, "+ 4 bytes > max"},
		{"flag 0x02", data(0x02, 1, 0, []byte("x")), TypeData, "undefined flags 0x02"},
		{"flags 0x81", data(0x81, 1, 0, []byte("x")), TypeData, "undefined flags 0x80"},
		{"short", frame(TypeData, FlagFin, be32(1), be32(0), be32(0)), TypeData, "length 12 < min 16"},
	})
}

func TestAppendDataHeader(t *testing.T) {
	for _, tc := range validData {
		d := tc.f.(Data)
		want := d.Append(nil)
		hdr := AppendDataHeader([]byte("x"), d.Request, d.Seq, d.Offset, d.Fin, len(d.Payload))
		if string(hdr[:1]) != "x" || len(hdr) != 1+HeaderLen+dataFixedLen {
			t.Fatalf("%s: AppendDataHeader = %x", tc.name, hdr)
		}
		if got := append(hdr[1:], d.Payload...); !bytes.Equal(got, want) {
			t.Fatalf("%s: header + payload = %x, want %x", tc.name, got, want)
		}
	}
}

// TestAppendDataHeader_invalid checks that impossible payload lengths give
// headers that every decoder rejects.
func TestAppendDataHeader_invalid(t *testing.T) {
	for _, n := range []int{-1, -16, -17, math.MinInt, math.MaxInt, MaxMaxFrame} {
		b := AppendDataHeader(nil, 1, 0, 0, true, n)
		_, err := ParseHeader(b, math.MaxUint32)
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("n = %d: header %x: %v, want a *ProtocolError", n, b[:HeaderLen], err)
		}
	}
}

func TestData_alias(t *testing.T) {
	next := Ping{Opaque: 5}.Append(nil)
	b := append(Data{Request: 1, Payload: []byte("abc")}.Append(nil), next...)
	f, n, err := ParseFrame(b, DefaultMaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	d := f.(Data)
	if &d.Payload[0] != &b[HeaderLen+dataFixedLen] {
		t.Fatal("Payload does not alias the input")
	}
	if cap(d.Payload) != len(d.Payload) {
		t.Fatalf("cap(Payload) = %d, want %d: appending would overwrite the next frame", cap(d.Payload), len(d.Payload))
	}
	_ = append(d.Payload, "zzzzzzzz"...)
	if !bytes.Equal(b[n:], next) {
		t.Fatal("next frame changed")
	}
}

func BenchmarkAppendData(b *testing.B) {
	payload := make([]byte, 128<<10)
	d := Data{Request: 1, Seq: 2, Offset: 1 << 30, Payload: payload}
	b.Run("Append-128KiB", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(d.Len()))
		buf := make([]byte, 0, d.Len())
		for b.Loop() {
			buf = d.Append(buf[:0])
		}
	})
	b.Run("AppendDataHeader", func(b *testing.B) {
		// The writev path: only the 24 header bytes are encoded; the
		// payload is written from its own buffer.
		b.ReportAllocs()
		b.SetBytes(int64(d.Len()))
		buf := make([]byte, 0, HeaderLen+dataFixedLen)
		for b.Loop() {
			buf = AppendDataHeader(buf[:0], d.Request, d.Seq, d.Offset, true, len(payload))
		}
	})
}
