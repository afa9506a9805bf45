package transfer

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/tcpinfo"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer/internal/sched"
	"github.com/aqueduct-cdn/aqueduct/wire"
	"golang.org/x/sync/singleflight"
)

// objState is an object the engine knows, shared by everyone who opened
// content with its digest. refs (under Engine.mu) counts the manifest
// cache entries and open Objects and Readers that use it; at zero the loop
// forgets it.
type objState struct {
	id     sched.ObjectID
	meta   object.Meta
	hashes object.Hashes
	refs   int
	via    []wire.NodeID          // the relays it was opened for, under Engine.mu
	upPath atomic.Pointer[string] // the path to OPEN upstream
}

func (o *objState) path() string { return *o.upPath.Load() }

// manifestCache maps paths to what they held when last asked, in LRU order,
// within a count and a byte budget (hash lists are up to 2 MiB each).
type manifestCache struct {
	max      int
	maxBytes int64
	bytes    int64
	m        map[string]*list.Element
	order    *list.List // of *manifest, most recent first
}

// cost is what a manifest counts against the byte budget: its hashes (even
// when shared with another path) and its strings.
func (m *manifest) cost() int64 {
	return int64(len(m.st.hashes))*object.DigestSize + int64(len(m.path)+len(m.meta.ETag)+len(m.meta.ContentType)) + 256
}

type manifest struct {
	path    string
	meta    object.Meta // this path's metadata (ETag, time) for the shared state
	st      *objState
	fetched time.Time
	stale   bool // the upstream said it could not revalidate it (wire.Object.Stale)
}

func (c *manifestCache) init(max int, maxBytes int64) {
	c.max, c.maxBytes, c.m, c.order = max, maxBytes, make(map[string]*list.Element), list.New()
}

// Object is an open object: its description and hashes, and a way to read
// it. Close it when done; its Readers keep working until they are closed.
type Object struct {
	e      *Engine
	st     *objState
	meta   object.Meta
	stale  bool
	closed atomic.Bool
}

// Stale reports that the description could not be revalidated: no
// upstream could be reached past ManifestTTL and the engine serves the
// one it had (for up to StaleIfError), or the upstream itself said so.
func (o *Object) Stale() bool { return o.stale }

// Meta describes the object.
func (o *Object) Meta() object.Meta { return o.meta }

// Hashes are the object's verified block hashes.
func (o *Object) Hashes() object.Hashes { return o.st.hashes }

// Close releases the object.
func (o *Object) Close() error {
	if o.closed.CompareAndSwap(false, true) {
		o.e.stats.objects.Add(-1)
		o.e.unref(o.st)
	}
	return nil
}

// Open returns the object at path, from the manifest cache if it is fresh,
// else from an upstream. Errors from the upstream that describe the object
// (not found, forbidden) are returned as *peer.Error; when no upstream can
// answer, the error wraps ErrUnreachable or the last upstream's error.
//
// via lists the relays the request has passed on its way here (a relay
// passes on peer.Via of the request it serves). An engine with
// Config.Forward set sends them upstream with its own node ID added, and
// refuses with LOOP a request that would pass more than wire.MaxVia relays.
// The object remembers every relay it was opened for, and the OPENs that
// fetch its blocks carry them too, so that two relays that are each
// other's upstream never wait on each other for a block.
func (e *Engine) Open(ctx context.Context, path string, via ...wire.NodeID) (*Object, error) {
	up, err := e.via(via)
	if err != nil {
		return nil, err
	}
	if o := e.cached(path, via, false); o != nil {
		return o, nil
	}
	// Requests that came different ways are fetched apart: joining a
	// fetch that is itself waiting on this request's way back would wait
	// for itself.
	key := path
	for _, id := range via {
		key += fmt.Sprintf("\x00%x", uint64(id))
	}
	ch := e.sf.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(e.ctx, e.cfg.OpenTimeout)
		defer cancel()
		return nil, e.fetchManifest(fctx, path, up)
	})
	// With a stale description to fall back on, a slow revalidation (an
	// upstream that is down but not yet known to be: its dial or its
	// connection times out) is waited for only staleWait; it goes on, and
	// its answer is what the next open finds.
	var slow <-chan time.Time
	if e.cfg.StaleIfError > 0 && e.holdsStale(path) {
		t := e.cfg.clock.NewTimer(staleWait)
		defer t.Stop()
		slow = t.Chan()
	}
	var r singleflight.Result
	for got := false; !got; {
		select {
		case r = <-ch:
			got = true
		case <-slow:
			slow = nil
			if o := e.staleObject(path, via); o != nil {
				return o, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.Err != nil {
		if staleOK(r.Err) {
			if o := e.staleObject(path, via); o != nil {
				return o, nil
			}
		}
		if errors.Is(r.Err, ErrUnreachable) {
			e.hurry()
		}
		return nil, r.Err
	}
	if o := e.cached(path, via, false); o != nil {
		return o, nil
	}
	return nil, fmt.Errorf("transfer: %s: description expired at once; ManifestTTL too short", path)
}

// staleWait is how long an open with a stale description to fall back on
// waits for the upstreams to revalidate it.
const staleWait = time.Second

// staleObject returns an Object for path from a description past its
// ManifestTTL but within StaleIfError, or nil: the idea of RFC 5861's
// stale-if-error, as what this node holds beats nothing while its
// upstreams are down. It asks for the upstreams to be redialed now.
func (e *Engine) staleObject(path string, via []wire.NodeID) *Object {
	if e.cfg.StaleIfError <= 0 {
		return nil
	}
	o := e.cached(path, via, true)
	if o != nil {
		e.stats.stale.Add(1)
		e.hurry()
	}
	return o
}

// holdsStale reports whether the cache holds a description of path that
// may still be served stale (see lookupLocked).
func (e *Engine) holdsStale(path string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	el, _ := e.lookupLocked(path, true)
	return el != nil
}

// lookupLocked returns the cache's element for path's description if it is
// fresh (or, with stale, within StaleIfError), and whether it is stale. A
// description that the upstream said is stale is fresh for staleWait only,
// so that a node behind a relay sees the origin come back soon after the
// relay does. e.mu is held.
func (e *Engine) lookupLocked(path string, stale bool) (*list.Element, bool) {
	el := e.manifests.m[path]
	if el == nil {
		return nil, false
	}
	m := el.Value.(*manifest)
	age := e.cfg.clock.Since(m.fetched)
	ttl := e.cfg.ManifestTTL
	if m.stale {
		ttl = min(ttl, staleWait)
	}
	limit := ttl
	if stale {
		limit = max(ttl, e.cfg.StaleIfError)
	}
	if age >= limit {
		return nil, false
	}
	return el, m.stale || age >= ttl
}

// cached returns an Object for path if the cache holds a fresh
// description (or, with stale, one within StaleIfError; see lookupLocked), and
// adds via to the relays the object is open for.
func (e *Engine) cached(path string, via []wire.NodeID, stale bool) *Object {
	e.mu.Lock()
	defer e.mu.Unlock()
	el, isStale := e.lookupLocked(path, stale)
	if el == nil {
		return nil
	}
	m := el.Value.(*manifest)
	e.manifests.order.MoveToFront(el)
	m.st.refs++
	m.st.addVia(via)
	e.stats.objects.Add(1)
	return &Object{e: e, st: m.st, meta: m.meta, stale: isStale}
}

// Hedged descriptions. An upstream connection that is up but does not
// answer (its node is frozen, or its path black-holes) would hold an open
// for the whole OpenTimeout: an open that has no answer after hedgeAfter
// (or four round trips of the connection, if longer) asks again on another
// connection, another upstream's where there is one, and takes the first
// answer; the others are cancelled. At most maxAttempts run at once.
const (
	hedgeAfter  = 750 * time.Millisecond
	maxAttempts = 3
)

// fetchManifest asks upstreams for path's description and hashes and puts
// them in the cache.
func (e *Engine) fetchManifest(ctx context.Context, path string, via []wire.NodeID) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the attempts that lost
	type result struct {
		c   *engConn
		d   description
		err error
	}
	// Every upstream once, a few hedges and retries: each attempt sends
	// one result into the buffer, so none waits when this returns.
	budget := len(e.cfg.Upstreams) + 2*maxAttempts
	results := make(chan result, budget)
	var (
		tried   sched.UpSet // upstreams that answered with an error
		running []*engConn
		lastErr error
	)
	hedge := time.NewTimer(time.Hour)
	defer hedge.Stop()
	start := func(c *engConn) {
		budget--
		running = append(running, c)
		e.wg.Go(func() {
			d, err := e.describe(ctx, c, path, via)
			results <- result{c, d, err}
		})
		d := hedgeAfter
		if ti, err := tcpinfo.Get(c.pc.NetConn()); err == nil {
			d = max(d, 4*ti.RTT)
		}
		hedge.Reset(d)
	}
	for {
		if len(running) == 0 {
			if budget <= 0 || tried == sched.UpSet(1)<<len(e.cfg.Upstreams)-1 {
				return lastErr // every upstream answered
			}
			c, err := e.pickConn(ctx, tried, nil)
			if err != nil {
				if lastErr != nil {
					return fmt.Errorf("%w (last upstream error: %w)", err, lastErr)
				}
				return err
			}
			start(c)
		}
		select {
		case r := <-results:
			running = slices.DeleteFunc(running, func(c *engConn) bool { return c == r.c })
			if r.err == nil {
				e.remember(path, r.d)
				return nil
			}
			var pe *peer.Error
			switch {
			case ctx.Err() != nil:
				return e.unreachable(ctx.Err())
			case errors.Is(r.err, peer.ErrTooMany):
				// The connection is full for a moment: not the
				// upstream's fault. Try again shortly, this upstream
				// included.
				lastErr = r.err
				if len(running) == 0 {
					select {
					case <-time.After(10 * time.Millisecond):
					case <-ctx.Done():
					}
				}
				continue
			case errors.As(r.err, &pe) && pe.Code.Final():
				return r.err // the path's own answer: every node applies the same rules
			}
			e.log.Debug("upstream could not describe object", "upstream", r.c.addr, "path", path, "err", r.err)
			tried.Add(r.c.up)
			// A replica may lack what another has: NOT_FOUND is the answer
			// only when no upstream has the object.
			if !notFound(lastErr) {
				lastErr = r.err
			}
			if notFound(lastErr) && len(running) > 0 {
				// The others get one more hedge delay (see below),
				// even when every attempt has been made already.
				hedge.Reset(hedgeAfter)
			}
		case <-hedge.C:
			var c *engConn
			if len(running) < maxAttempts && budget > 0 {
				c, _ = e.pickConn(ctx, tried, running)
			}
			if notFound(lastErr) && (c == nil || slices.ContainsFunc(running, func(r *engConn) bool { return r.up == c.up })) {
				// An upstream has said NOT_FOUND, and the ones still
				// asked are slow past the hedge delay: they do not
				// hold that answer hostage until the open times out.
				return lastErr
			}
			if c != nil {
				e.stats.hedges.Add(1)
				e.log.Debug("upstream slow to describe object; asking another too", "upstream", running[0].addr, "path", path, "other", c.addr)
				start(c)
			}
		case <-ctx.Done():
			return e.unreachable(ctx.Err())
		}
	}
}

// notFound reports whether err is an upstream's NOT_FOUND answer.
func notFound(err error) bool {
	var pe *peer.Error
	return errors.As(err, &pe) && pe.Code == wire.CodeNotFound
}

// description is what an upstream said of an object: its metadata, its
// block hashes, and whether it could not revalidate them (wire.Object.Stale).
type description struct {
	meta   object.Meta
	hashes object.Hashes
	stale  bool
}

// describe opens path on c and fetches and verifies the hash list. If the
// cache already holds the same content, the hashes are not fetched again.
// For a path it has not seen, it asks for the first page of hashes right
// behind the OPEN, so that the description and the hashes of an object of
// up to MaxHashes blocks come in one round trip.
func (e *Engine) describe(ctx context.Context, c *engConn, path string, via []wire.NodeID) (description, error) {
	select {
	case c.describes <- struct{}{}:
		defer func() { <-c.describes }()
	case <-ctx.Done():
		return description{}, ctx.Err()
	}
	e.mu.Lock()
	_, seen := e.manifests.m[path]
	e.mu.Unlock()
	type opened struct {
		o   wire.Object
		err error
	}
	och := make(chan opened, 1)
	h, err := c.pc.OpenAsync(path, via, func(o wire.Object, err error) { och <- opened{o, err} })
	if err != nil {
		return description{}, err
	}
	defer c.pc.CloseHandle(h)
	type page struct {
		b   []byte
		err error
	}
	var pch chan page
	if !seen {
		pch = make(chan page, 1)
		go func() {
			b, err := c.pc.Hashes(ctx, h, 0, uint32(c.pc.MaxHashes()))
			pch <- page{b, err}
		}()
	}
	firstPage := func() page {
		if pch == nil {
			return page{}
		}
		p := <-pch
		pch = nil
		return p
	}
	defer firstPage() // never leave the goroutine behind
	var r opened
	select {
	case r = <-och:
	case <-ctx.Done():
		return description{}, ctx.Err()
	}
	if r.err != nil {
		return description{}, r.err
	}
	o := r.o
	meta := object.Meta{
		Path: path, Size: int64(o.Size), ModTime: time.Unix(0, o.ModTime), ETag: o.ETag,
		ContentType: o.ContentType, BlockSize: int64(o.BlockSize), Digest: o.Digest,
	}
	if o.ModTime == 0 {
		meta.ModTime = time.Time{}
	}
	if err := meta.Validate(); err != nil {
		return description{}, err
	}
	e.mu.Lock()
	st := e.byDigest[meta.Digest]
	e.mu.Unlock()
	if st != nil && st.meta.Size == meta.Size && st.meta.BlockSize == meta.BlockSize {
		return description{meta, st.hashes, r.o.Stale}, nil
	}
	n := meta.Blocks()
	var hashes object.Hashes // grown as pages arrive: n is the peer's word
	appendPage := func(raw []byte) {
		for i := 0; i+wire.DigestLen <= len(raw) && len(hashes) < n; i += wire.DigestLen {
			hashes = append(hashes, object.Digest(raw[i:i+wire.DigestLen]))
		}
	}
	if p := firstPage(); n > 0 && p.err == nil {
		appendPage(p.b)
	}
	for len(hashes) < n {
		count := min(n-len(hashes), c.pc.MaxHashes())
		raw, err := c.pc.Hashes(ctx, h, uint32(len(hashes)), uint32(count))
		if err != nil {
			return description{}, err
		}
		if len(raw) == 0 {
			return description{}, fmt.Errorf("transfer: %s: empty HASHES page", path)
		}
		appendPage(raw)
	}
	if err := meta.VerifyHashes(hashes); err != nil {
		e.log.Error("upstream sent block hashes that do not match the digest", "upstream", c.addr, "path", path)
		return description{}, err
	}
	return description{meta, hashes, r.o.Stale}, nil
}

// remember caches path's description, sharing state with other paths of
// the same content.
func (e *Engine) remember(path string, d description) {
	meta, hashes := d.meta, d.hashes
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.byDigest[meta.Digest]
	if st == nil {
		e.nextObj++
		st = &objState{id: e.nextObj, meta: meta, hashes: hashes}
		e.byDigest[meta.Digest] = st
	}
	p := path
	st.upPath.Store(&p)
	st.refs++
	m := &manifest{path: path, meta: meta, st: st, fetched: e.cfg.clock.Now(), stale: d.stale}
	mc := &e.manifests
	if el := mc.m[path]; el != nil {
		old := el.Value.(*manifest)
		el.Value = m
		mc.order.MoveToFront(el)
		mc.bytes -= old.cost()
		e.unrefLocked(old.st)
	} else {
		mc.m[path] = mc.order.PushFront(m)
	}
	mc.bytes += m.cost()
	for mc.order.Len() > 1 && (mc.order.Len() > mc.max || mc.bytes > mc.maxBytes) {
		el := mc.order.Back()
		old := el.Value.(*manifest)
		mc.order.Remove(el)
		delete(mc.m, old.path)
		mc.bytes -= old.cost()
		e.unrefLocked(old.st)
	}
}

func (e *Engine) unref(st *objState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unrefLocked(st)
}

func (e *Engine) unrefLocked(st *objState) {
	st.refs--
	if st.refs > 0 {
		return
	}
	if e.byDigest[st.meta.Digest] == st {
		delete(e.byDigest, st.meta.Digest)
	}
	e.wg.Go(func() { e.post(evForget{obj: st.id}) })
}

// pickConn returns a ready connection to an upstream not in tried. With
// busy, the connections that already have an attempt, it picks another
// connection, of another upstream if there is one, and returns nil at once
// if there is none; without, it waits for a connection while some upstream
// is being dialed.
func (e *Engine) pickConn(ctx context.Context, tried sched.UpSet, busy []*engConn) (*engConn, error) {
	var busyUps sched.UpSet
	for _, c := range busy {
		busyUps.Add(c.up)
	}
	for {
		e.mu.Lock()
		ready, gen, usable := e.ready, e.readyGen, e.usable
		e.mu.Unlock()
		// Round robin over the usable connections spreads descriptions
		// over the upstreams.
		start := int(e.openRR.Add(1))
		var spare *engConn
		for i := range ready {
			c := ready[(start+i)%len(ready)]
			if tried.Has(c.up) || c.pc.Err() != nil || c.pc.GoingAway() || slices.Contains(busy, c) {
				continue
			}
			if !busyUps.Has(c.up) {
				return c, nil
			}
			if spare == nil {
				spare = c
			}
		}
		if spare != nil || len(busy) > 0 {
			return spare, nil
		}
		if usable&^tried == 0 {
			// No upstream left to try is reachable or being dialed.
			return nil, e.unreachable(nil)
		}
		select {
		case <-gen:
		case <-ctx.Done():
			return nil, e.unreachable(ctx.Err())
		}
	}
}

// via is the via list to send upstream for a request that passed via: with
// this node's ID, if it has one.
func (e *Engine) via(via []wire.NodeID) ([]wire.NodeID, error) {
	if !e.cfg.Forward {
		return via, nil
	}
	if len(via) >= wire.MaxVia {
		return nil, peer.Errorf(wire.CodeLoop, "the request passed %d relays, the most a request may", len(via))
	}
	return append(slices.Clip(via), e.cfg.Peer.NodeID), nil
}

// addVia adds the relays of via to those the object is open for, keeping
// the latest wire.MaxVia-1 (the OPENs for its blocks add this node). The
// caller holds Engine.mu.
func (o *objState) addVia(via []wire.NodeID) {
	for _, id := range via {
		if slices.Contains(o.via, id) {
			continue
		}
		if len(o.via) == wire.MaxVia-1 {
			o.via = slices.Delete(o.via, 0, 1)
		}
		o.via = append(o.via, id)
	}
}

// blockVia is the via list of an OPEN that fetches blocks of obj: the
// relays it was opened for and this node, or nothing for an engine that
// does not forward.
func (e *Engine) blockVia(obj *objState) []wire.NodeID {
	if !e.cfg.Forward {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append(slices.Clone(obj.via), e.cfg.Peer.NodeID)
}

// unreachable is ErrUnreachable with why each upstream that failed could
// not be reached, and cause (a context's end) if not nil.
func (e *Engine) unreachable(cause error) error {
	var why []string
	e.mu.Lock()
	for _, addr := range e.cfg.Upstreams {
		if d, ok := e.dialErrs[addr]; ok {
			why = append(why, d.err.Error())
		}
	}
	e.mu.Unlock()
	err := ErrUnreachable
	if len(why) > 0 {
		err = fmt.Errorf("%w (%s)", err, strings.Join(why, "; "))
	}
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// staleOK reports whether err, from fetching a description, allows serving
// a stale one: the upstreams could not be reached or failed for now; not
// if one of them said the object is not there or changed.
func staleOK(err error) bool {
	var pe *peer.Error
	if errors.As(err, &pe) && pe.Code.Refusal() {
		return false
	}
	return true // unreachable, timed out, failed for now, or the connection failed
}
