package transfer

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// memory is the budget of the readers' block buffers (Config.MemoryLimit),
// and how much of it is held, for the metrics.
type memory struct {
	sem  *semaphore.Weighted
	used atomic.Int64
}

func newMemory(limit int64) *memory { return &memory{sem: semaphore.NewWeighted(limit)} }

// acquire waits for n bytes until ctx ends.
func (m *memory) acquire(ctx context.Context, n int64) error {
	if err := m.sem.Acquire(ctx, n); err != nil {
		return err
	}
	m.used.Add(n)
	return nil
}

// tryAcquire takes n bytes if they are free now.
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
