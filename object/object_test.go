package object

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestBlocks(t *testing.T) {
	for _, tc := range []struct {
		size, bs    int64
		blocks      int
		lastLen     int64
		off, n      int64
		first, last int
	}{
		{0, 1 << 18, 0, 0, 0, 1, 0, 0},
		{1, 1 << 18, 1, 1, 0, 1, 0, 0},
		{1 << 18, 1 << 18, 1, 1 << 18, (1 << 18) - 1, 1, 0, 0},
		{1<<18 + 1, 1 << 18, 2, 1, (1 << 18) - 1, 2, 0, 1},
		{10 << 20, 1 << 18, 40, 1 << 18, 5 << 18, 1 << 18, 5, 5},
	} {
		m := Meta{Size: tc.size, BlockSize: tc.bs}
		if got := m.Blocks(); got != tc.blocks {
			t.Errorf("size %d: %d blocks, want %d", tc.size, got, tc.blocks)
		}
		if tc.blocks > 0 {
			if got := m.BlockLen(tc.blocks - 1); got != tc.lastLen {
				t.Errorf("size %d: last block %d bytes, want %d", tc.size, got, tc.lastLen)
			}
			if f, l := m.BlockSpan(tc.off, tc.n); f != tc.first || l != tc.last {
				t.Errorf("size %d span %d+%d: %d..%d, want %d..%d", tc.size, tc.off, tc.n, f, l, tc.first, tc.last)
			}
		}
	}
}

func TestBlockSizeFor(t *testing.T) {
	for _, tc := range []struct{ size, want int64 }{
		{0, 256 << 10},
		{16 << 30, 256 << 10},
		{16<<30 + 1, 512 << 10},
		{1 << 40, 16 << 20},
		{1<<40 + 1, 16 << 20}, // beyond MaxSize: the origin refuses it
	} {
		if got := BlockSizeFor(tc.size); got != tc.want {
			t.Errorf("BlockSizeFor(%d) = %d, want %d", tc.size, got, tc.want)
		}
		m := Meta{Size: tc.size, BlockSize: BlockSizeFor(tc.size)}
		if tc.size <= MaxSize && m.Blocks() > MaxBlocks {
			t.Errorf("size %d: %d blocks", tc.size, m.Blocks())
		}
	}
}

func TestDescribeVerify(t *testing.T) {
	data := make([]byte, 3<<18+5)
	for i := range data {
		data[i] = byte(i*7 + i>>18)
	}
	const bs = 1 << 18
	h, d, err := Describe(context.Background(), bytes.NewReader(data), int64(len(data)), bs)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 || h[3] != sha256.Sum256(data[3<<18:]) {
		t.Fatal("wrong hashes")
	}
	m := Meta{Size: int64(len(data)), BlockSize: bs, Digest: d}
	if err := m.VerifyHashes(h); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := h.Verify(i, data[i*bs:min((i+1)*bs, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	bad := append(Hashes(nil), h...)
	bad[2][0] ^= 1
	if err := m.VerifyHashes(bad); !errors.Is(err, ErrBadHashes) {
		t.Fatalf("tampered list: %v", err)
	}
	if err := m.VerifyHashes(h[:3]); !errors.Is(err, ErrBadHashes) {
		t.Fatalf("short list: %v", err)
	}
	if err := h.Verify(1, data[:bs]); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("wrong block: %v", err)
	}
	if err := h.Verify(9, nil); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("out of range: %v", err)
	}
	// The digest depends on the size and the block size, not only on the
	// hashes.
	if ComputeDigest(m.Size+1, bs, h) == d || ComputeDigest(m.Size, bs*2, h) == d {
		t.Fatal("digest ignores size or block size")
	}
	// A short reader is an error.
	if _, _, err := Describe(context.Background(), bytes.NewReader(data[:100]), int64(len(data)), bs); err == nil {
		t.Fatal("Describe of a short reader succeeded")
	}
}

func TestValidate(t *testing.T) {
	for _, m := range []Meta{
		{Size: -1, BlockSize: 1 << 18},
		{Size: 1, BlockSize: 1000},
		{Size: 1, BlockSize: 1 << 10},
		{Size: 1, BlockSize: 1 << 27},
		{Size: 1, BlockSize: 32 << 20}, // larger than one READ
		{Size: 1 << 62, BlockSize: 1 << 16},
	} {
		if err := m.Validate(); err == nil {
			t.Errorf("%+v accepted", m)
		}
	}
	if err := (Meta{Size: 5, BlockSize: 1 << 16}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	block := make([]byte, DefaultBlockSize)
	h := Hashes{sha256.Sum256(block)}
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		if err := h.Verify(0, block); err != nil {
			b.Fatal(err)
		}
	}
}
