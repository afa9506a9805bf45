package wire

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

var validObject = []namedFrame{
	{"OBJECT/basic", Object{
		Request: 1, Handle: 2, Size: 123456789, ModTime: 1732060800123456789, BlockSize: 256 << 10,
		Digest: Digest(nonce(7)), ETag: `"5f2a-1c0000"`, ContentType: "video/mp4",
	}},
	{"OBJECT/empty", Object{Request: 3, Handle: 4, BlockSize: MinBlockSize}},
	{"OBJECT/stale", Object{Request: 3, Handle: 4, Size: 9, BlockSize: MinBlockSize, ETag: `"e"`, Stale: true}},
	{"OBJECT/limits", Object{
		Request: 0xffffffff, Handle: 0xffffffff, Size: MaxObjectSize, ModTime: -1 << 63, BlockSize: MaxBlockSize,
		Digest: Digest(nonce(0xe0)), ETag: strings.Repeat("e", 255), ContentType: strings.Repeat("c", 255),
	}},
	{"OBJECT/negative mtime", Object{Request: 5, Handle: 6, Size: 1, ModTime: -1, BlockSize: 1 << 20, ContentType: "text/plain; charset=utf-8"}},
	{"OBJECT/utf8", Object{Request: 5, Handle: 6, Size: 1, ModTime: 1<<63 - 1, BlockSize: 1 << 24, ETag: `W/"ü"`}},
}

func TestObject_roundTrip(t *testing.T) { checkRoundTrip(t, validObject) }

func TestObject_malformed(t *testing.T) {
	d := nonce(7)
	object := func(req, handle uint32, size uint64, blockSize uint32, rest ...[]byte) []byte {
		return frame(TypeObject, 0, append([][]byte{be32(req), be32(handle), be64(size), be64(0), be32(blockSize), d[:]}, rest...)...)
	}
	const bs = 1 << 20
	strs := [][]byte{s8(`"x"`), s8("video/mp4")}
	var cases []badFrame
	add := func(name string, b []byte, reason string) {
		cases = append(cases, badFrame{name, b, TypeObject, reason})
	}
	add("request 0", object(0, 1, 1, bs, strs...), "request is 0")
	add("handle 0", object(1, 0, 1, bs, strs...), "handle is 0")
	add("size 2^62+1", object(1, 1, MaxObjectSize+1, bs, strs...), "size 4611686018427387905 > max 4611686018427387904")
	add("size 2^64-1", object(1, 1, 1<<64-1, bs, strs...), "size 18446744073709551615 > max")
	for _, v := range []uint32{0, 1, 2, 32 << 10, 64<<10 - 1, 64<<10 + 1, 3 << 16, 96 << 10, 64<<20 - 1, 64<<20 + 1, 128 << 20, 1 << 31, 1<<32 - 1} {
		add("block_size "+strconv.Itoa(int(v)), object(1, 1, 1, v, strs...), "block_size "+strconv.Itoa(int(v))+" is not a power of two in [65536, 67108864]")
	}
	add("etag past end", object(1, 1, 1, bs, []byte{9, 'a'}), "etag length 9 > 1 bytes left")
	add("content_type missing", object(1, 1, 1, bs, s8("ab")), "content_type length missing")
	add("content_type past end", object(1, 1, 1, bs, s8(""), []byte{3, 'a', 'b'}), "content_type length 3 > 2 bytes left")
	add("trailing", object(1, 1, 1, bs, s8(""), s8(""), []byte{0}), "1 trailing bytes")
	add("etag bad utf8", object(1, 1, 1, bs, s8("\"\xff\""), s8("")), "etag is not valid UTF-8")
	add("content_type bad utf8", object(1, 1, 1, bs, s8(""), s8("text/\xc3")), "content_type is not valid UTF-8")
	checkRejects(t, cases)
}

func TestDigest_String(t *testing.T) {
	d := Digest(nonce(0))
	want := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	if got := d.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := (Digest{}).String(); got != strings.Repeat("0", 64) || len(got) != 2*DigestLen {
		t.Fatalf("zero String() = %q", got)
	}
	o := validObject[0].f.(Object)
	if b := o.Append(nil); !bytes.Equal(b[HeaderLen+28:HeaderLen+60], o.Digest[:]) {
		t.Fatal("digest not at payload offset 28")
	}
}
