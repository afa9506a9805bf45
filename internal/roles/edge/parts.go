package edge

import (
	"context"
	"io"

	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// parts serves the parts of one multipart/byteranges response through the
// engine so that each block the ranges touch is fetched once: the block a
// part ends in is kept, and a later part that lies within it is served from
// there. (Opened one by one, 64 one-byte ranges in one block fetched that
// block 64 times: 16 MiB upstream for a 10 KB answer.) It holds one block
// per response.
type parts struct {
	o    *transfer.Object
	bs   int64
	size int64

	memo    []byte // the last block read, from memoOff
	memoOff int64  // -1 while memo holds nothing
}

func newParts(o *transfer.Object) *parts {
	m := o.Meta()
	return &parts{o: o, bs: m.BlockSize, size: m.Size, memoOff: -1}
}

// open is an httpserve.OpenFunc.
func (p *parts) open(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if p.memoOff >= 0 && off >= p.memoOff && off+n <= p.memoOff+int64(len(p.memo)) {
		from := off - p.memoOff
		return io.NopCloser(&memoReader{b: p.memo[from : from+n]}), nil
	}
	last := (off + n - 1) / p.bs * p.bs // start of the block the part ends in
	start := min(off, last)
	end := min(p.size, last+p.bs)
	r, err := p.o.NewReader(ctx, start, end-start)
	if err != nil {
		return nil, err
	}
	p.memoOff = -1
	if cap(p.memo) < int(end-last) {
		p.memo = make([]byte, 0, end-last)
	}
	pr := &partReader{p: p, r: r, pos: start, off: off, end: off + n, blockStart: last, blockEnd: end}
	p.memo = p.memo[:0]
	return pr, nil
}

type memoReader struct{ b []byte }

func (m *memoReader) Read(b []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	n := copy(b, m.b)
	m.b = m.b[n:]
	return n, nil
}

// partReader reads a part's bytes [off, end) from an engine reader that
// starts at or before off and runs to the end of the part's last block,
// keeping that block's bytes for the next parts.
type partReader struct {
	p                    *parts
	r                    *transfer.Reader
	pos                  int64 // next byte of r
	off, end             int64 // the part
	blockStart, blockEnd int64 // the block kept
	buf                  [32 << 10]byte
}

// next reads the next bytes of r into dst, keeping what falls in the kept
// block.
func (pr *partReader) next(dst []byte) (int, error) {
	n, err := pr.r.Read(dst)
	if n > 0 {
		if from := max(pr.pos, pr.blockStart); from < pr.pos+int64(n) {
			pr.p.memo = append(pr.p.memo, dst[from-pr.pos:n]...)
		}
		pr.pos += int64(n)
	}
	return n, err
}

func (pr *partReader) Read(b []byte) (int, error) {
	for pr.pos < pr.off { // bytes of the kept block before the part
		k := min(int64(len(pr.buf)), pr.off-pr.pos)
		if _, err := pr.next(pr.buf[:k]); err != nil {
			return 0, err
		}
	}
	if pr.pos >= pr.end {
		return 0, io.EOF
	}
	return pr.next(b[:min(int64(len(b)), pr.end-pr.pos)])
}

// Close reads the rest of the kept block, then releases the engine
// reader; the block is kept only if it all came.
func (pr *partReader) Close() error {
	defer pr.r.Close()
	for pr.pos < pr.blockEnd {
		k := min(int64(len(pr.buf)), pr.blockEnd-pr.pos)
		if _, err := pr.next(pr.buf[:k]); err != nil {
			pr.p.memo = pr.p.memo[:0] // the next parts fetch again
			return nil
		}
	}
	pr.p.memoOff = pr.blockStart
	return nil
}
