package transfer

import (
	"sync"
	"sync/atomic"
)

// block is a verified (or arriving) block's bytes, shared by reference
// count between the readers that want it and the cache writer. The last
// release returns the buffer to its pool.
type block struct {
	buf  []byte
	refs atomic.Int32
	pool *sync.Pool
}

func (b *block) retain(n int32) { b.refs.Add(n) }

func (b *block) release() {
	switch n := b.refs.Add(-1); {
	case n == 0:
		buf := b.buf[:cap(b.buf)]
		b.buf = nil
		b.pool.Put(&buf)
	case n < 0:
		panic("transfer: block released too often")
	}
}

// pools hands out block buffers, one pool per block size.
type pools struct {
	mu sync.Mutex
	m  map[int64]*sync.Pool
}

// get returns a block of n bytes from the pool for blocks of blockSize,
// holding one reference.
func (p *pools) get(blockSize, n int64) *block {
	p.mu.Lock()
	if p.m == nil {
		p.m = make(map[int64]*sync.Pool)
	}
	pool := p.m[blockSize]
	if pool == nil {
		pool = &sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}
		p.m[blockSize] = pool
	}
	p.mu.Unlock()
	buf := *(pool.Get().(*[]byte))
	b := &block{buf: buf[:n], pool: pool}
	b.refs.Store(1)
	return b
}
