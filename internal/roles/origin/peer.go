package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/aqueduct-cdn/aqueduct/internal/httpserve"
	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// peerHandler serves the content root over the peer protocol.
type peerHandler struct {
	root  *os.Root
	log   *slog.Logger
	descs *descCache
}

// Open implements peer.Handler.
func (h *peerHandler) Open(ctx context.Context, rel string) (peer.Object, error) {
	f, fi, err := safepath.Open(h.root, rel)
	if err != nil {
		var se *safepath.Error
		if errors.As(err, &se) {
			if se.Status() != 404 {
				h.log.Info("peer request refused", "path", rel, "reason", se.Reason)
			}
			return nil, peer.Errorf(se.Code(), "%s", se.Reason)
		}
		h.log.Error("open failed", "path", rel, "err", err)
		return nil, err
	}
	if fi.Size() > object.MaxSize {
		f.Close()
		return nil, peer.Errorf(wire.CodeForbidden, "file larger than %d bytes, the most the peer protocol carries", int64(object.MaxSize))
	}
	d, err := h.descs.get(ctx, h.root, rel, fi)
	if err != nil {
		f.Close()
		h.log.Error("cannot describe file", "path", rel, "err", err)
		return nil, err
	}
	meta := object.Meta{
		Path: rel, Size: fi.Size(), ModTime: fi.ModTime(), ETag: ETag(fi),
		ContentType: httpserve.ContentType(path.Base(rel)), BlockSize: d.blockSize, Digest: d.digest,
	}
	return &fileObject{f: f, fi: fi, meta: meta, hashes: d.hashes}, nil
}

// fileObject is an open file served to a peer.
type fileObject struct {
	f      *os.File
	fi     fs.FileInfo
	meta   object.Meta
	hashes object.Hashes
}

func (o *fileObject) Meta() object.Meta     { return o.meta }
func (o *fileObject) Hashes() object.Hashes { return o.hashes }
func (o *fileObject) Close() error          { return o.f.Close() }

// NewReader reads from the open file after checking that it is still the
// version described: a file rewritten since is refused with CHANGED rather
// than served mixed.
func (o *fileObject) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	fi, err := o.f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != o.fi.Size() || !fi.ModTime().Equal(o.fi.ModTime()) {
		return nil, peer.Errorf(wire.CodeChanged, "file changed since it was opened")
	}
	return io.NopCloser(io.NewSectionReader(o.f, off, n)), nil
}

// desc is a file version's block hashes and digest.
type desc struct {
	blockSize int64
	hashes    object.Hashes
	digest    object.Digest
}

// descKey identifies a version of a file.
type descKey struct {
	path       string
	dev, ino   uint64
	size       int64
	mtimeNanos int64
}

// descCache remembers descriptions, so that a file is hashed once per
// version; it holds at most maxBytes of hashes, evicting the oldest.
type descCache struct {
	mu       sync.Mutex
	m        map[descKey]*desc
	order    []descKey // insertion order, oldest first
	bytes    int64
	maxBytes int64
	sf       singleflight.Group
	log      *slog.Logger
	// ctx ends the hashing that outlives the callers that asked for it,
	// when the origin stops.
	ctx     context.Context
	stop    context.CancelFunc
	hashing int        // hashing in progress, under mu
	idle    *sync.Cond // signalled when hashing drops to 0
	closing bool
}

// enter counts a hashing in, unless the cache is closing.
func (c *descCache) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.hashing++
	return true
}

func (c *descCache) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hashing--; c.hashing == 0 {
		c.idle.Broadcast()
	}
}

// close stops the hashing in progress and waits for it.
func (c *descCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	c.stop()
	for c.hashing > 0 {
		c.idle.Wait()
	}
}

func newDescCache(maxBytes int64, log *slog.Logger) *descCache {
	ctx, stop := context.WithCancel(context.Background())
	c := &descCache{m: make(map[descKey]*desc), maxBytes: maxBytes, log: log, ctx: ctx, stop: stop}
	c.idle = sync.NewCond(&c.mu)
	return c
}

func keyOf(rel string, fi fs.FileInfo) descKey {
	k := descKey{path: rel, size: fi.Size(), mtimeNanos: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return k
}

// get returns the description of the version fi of the file rel, hashing
// it if needed. The hashing opens the file itself and runs to the end even
// if every caller gives up, so that one cancelled request never spoils the
// work for the others, and a file that takes long to hash is described
// once and cached.
func (c *descCache) get(ctx context.Context, root *os.Root, rel string, fi fs.FileInfo) (*desc, error) {
	k := keyOf(rel, fi)
	c.mu.Lock()
	d := c.m[k]
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	ch := c.sf.DoChan(fmt.Sprintf("%+v", k), func() (any, error) {
		if !c.enter() {
			return nil, peer.Errorf(wire.CodeShuttingDown, "origin shutting down")
		}
		defer c.leave()
		f, fi2, err := safepath.Open(root, rel)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if keyOf(rel, fi2) != k {
			return nil, peer.Errorf(wire.CodeChanged, "file changed while it was being opened")
		}
		start := time.Now()
		bs := object.BlockSizeFor(fi.Size())
		hashes, digest, err := object.Describe(c.ctx, f, fi.Size(), bs)
		if err != nil {
			return nil, err
		}
		d := &desc{blockSize: bs, hashes: hashes, digest: digest}
		c.put(k, d)
		if el := time.Since(start); el > 100*time.Millisecond {
			c.log.Debug("hashed file", "path", rel, "bytes", fi.Size(), "took", el)
		}
		return d, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*desc), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cost is what an entry counts against the cache's budget.
func (k descKey) cost(d *desc) int64 {
	return int64(len(d.hashes))*object.DigestSize + int64(len(k.path)) + 128
}

// full reports whether the cache is nine-tenths full: indexing stops there,
// leaving room for what is asked for.
func (c *descCache) full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes > c.maxBytes/10*9
}

func (c *descCache) put(k descKey, d *desc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = d
	c.order = append(c.order, k)
	c.bytes += k.cost(d)
	for c.bytes > c.maxBytes && len(c.order) > 1 {
		old := c.order[0]
		c.order = c.order[1:]
		if od := c.m[old]; od != nil {
			c.bytes -= old.cost(od)
			delete(c.m, old)
		}
	}
}
