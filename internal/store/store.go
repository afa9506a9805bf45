package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Digest identifies an object: the digest of docs/protocol.md. It is the
// one digest type of Aqueduct, wire.Digest (object.Digest is the same).
type Digest = wire.Digest

// DefaultMaxBytes is the budget when Config.MaxBytes is 0.
const DefaultMaxBytes = 1 << 30

// Config configures a [Store].
type Config struct {
	// Dir is the cache directory. It is created if missing, and must not be
	// shared with another Store. Required.
	Dir string
	// MaxBytes bounds the total length of the cached blocks. 0 means 1 GiB;
	// negative is an error.
	MaxBytes int64
	// Logger receives the store's logs. nil discards them.
	Logger *slog.Logger
}

var (
	// ErrTooLarge is returned by Put for a block longer than
	// Config.MaxBytes, or whose index is too large (see Limits in the
	// package documentation).
	ErrTooLarge = errors.New("store: block too large")
	// ErrNoSpace is returned by Put when the file system is full (ENOSPC)
	// or a quota is exhausted (EDQUOT), or when the budget is held by files
	// the store could not delete. The error also wraps the cause.
	ErrNoSpace = errors.New("store: no space")
	// ErrClosed is returned by Put after Close.
	ErrClosed = errors.New("store: closed")
)

// Stats is a snapshot of a Store's contents and counters.
type Stats struct {
	Bytes   int64 // total length of the cached blocks
	Objects int64 // objects with at least one cached block
	Blocks  int64 // cached blocks

	Hits        int64 // Gets that returned a block
	Misses      int64 // Gets that did not (including read errors)
	Evictions   int64 // objects evicted to keep within MaxBytes, by Open too
	WriteErrors int64 // Puts that failed to write their block

	// DiskFull counts the times the disk filled before the budget, which
	// lowered the budget (see "Limits" in the package documentation).
	DiskFull int64

	// Unreclaimed is the length of block files the store failed to delete.
	// They count against MaxBytes until the next Open.
	Unreclaimed int64
}

// Store is an on-disk block cache. See the package documentation.
type Store struct {
	root string // absolute Config.Dir
	max  int64
	log  *slog.Logger
	lock *os.File // holds the flock on root/lock

	// File operations that tests replace to inject failures.
	writeFile  func(f *os.File, b []byte) (int, error)
	removeFile func(name string) error

	ops sync.WaitGroup // calls in flight; Close waits for them

	hits, misses, evictions, writeErrors atomic.Int64

	mu sync.Mutex
	// cond is signalled (on mu) whenever bytes stop counting against the
	// budget, a reservation ends or a retired object leaves the index.
	cond    sync.Cond
	closed  bool
	objects map[Digest]*object // live and dying objects
	head    *object            // most recently used
	tail    *object            // least recently used

	// Budget accounting. The bytes counted against max are
	// live + reserved + freeing + unreclaimed; see used.
	live        int64 // blocks in the index of live objects (Stats.Bytes)
	reserved    int64 // blocks being written by Puts
	freeing     int64 // blocks whose files are being deleted
	unreclaimed int64 // files that could not be deleted
	nobjects    int64 // live objects with at least one block
	nblocks     int64 // blocks of live objects

	writeFailing bool  // the last Put failed to write; logged once
	failedWrites int64 // failed writes since writeFailing was set

	// While full, lowered is the budget in force (the disk filled before
	// MaxBytes); checked is when the free space was last looked at.
	full       bool
	lowered    int64
	checked    time.Time
	fullEvents atomic.Int64
}

// Check reports whether the store can take blocks now: nil, or why not
// (closed, its directory gone or not writable). It creates and removes a
// file in the directory, so it costs a few system calls; readiness probes
// call it, not the data path.
func (s *Store) Check() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	f, err := os.CreateTemp(s.root, "check-*.tmp")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.root }

// MaxBytes is the store's budget.
func (s *Store) MaxBytes() int64 { return s.max }

// Open opens the cache in cfg.Dir, creating it if needed, and rebuilds the
// index from the files it holds. It deletes temporary files left by a crash
// and, if the directory holds more than cfg.MaxBytes, evicts the least
// recently used objects until it fits.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("store: Config.Dir is empty")
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("store: Config.MaxBytes is negative (%d)", cfg.MaxBytes)
	}
	maxBytes := cfg.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, objectsDirName), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	lock, err := lockDir(root)
	if err != nil {
		return nil, err
	}
	s := &Store{
		root:       root,
		max:        maxBytes,
		log:        log,
		lock:       lock,
		writeFile:  (*os.File).Write,
		removeFile: os.Remove,
		objects:    make(map[Digest]*object),
	}
	s.cond.L = &s.mu
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// Close waits for the calls in flight, saves the LRU order for the next Open
// and releases the directory. Later calls behave as described in the package
// documentation. Close is idempotent; only the first call can fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cond.Broadcast() // Puts waiting for room give up
	s.mu.Unlock()
	s.ops.Wait()

	err := s.saveLRU()
	if cerr := s.lock.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: release lock: %w", cerr)
	}
	return err
}

// Get reads block idx of object d into dst and returns its length. It
// returns false if the block is not cached, if dst is shorter than the
// block, or if reading fails; in the last two cases it logs the error and
// drops the block from the cache. A hit makes the object the most recently
// used.
func (s *Store) Get(d Digest, idx uint32, dst []byte) (int, bool) {
	s.mu.Lock()
	o := s.objects[d]
	if s.closed || o == nil || o.dying || !o.has(idx) {
		closed := s.closed
		s.mu.Unlock()
		if !closed {
			s.misses.Add(1)
		}
		return 0, false
	}
	n := int(o.length(idx))
	s.touch(o)
	s.ops.Add(1)
	s.mu.Unlock()
	defer s.ops.Done()

	var err error
	if len(dst) < n {
		err = fmt.Errorf("buffer of %d bytes for a block of %d: %w", len(dst), n, io.ErrShortBuffer)
	} else {
		err = s.readBlock(&d, idx, dst[:n])
	}
	if err == nil {
		s.hits.Add(1)
		return n, true
	}
	s.misses.Add(1)
	if s.removeBlock(o, idx) {
		s.log.Warn("store: read failed; block dropped",
			"object", hex.EncodeToString(d[:]), "block", idx, "error", err)
	}
	return 0, false
}

// readBlock reads a whole block file into buf, which has the block's length,
// with one pread.
func (s *Store) readBlock(d *Digest, idx uint32, buf []byte) error {
	f, err := openBlock(blockPath(s.root, d, idx))
	if err != nil {
		return err
	}
	_, err = f.ReadAt(buf, 0)
	f.Close()
	return err
}

// Has reports whether block idx of object d is cached. It does not count as
// a use of the object.
func (s *Store) Has(d Digest, idx uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[d]
	return !s.closed && o != nil && !o.dying && o.has(idx)
}

// Put caches block idx of object d, which the caller has verified. The
// object becomes the most recently used. If the block does not fit within
// the budget, Put first evicts least recently used objects; it evicts the
// object it writes to only if that object alone is too big for the budget.
// Putting a block that is already cached only marks the object used.
//
// An error means the block is not cached, and nothing else: the store stays
// consistent (no partial file is left and the accounting is exact), and the
// caller carries on without the cache. Errors are [ErrTooLarge], [ErrClosed],
// [ErrNoSpace] (also wrapping the cause) and file-system errors. Put does not
// keep data.
func (s *Store) Put(d Digest, idx uint32, data []byte) error {
	n := int64(len(data))
	switch {
	case n == 0:
		return fmt.Errorf("store: put %s: empty block", blockName(&d, idx))
	case n > s.max:
		return fmt.Errorf("%w: block %s has %d bytes, budget %d", ErrTooLarge, blockName(&d, idx), n, s.max)
	case idx >= maxBlocks:
		return fmt.Errorf("%w: block %s: index above %d", ErrTooLarge, blockName(&d, idx), maxBlocks-1)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.ops.Add(1)
	s.mu.Unlock()
	defer s.ops.Done()

	full := false
	for {
		o, err := s.reserve(d, idx, n)
		if o == nil {
			return err
		}
		written, err := s.write(o, idx, data)
		if written && errors.Is(err, ErrNoSpace) && !full && s.diskFull(n) {
			// The disk filled before the budget did: the budget is lowered
			// to what fits, and the block written again after evicting.
			full = true
			continue
		}
		if written {
			return err
		}
		// o was retired before the write could start: reserve again.
	}
}

// diskFull lowers the budget to the bytes the store holds, after the file
// system refused a write of n more: least recently used objects are
// evicted from then on, and caching goes on within what the disk has. It
// reports whether the budget came down: not if the store holds less than
// the block, which evicting could not make room for. Each
// lowering is logged; the budget goes back up towards MaxBytes as the disk
// frees space (see limit).
func (s *Store) diskFull(n int64) bool {
	s.mu.Lock()
	held := s.live + s.freeing + s.unreclaimed
	lowered := s.live >= n // evicting can make room
	if lowered {
		s.lowered, s.full = held, true
		s.checked = time.Now()
	}
	s.mu.Unlock()
	if lowered {
		s.fullEvents.Add(1)
		s.log.Warn("store: the disk is full before the budget: evicting to keep caching",
			"budget", s.max, "now", held, "dir", s.root)
	}
	return lowered
}

// limit is the budget in force: MaxBytes, or less while the disk is full.
// At most every diskCheck it looks at the file system's free space and
// raises a lowered budget by it (keeping diskReserve free). Called with
// s.mu held.
func (s *Store) limit() int64 {
	if !s.full {
		return s.max
	}
	if now := time.Now(); now.Sub(s.checked) >= diskCheck {
		s.checked = now
		if free, err := freeSpace(s.root); err == nil && free > diskReserve {
			s.lowered = min(s.max, s.used()+free-diskReserve)
			s.full = s.lowered < s.max
		}
	}
	return s.lowered
}

// diskCheck is how often a lowered budget looks at the disk again, and
// diskReserve what it leaves free.
const (
	diskCheck   = 10 * time.Second
	diskReserve = 16 << 20
)

// reserve counts n bytes for block idx of object d against the budget,
// evicting objects as needed, and returns the object with its writers count
// raised. It returns a nil object, and a nil error, if the block is already
// cached.
func (s *Store) reserve(d Digest, idx uint32, n int64) (*object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil, ErrClosed
		}
		o := s.objects[d]
		if o != nil && o.dying {
			s.cond.Wait() // its files are being deleted; start afresh after
			continue
		}
		if o != nil {
			s.touch(o)
			if o.has(idx) {
				return nil, nil
			}
		}
		if s.used()+n <= s.limit() {
			if o == nil {
				o = &object{digest: d}
				s.objects[d] = o
				s.pushFront(o)
			}
			o.writers++
			s.reserved += n
			return o, nil
		}
		if victims := s.pickVictims(o, s.used()+n-s.limit()); len(victims) > 0 {
			s.mu.Unlock()
			for _, v := range victims {
				s.destroyEvicted(v)
			}
			s.mu.Lock()
			continue
		}
		if s.freeing > 0 || s.reserved > 0 {
			// Other calls are deleting or writing; what they free or
			// commit is ours to use or evict next.
			s.cond.Wait()
			continue
		}
		if o == nil || o.bytes == 0 {
			// Nothing left to evict: the budget is held by files that
			// could not be deleted.
			return nil, fmt.Errorf("%w: %d bytes of the budget are held by files that could not be deleted",
				ErrNoSpace, s.unreclaimed)
		}
		// The object being written is alone too big for the budget.
		s.evict(o)
		s.mu.Unlock()
		s.destroyEvicted(o)
		s.mu.Lock()
	}
}

// used is the number of bytes counted against the budget: blocks in the
// index, being written, or being deleted, and files that could not be
// deleted. Called with s.mu held.
func (s *Store) used() int64 {
	return s.live + s.reserved + s.freeing + s.unreclaimed
}

// pickVictims retires least recently used objects other than keep until
// their bytes, with those already being freed, cover need. The caller
// deletes their files. Objects with no committed blocks (their first Puts
// are still writing) are passed over. Called with s.mu held.
func (s *Store) pickVictims(keep *object, need int64) []*object {
	need -= s.freeing
	var victims []*object
	for v := s.tail; v != nil && need > 0; {
		prev := v.prev
		if v != keep && v.bytes > 0 {
			need -= v.bytes
			s.evict(v)
			victims = append(victims, v)
		}
		v = prev
	}
	return victims
}

// evict retires o to make room; the caller then calls destroyEvicted.
// Called with s.mu held.
func (s *Store) evict(o *object) {
	s.evictions.Add(1)
	s.retire(o)
}

// destroyEvicted is destroy for an evicted object.
func (s *Store) destroyEvicted(o *object) {
	s.destroy(o)
	s.log.Debug("store: evicted", "object", hex.EncodeToString(o.digest[:]))
}

// write writes block idx of o, for which the caller holds a reservation of
// len(data) bytes, and commits it to the index. It returns false, having
// written nothing and ended the reservation, if o was retired in the
// meantime.
func (s *Store) write(o *object, idx uint32, data []byte) (bool, error) {
	n := int64(len(data))
	o.mu.RLock()
	s.mu.Lock()
	if o.dying {
		o.writers--
		s.reserved -= n
		s.cond.Broadcast()
		s.mu.Unlock()
		o.mu.RUnlock()
		return false, nil
	}
	s.mu.Unlock()

	// While o.mu is held shared, nobody deletes files of o: if o is retired
	// now, its files go after this write, this block's with them.
	leaked, err := s.writeBlockFile(blockPath(s.root, &o.digest, idx), idx, data)

	s.mu.Lock()
	o.writers--
	s.reserved -= n
	var drop, logFailing bool
	var recovered int64
	if err == nil {
		s.commit(o, idx, uint32(n))
		if s.writeFailing {
			s.writeFailing, recovered, s.failedWrites = false, s.failedWrites, 0
		}
	} else {
		s.unreclaimed += leaked
		s.writeErrors.Add(1)
		s.failedWrites++
		logFailing, s.writeFailing = !s.writeFailing, true
		if !o.dying && o.blocks == 0 && o.writers == 0 {
			s.retire(o)
			drop = true
		}
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	o.mu.RUnlock()

	if drop {
		s.destroy(o)
	}
	if recovered > 0 {
		s.log.Info("store: writes succeed again", "failed_writes", recovered)
	}
	if err != nil {
		err = putError(&o.digest, idx, err)
		if logFailing {
			s.log.Warn("store: write failed; blocks are not cached until writes succeed again", "error", err)
		}
	}
	return true, err
}

// commit records a written block in the index. Called with s.mu held.
func (s *Store) commit(o *object, idx, n uint32) {
	if o.has(idx) {
		// Another Put of the same block finished first; this one's file
		// replaced its file.
		old := int64(o.del(idx))
		if o.dying {
			s.freeing -= old
		} else {
			s.live -= old
			s.nblocks--
			if o.blocks == 0 {
				s.nobjects--
			}
		}
	}
	o.add(idx, n)
	if o.dying {
		// Retired during the write: the file goes with the others.
		s.freeing += int64(n)
		return
	}
	s.live += int64(n)
	s.nblocks++
	if o.blocks == 1 {
		s.nobjects++
	}
}

// writeBlockFile writes data to a temporary file beside name and renames it
// to name. On failure it deletes the temporary file and returns the number
// of bytes left on disk if that fails too.
func (s *Store) writeBlockFile(name string, idx uint32, data []byte) (int64, error) {
	dir := name[:strings.LastIndexByte(name, os.PathSeparator)]
	pattern := tempPattern(idx)
	f, err := os.CreateTemp(dir, pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, pattern)
		}
	}
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	w, err := s.writeFile(f, data)
	if err == nil && w != len(data) {
		err = io.ErrShortWrite
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err == nil {
		return 0, nil
	}
	if rerr := s.removeFile(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		s.log.Error("store: cannot delete temporary file", "file", tmp, "error", rerr)
		return int64(len(data)), err
	}
	return 0, err
}

// putError wraps a write error for the caller of Put.
func putError(d *Digest, idx uint32, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: put %s: %w", ErrNoSpace, blockName(d, idx), err)
	}
	return fmt.Errorf("store: put %s: %w", blockName(d, idx), err)
}

// Remove drops block idx of object d, which failed verification. It does
// nothing if the block is not cached.
func (s *Store) Remove(d Digest, idx uint32) {
	s.mu.Lock()
	o := s.objects[d]
	if s.closed || o == nil || o.dying || !o.has(idx) {
		s.mu.Unlock()
		return
	}
	s.ops.Add(1)
	s.mu.Unlock()
	defer s.ops.Done()
	s.removeBlock(o, idx)
}

// removeBlock deletes block idx of o and reports whether it was cached. An
// object left with no blocks and no writers is deleted too.
func (s *Store) removeBlock(o *object, idx uint32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	s.mu.Lock()
	if o.dying || !o.has(idx) {
		s.mu.Unlock()
		return false
	}
	n := int64(o.del(idx))
	s.live -= n
	s.freeing += n
	s.nblocks--
	if o.blocks == 0 {
		s.nobjects--
	}
	s.mu.Unlock()

	name := blockPath(s.root, &o.digest, idx)
	var leaked int64
	if err := s.removeFile(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("store: cannot delete block file", "file", name, "error", err)
		leaked = n
	}

	s.mu.Lock()
	s.freeing -= n
	s.unreclaimed += leaked
	empty := !o.dying && o.blocks == 0 && o.writers == 0
	if empty {
		s.retire(o)
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	if empty {
		s.deleteFiles(o)
	}
	return true
}

// RemoveObject drops every block of object d, including blocks being
// written, and returns when their files are gone.
func (s *Store) RemoveObject(d Digest) {
	s.mu.Lock()
	o := s.objects[d]
	if s.closed || o == nil || o.dying {
		s.mu.Unlock()
		return
	}
	s.retire(o)
	s.ops.Add(1)
	s.mu.Unlock()
	defer s.ops.Done()
	s.destroy(o)
}

// Stats returns the store's current contents and counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		Bytes:       s.live,
		Objects:     s.nobjects,
		Blocks:      s.nblocks,
		Unreclaimed: s.unreclaimed,
	}
	s.mu.Unlock()
	st.Hits = s.hits.Load()
	st.Misses = s.misses.Load()
	st.Evictions = s.evictions.Load()
	st.WriteErrors = s.writeErrors.Load()
	st.DiskFull = s.fullEvents.Load()
	return st
}

// retire takes o out of service: it leaves the LRU list and its bytes move
// from live to freeing. Its files must then be deleted with destroy, which
// also drops it from the index. Called with s.mu held.
func (s *Store) retire(o *object) {
	o.dying = true
	s.unlist(o)
	if o.blocks > 0 {
		s.nobjects--
	}
	s.nblocks -= int64(o.blocks)
	s.live -= o.bytes
	s.freeing += o.bytes
}

// destroy deletes the files of retired object o, once the Puts writing to
// it are done, and drops it from the index.
func (s *Store) destroy(o *object) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s.deleteFiles(o)
}

// deleteFiles is destroy for a caller holding o.mu. It deletes the block and
// temporary files in the object's directory, then the directory if nothing
// else is in it.
func (s *Store) deleteFiles(o *object) {
	dir := objectDir(s.root, &o.digest)
	ents, err := os.ReadDir(dir)
	// No directory (or something else where it goes, which is not ours to
	// delete) means no files.
	absent := errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
	listed := err == nil
	if !listed && !absent {
		s.log.Error("store: cannot list object directory; its files stay", "dir", dir, "error", err)
	}
	var failed []uint32 // blocks whose files stay
	var firstErr error
	nerr := 0
	for _, e := range ents {
		name := e.Name()
		idx, isBlock := parseBlockName(name)
		if !e.Type().IsRegular() || !isBlock && !isTempName(name) {
			continue
		}
		if err := s.removeFile(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if nerr++; nerr == 1 {
				firstErr = err
			}
			if isBlock {
				failed = append(failed, idx)
			}
		}
	}
	if nerr > 0 {
		s.log.Error("store: cannot delete files of an object", "dir", dir, "files", nerr, "error", firstErr)
	}
	if listed {
		// Fails, and is meant to, if files the store does not know remain.
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Debug("store: object directory kept", "dir", dir, "error", err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var leaked int64
	if !listed && !absent {
		leaked = o.bytes
	}
	for _, idx := range failed {
		if o.has(idx) {
			leaked += int64(o.length(idx))
		}
	}
	s.freeing -= o.bytes
	s.unreclaimed += leaked
	if s.objects[o.digest] == o {
		delete(s.objects, o.digest)
	}
	s.cond.Broadcast()
}

// pushFront lists o as the most recently used. Called with s.mu held.
func (s *Store) pushFront(o *object) {
	o.prev, o.next = nil, s.head
	if s.head != nil {
		s.head.prev = o
	} else {
		s.tail = o
	}
	s.head = o
}

// unlist takes o out of the LRU list. Called with s.mu held.
func (s *Store) unlist(o *object) {
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		s.head = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	} else {
		s.tail = o.prev
	}
	o.prev, o.next = nil, nil
}

// touch makes o the most recently used. Called with s.mu held.
func (s *Store) touch(o *object) {
	if s.head != o {
		s.unlist(o)
		s.pushFront(o)
	}
}

// blockName names a block in errors: the digest's first 12 hex digits and
// the index.
func blockName(d *Digest, idx uint32) string {
	return hex.EncodeToString(d[:6]) + "/" + strconv.FormatUint(uint64(idx), 10)
}
