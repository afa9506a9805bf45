package object

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"time"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Digest is a SHA-256 value: a block hash or an object digest. It is the
// same type as wire.Digest, the one digest type of Aqueduct.
type Digest = wire.Digest

// DigestSize is the length of a Digest in bytes.
const DigestSize = 32

// Block size bounds. The origin picks DefaultBlockSize unless the object
// would then have more than MaxBlocks blocks. No node accepts an object of
// more than MaxBlocks blocks, so a hash list never exceeds 2 MiB, nor
// blocks larger than MaxBlockSize, so that one READ (at most
// wire.MaxReadLength) fetches a block: objects of up to 1 TiB (MaxSize).
const (
	DefaultBlockSize = 256 << 10
	MaxBlocks        = 1 << 16
	MaxBlockSize     = wire.MaxReadLength
	MaxSize          = MaxBlocks * MaxBlockSize
)

// Meta is what a node knows about an object before it has any of its bytes.
type Meta struct {
	Path        string    // slash-separated, relative to the content root
	Size        int64     // bytes
	ModTime     time.Time // zero if unknown
	ETag        string    // HTTP entity tag with its quotes
	ContentType string    // HTTP media type
	BlockSize   int64     // a power of two
	Digest      Digest    // identifies the content; see package doc
}

// ErrBadHashes reports a hash list that does not match the object's digest.
var ErrBadHashes = errors.New("object: block hashes do not match the digest")

// ErrBadBlock reports a block whose bytes do not match its hash.
var ErrBadBlock = errors.New("object: block does not match its hash")

// Blocks is the number of blocks; an empty object has none.
func (m Meta) Blocks() int {
	if m.Size <= 0 || m.BlockSize <= 0 {
		return 0
	}
	return int((m.Size + m.BlockSize - 1) / m.BlockSize)
}

// BlockOffset is the offset of block i's first byte.
func (m Meta) BlockOffset(i int) int64 { return int64(i) * m.BlockSize }

// BlockLen is the length of block i (the last one may be short).
func (m Meta) BlockLen(i int) int64 {
	off := m.BlockOffset(i)
	if off >= m.Size {
		return 0
	}
	return min(m.BlockSize, m.Size-off)
}

// BlockSpan returns the blocks [first, last] that hold bytes [off, off+n).
// n must be positive and the range must lie within the object.
func (m Meta) BlockSpan(off, n int64) (first, last int) {
	return int(off / m.BlockSize), int((off + n - 1) / m.BlockSize)
}

// Validate checks the fields a peer sent.
func (m Meta) Validate() error {
	switch {
	case m.Size < 0 || m.Size > wire.MaxObjectSize:
		return fmt.Errorf("object: size %d out of range", m.Size)
	case m.BlockSize < wire.MinBlockSize || m.BlockSize > MaxBlockSize || bits.OnesCount64(uint64(m.BlockSize)) != 1:
		return fmt.Errorf("object: block size %d is not a power of two in [%d, %d]", m.BlockSize, wire.MinBlockSize, MaxBlockSize)
	case (m.Size+m.BlockSize-1)/m.BlockSize > MaxBlocks:
		return fmt.Errorf("object: %d bytes in blocks of %d is more than %d blocks", m.Size, m.BlockSize, MaxBlocks)
	}
	return nil
}

// String is for logs.
func (m Meta) String() string {
	return fmt.Sprintf("%s (%d bytes, digest %s)", m.Path, m.Size, ShortDigest(m.Digest))
}

// ShortDigest is the first 12 hex digits of d, for logs.
func ShortDigest(d Digest) string { return hex.EncodeToString(d[:6]) }

// BlockSizeFor is the block size the origin uses for an object of size
// bytes: the smallest power of two of at least DefaultBlockSize that keeps
// the object within MaxBlocks blocks.
func BlockSizeFor(size int64) int64 {
	b := int64(DefaultBlockSize)
	for size > b*MaxBlocks && b < MaxBlockSize {
		b <<= 1
	}
	return b
}

// Hashes is the list of an object's block hashes, in block order.
type Hashes []Digest

// Verify checks that block i of the object has the bytes b.
func (h Hashes) Verify(i int, b []byte) error {
	if i < 0 || i >= len(h) {
		return fmt.Errorf("%w: block %d of %d", ErrBadBlock, i, len(h))
	}
	if sha256.Sum256(b) != h[i] {
		return fmt.Errorf("%w: block %d", ErrBadBlock, i)
	}
	return nil
}

// ComputeDigest derives the object digest from its size, block size and
// block hashes.
func ComputeDigest(size, blockSize int64, h Hashes) Digest {
	d := sha256.New()
	d.Write([]byte("aqueduct/1 object\x00"))
	var hdr [12]byte
	binary.BigEndian.PutUint64(hdr[0:8], uint64(size))
	binary.BigEndian.PutUint32(hdr[8:12], uint32(blockSize))
	d.Write(hdr[:])
	for i := range h {
		d.Write(h[i][:])
	}
	var out Digest
	d.Sum(out[:0])
	return out
}

// VerifyHashes checks a hash list received from a peer against m.
func (m Meta) VerifyHashes(h Hashes) error {
	if len(h) != m.Blocks() {
		return fmt.Errorf("%w: %d hashes for %d blocks", ErrBadHashes, len(h), m.Blocks())
	}
	if ComputeDigest(m.Size, m.BlockSize, h) != m.Digest {
		return ErrBadHashes
	}
	return nil
}

// Describe reads size bytes from r and returns the block hashes and the
// digest for the given block size. It hashes blocks on up to GOMAXPROCS
// goroutines, each with one buffer of blockSize bytes; r must allow
// concurrent ReadAt calls (an *os.File does). It stops with ctx's error
// when ctx ends.
func Describe(ctx context.Context, r io.ReaderAt, size, blockSize int64) (Hashes, Digest, error) {
	m := Meta{Size: size, BlockSize: blockSize}
	if err := m.Validate(); err != nil {
		return nil, Digest{}, err
	}
	n := m.Blocks()
	h := make(Hashes, n)
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			buf := make([]byte, min(blockSize, max(size, 1)))
			for i := w; i < n; i += workers {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				b := buf[:m.BlockLen(i)]
				got, err := r.ReadAt(b, m.BlockOffset(i))
				if got == len(b) && errors.Is(err, io.EOF) {
					err = nil
				}
				if err != nil {
					errs[w] = fmt.Errorf("object: read block %d: %w", i, err)
					return
				}
				h[i] = sha256.Sum256(b)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, Digest{}, err
	}
	return h, ComputeDigest(size, blockSize, h), nil
}
