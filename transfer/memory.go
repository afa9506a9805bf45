package transfer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/semaphore"
)

// ErrBusy fails a read whose next block found no memory within
// Config.MemoryWait: every block buffer is held by readers whose consumers
// are taking their data. An HTTP front answers 503 and asks to retry.
var ErrBusy = errors.New("transfer: no memory for the next block: every buffer is held by readers taking their data")

// memory is the budget of the readers' block buffers (Config.MemoryLimit).
//
// Readers take memory for a block before they ask for it: the next block
// a consumer needs waits for it (in turn: the semaphore serves waiters in
// order), for at most Config.MemoryWait; blocks ahead take it only if it is
// free. When memory is short, the reclaimer has every reader whose
// consumer has taken nothing of its data for Config.IdleReader give back
// what it holds (Reader.giveBack): a stalled client then holds only the
// block it is being written from, outside the budget, and a new client's
// first block does not wait for it.
type memory struct {
	sem   *semaphore.Weighted
	used  atomic.Int64
	clock clockwork.Clock
	idle  time.Duration // Config.IdleReader
	wait  time.Duration // Config.MemoryWait

	waiters atomic.Int64  // readers waiting in reserveHead
	short   chan struct{} // a reader found memory short; capacity 1

	mu      sync.Mutex
	readers map[*Reader]struct{}
	last    time.Time // the last reclaim

	reclaimed, waits, timeouts atomic.Int64 // for Stats
}

func newMemory(limit int64, clock clockwork.Clock, idle, wait time.Duration) *memory {
	return &memory{
		sem: semaphore.NewWeighted(limit), clock: clock, idle: idle, wait: wait,
		short: make(chan struct{}, 1), readers: make(map[*Reader]struct{}),
	}
}

func (m *memory) add(r *Reader) {
	m.mu.Lock()
	m.readers[r] = struct{}{}
	m.mu.Unlock()
}

func (m *memory) remove(r *Reader) {
	m.mu.Lock()
	delete(m.readers, r)
	m.mu.Unlock()
}

// tryAcquire takes n bytes if they are free now and nobody waits.
func (m *memory) tryAcquire(n int64) bool {
	if !m.sem.TryAcquire(n) {
		return false
	}
	m.used.Add(n)
	return true
}

func (m *memory) release(n int64) {
	m.used.Add(-n)
	m.sem.Release(n)
}

// reserveHead waits for n bytes for a reader's next block, in turn, while
// the reclaimer frees what stalled readers hold, for at most the wait
// limit: then it fails with ErrBusy. It fails with ctx's cause if ctx ends.
func (m *memory) reserveHead(ctx context.Context, n int64) error {
	if m.tryAcquire(n) {
		return nil
	}
	m.waits.Add(1)
	m.waiters.Add(1)
	defer m.waiters.Add(-1)
	m.squeeze()
	wctx, cancel := context.WithTimeoutCause(ctx, m.wait, ErrBusy)
	defer cancel()
	if err := m.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		m.timeouts.Add(1)
		return fmt.Errorf("%w (waited %v)", ErrBusy, m.wait)
	}
	m.used.Add(n)
	return nil
}

// squeeze tells the reclaimer that memory is short, without waiting.
func (m *memory) squeeze() {
	select {
	case m.short <- struct{}{}:
	default:
	}
}

// reclaimInterval is how often the reclaimer looks again while readers
// wait for memory, and the least time between two of its passes.
const reclaimInterval = 50 * time.Millisecond

// reclaimer runs until ctx ends: each time memory is short, and every
// reclaimInterval while readers wait, it has stalled readers give back
// what they hold.
func (m *memory) reclaimer(ctx context.Context) {
	t := m.clock.NewTicker(reclaimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.short:
		case <-t.Chan():
			if m.waiters.Load() == 0 {
				continue
			}
		}
		m.reclaim()
	}
}

// reclaim has every reader whose consumer has taken nothing for the idle
// time give back its blocks, at most once per reclaimInterval.
func (m *memory) reclaim() int64 {
	now := m.clock.Now()
	m.mu.Lock()
	if now.Sub(m.last) < reclaimInterval {
		m.mu.Unlock()
		return 0
	}
	m.last = now
	readers := make([]*Reader, 0, len(m.readers))
	for r := range m.readers {
		readers = append(readers, r)
	}
	m.mu.Unlock()
	idleSince := now.Add(-m.idle).UnixNano()
	var freed int64
	for _, r := range readers {
		freed += r.giveBack(idleSince)
	}
	m.reclaimed.Add(freed)
	return freed
}

// windowPerConn is the least read-ahead per ready connection, in blocks.
// Eight, not the two a slow connection keeps in flight and one queued:
// the reader takes blocks in order, and on a lossy path the block at its
// head can take several times the mean (a retransmission timeout on a
// connection that carries one megabit a second holds a 256 KiB block for
// seconds); the window must cover that for the other connections to keep
// working meanwhile. With three, 32 connections on a 150 ms, 1% loss path
// idled with the window full of blocks waiting for its head.
const windowPerConn = 8

// window is how many blocks of bs bytes a reader with a configured window
// of base blocks asks for ahead of its consumer: at least windowPerConn
// per ready connection, within its share of the read-ahead memory, so that
// many connections (sizing may open a hundred to a loss-limited upstream)
// all have work even when Config.Window would feed only a few.

func (e *Engine) window(base int, bs int64) int {
	perConn := windowPerConn * int(e.readyConns.Load())
	if perConn <= base || bs <= 0 {
		return base
	}
	share := e.aheadLimit / bs / max(e.stats.readers.Load(), 1)
	return max(base, min(perConn, int(share)))
}
