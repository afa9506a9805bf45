package wire

import "testing"

var validRead = []namedFrame{
	{"READ/basic", Read{Request: 1, Handle: 2, Offset: 0, Length: 256 << 10}},
	{"READ/one byte", Read{Request: 0xffffffff, Handle: 0xffffffff, Offset: MaxObjectSize - 1, Length: 1}},
	{"READ/max", Read{Request: 3, Handle: 4, Offset: MaxObjectSize - MaxReadLength, Length: MaxReadLength}},
}

func TestRead_roundTrip(t *testing.T) { checkRoundTrip(t, validRead) }

func TestRead_malformed(t *testing.T) {
	read := func(req, handle uint32, offset uint64, length uint32) []byte {
		return frame(TypeRead, 0, be32(req), be32(handle), be64(offset), be32(length))
	}
	checkRejects(t, []badFrame{
		{"request 0", read(0, 1, 0, 1), TypeRead, "request is 0"},
		{"handle 0", read(1, 0, 0, 1), TypeRead, "handle is 0"},
		{"length 0", read(1, 1, 0, 0), TypeRead, "length 0 outside [1, 16777216]"},
		{"length 16MiB+1", read(1, 1, 0, MaxReadLength+1), TypeRead, "length 16777217 outside"},
		{"length max", read(1, 1, 0, 1<<32-1), TypeRead, "length 4294967295 outside"},
		{"end 2^62+1", read(1, 1, MaxObjectSize, 1), TypeRead, "offset 4611686018427387904 + length 1 > max 4611686018427387904"},
		{"end past 2^62", read(1, 1, MaxObjectSize-MaxReadLength+1, MaxReadLength), TypeRead, "> max 4611686018427387904"},
		{"offset 2^64-1", read(1, 1, 1<<64-1, 1), TypeRead, "offset 18446744073709551615 + length 1"},
		{"sum wraps to 0", read(1, 1, 1<<64-MaxReadLength, MaxReadLength), TypeRead, "+ length 16777216"},
	})
}
