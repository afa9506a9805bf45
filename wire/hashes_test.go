package wire

import (
	"bytes"
	"testing"
)

// hashList returns n distinct hashes back to back.
func hashList(n int) []byte {
	b := make([]byte, 0, n*DigestLen)
	for i := range n {
		h := nonce(byte(i * 3))
		b = append(b, h[:]...)
	}
	return b
}

var validGetHashes = []namedFrame{
	{"GETHASHES/basic", GetHashes{Request: 1, Handle: 2, First: 0, Count: 64}},
	{"GETHASHES/one", GetHashes{Request: 3, Handle: 4, First: 0xffffffff, Count: 1}},
	{"GETHASHES/max", GetHashes{Request: 0xffffffff, Handle: 0xffffffff, First: 65535, Count: MaxHashCount}},
}

var validHashes = []namedFrame{
	{"HASHES/one", Hashes{Request: 1, First: 0, Hashes: hashList(1)}},
	{"HASHES/three", Hashes{Request: 2, First: 0xfffffffe, Hashes: hashList(3)}},
	{"HASHES/zero hashes", Hashes{Request: 3, First: 5, Hashes: make([]byte, 2*DigestLen)}},
}

func TestHashes_roundTrip(t *testing.T) {
	checkRoundTrip(t, validGetHashes)
	checkRoundTrip(t, validHashes)
}

func TestHashes_malformed(t *testing.T) {
	gh := func(req, handle, first, count uint32) []byte {
		return frame(TypeGetHashes, 0, be32(req), be32(handle), be32(first), be32(count))
	}
	hs := func(req uint32, hashes []byte) []byte {
		return frame(TypeHashes, 0, be32(req), be32(0), hashes)
	}
	checkRejects(t, []badFrame{
		{"GETHASHES/request 0", gh(0, 1, 0, 1), TypeGetHashes, "request is 0"},
		{"GETHASHES/handle 0", gh(1, 0, 0, 1), TypeGetHashes, "handle is 0"},
		{"GETHASHES/count 0", gh(1, 1, 0, 0), TypeGetHashes, "count 0 outside [1, 1048576]"},
		{"GETHASHES/count 2^20+1", gh(1, 1, 0, MaxHashCount+1), TypeGetHashes, "count 1048577 outside"},
		{"GETHASHES/count max", gh(1, 1, 0, 1<<32-1), TypeGetHashes, "count 4294967295 outside"},
		{"HASHES/request 0", hs(0, hashList(1)), TypeHashes, "request is 0"},
		{"HASHES/none", hs(1, nil), TypeHashes, "length 8 < min 40"},
		{"HASHES/31 bytes", hs(1, hashList(1)[:31]), TypeHashes, "length 39 < min 40"},
		{"HASHES/33 bytes", hs(1, append(hashList(1), 0)), TypeHashes, "33 bytes of hashes, not a multiple of 32"},
		{"HASHES/63 bytes", hs(1, hashList(2)[:63]), TypeHashes, "63 bytes of hashes"},
		{"HASHES/too many", frame(TypeHashes, 0, be32(1), be32(0), make([]byte, (MaxHashCount+1)*DigestLen)), TypeHashes, "length 33554472 > max 16777216"},
	})
}

func TestHashes_Hash(t *testing.T) {
	list := hashList(3)
	h := Hashes{Request: 1, First: 10, Hashes: list}
	if h.Count() != 3 {
		t.Fatalf("Count() = %d, want 3", h.Count())
	}
	for i := range 3 {
		want := Digest(nonce(byte(i * 3)))
		if got := h.Hash(i); got != want {
			t.Fatalf("Hash(%d) = %v, want %v", i, got, want)
		}
	}
	// A decoded frame aliases the buffer, capped at its own bytes.
	b := append(h.Append(nil), Ping{Opaque: 1}.Append(nil)...)
	f, n, err := ParseFrame(b, DefaultMaxFrame)
	if err != nil {
		t.Fatal(err)
	}
	got := f.(Hashes)
	if &got.Hashes[0] != &b[HeaderLen+8] {
		t.Fatal("Hashes does not alias the input")
	}
	if cap(got.Hashes) != len(got.Hashes) {
		t.Fatalf("cap(Hashes) = %d, want %d: appending would overwrite the next frame", cap(got.Hashes), len(got.Hashes))
	}
	if !bytes.Equal(b[n:], Ping{Opaque: 1}.Append(nil)) {
		t.Fatal("next frame changed")
	}
}
