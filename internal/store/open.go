package store

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// scanned is an object found by load, with what orders it in the LRU list.
type scanned struct {
	o     *object
	mtime time.Time // of its newest block file
	rank  int       // position in the lru file, oldest first; -1 if absent
}

// load rebuilds the index from the directory, orders the LRU list and
// evicts down to the budget. It runs before the Store is shared.
func (s *Store) load() error {
	start := time.Now()
	objRoot := filepath.Join(s.root, objectsDirName)
	prefixes, err := os.ReadDir(objRoot)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var found []scanned
	var removed int
	for _, p := range prefixes {
		if !p.IsDir() || !isPrefixName(p.Name()) {
			continue
		}
		pdir := filepath.Join(objRoot, p.Name())
		ents, err := os.ReadDir(pdir)
		if err != nil {
			// Keep what was listed: the objects in it are still good.
			s.log.Warn("store: cannot list directory", "dir", pdir, "error", err)
		}
		for _, e := range ents {
			d, ok := parseDigestHex(e.Name())
			if !ok || !e.IsDir() || e.Name()[:2] != p.Name() {
				continue
			}
			o, mtime, n := s.scanObject(filepath.Join(pdir, e.Name()), d)
			removed += n
			if o != nil {
				found = append(found, scanned{o: o, mtime: mtime, rank: -1})
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range found {
		s.objects[f.o.digest] = f.o
		s.live += f.o.bytes
		s.nblocks += int64(f.o.blocks)
	}
	s.nobjects = int64(len(found))
	if ranks := s.readLRU(); len(ranks) > 0 {
		for i := range found {
			if r, ok := ranks[found[i].o.digest]; ok {
				found[i].rank = r
			}
		}
	}
	slices.SortFunc(found, func(a, b scanned) int {
		switch {
		case a.rank >= 0 && b.rank >= 0:
			return a.rank - b.rank
		case a.rank >= 0:
			return -1
		case b.rank >= 0:
			return 1
		}
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		return bytes.Compare(a.o.digest[:], b.o.digest[:])
	})
	for _, f := range found {
		s.pushFront(f.o)
	}

	evicted := 0
	for s.used() > s.max && s.tail != nil {
		o := s.tail
		s.evict(o)
		s.mu.Unlock()
		s.destroyEvicted(o)
		s.mu.Lock()
		evicted++
	}
	s.log.Info("store: opened", "dir", s.root, "objects", s.nobjects, "blocks", s.nblocks,
		"bytes", s.live, "max_bytes", s.max, "evicted", evicted, "removed_temp", removed,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// scanObject indexes the block files in dir, the directory of object d. It
// deletes temporary files and empty block files, and returns the number
// deleted. It returns a nil object if dir holds no block.
func (s *Store) scanObject(dir string, d Digest) (*object, time.Time, int) {
	var mtime time.Time
	removed := 0
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("store: cannot list object directory", "dir", dir, "error", err)
	}
	o := &object{digest: d}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if isTempName(name) {
			if s.removeStale(filepath.Join(dir, name)) {
				removed++
			}
			continue
		}
		idx, ok := parseBlockName(name)
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		switch size := info.Size(); {
		case size == 0:
			// Renamed into place but never written out before a power
			// loss; no block is empty.
			if s.removeStale(filepath.Join(dir, name)) {
				removed++
			}
		case size <= math.MaxUint32:
			o.add(idx, uint32(size))
			if mt := info.ModTime(); mt.After(mtime) {
				mtime = mt
			}
		}
	}
	if o.blocks == 0 {
		os.Remove(dir) // fails, as it should, if anything else is in it
		return nil, mtime, removed
	}
	return o, mtime, removed
}

// removeStale deletes a file left by a crash and reports whether it is gone.
func (s *Store) removeStale(name string) bool {
	if err := s.removeFile(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("store: cannot delete stale file", "file", name, "error", err)
		return false
	}
	return true
}

// readLRU reads the lru file written by the last Close, if any, deletes it
// (and any temporary file of an lru write that a crash interrupted), and
// returns the position of each indexed object it lists, least recently used
// first. An unreadable or malformed file is ignored. Called with s.mu held.
func (s *Store) readLRU() map[Digest]int {
	if stale, _ := filepath.Glob(filepath.Join(s.root, lruTempPattern)); len(stale) > 0 {
		for _, name := range stale {
			if isLRUTempName(filepath.Base(name)) {
				s.removeStale(name)
			}
		}
	}
	name := filepath.Join(s.root, lruFileName)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.log.Warn("store: cannot read LRU order; using file times", "error", err)
		return nil
	}
	defer func() {
		f.Close()
		s.removeStale(name)
	}()

	ranks := make(map[Digest]int)
	sc := bufio.NewScanner(f)
	if !sc.Scan() || sc.Text() != lruHeader {
		s.log.Warn("store: LRU order file has no valid header; using file times", "file", name)
		return nil
	}
	for sc.Scan() {
		d, ok := parseDigestHex(sc.Text())
		if !ok {
			s.log.Warn("store: malformed LRU order file; using file times", "file", name)
			return nil
		}
		if _, ok := s.objects[d]; ok {
			if _, dup := ranks[d]; !dup {
				ranks[d] = len(ranks)
			}
		}
	}
	if err := sc.Err(); err != nil {
		s.log.Warn("store: cannot read LRU order; using file times", "error", err)
		return nil
	}
	return ranks
}

// isLRUTempName recognises the temporary file of an lru write,
// "lru.<digits>.tmp".
func isLRUTempName(name string) bool {
	s, ok := strings.CutPrefix(name, "lru.")
	if !ok {
		return false
	}
	s, ok = strings.CutSuffix(s, tempSuffix)
	if !ok || s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// saveLRU writes the LRU order to the lru file, least recently used first,
// through a temporary file and a rename. Close calls it once the store is
// closed and no call is in flight, so the list no longer changes and is read
// without s.mu, which other calls (Stats) may take meanwhile.
func (s *Store) saveLRU() error {
	f, err := os.CreateTemp(s.root, lruTempPattern)
	if err != nil {
		return fmt.Errorf("store: save LRU order: %w", err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(lruHeader + "\n")
	var h [2 * len(Digest{})]byte
	for o := s.tail; o != nil; o = o.prev {
		if o.blocks == 0 {
			continue
		}
		hex.Encode(h[:], o.digest[:])
		w.Write(h[:])
		w.WriteByte('\n')
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(s.root, lruFileName))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("store: save LRU order: %w", err)
	}
	return nil
}
