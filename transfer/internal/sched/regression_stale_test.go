package sched

import (
	"testing"
	"time"
)

// The calls Engine.onDone makes when a cancelled request (er1) completes
// whole while the block is wanted again and re-requested on the same
// connection (er2): CancelEnded, then Drop(key), which cancels er2. (It
// used to call Completed, which forgot er2 without cancelling it.)
func TestScheduler_staleCompletionCancelsLiveCopy(t *testing.T) {
	s, err := New(Config{Upstreams: 1, Conns: 1, Pipeline: 2, MinPipeline: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	r := s.Ready(now)
	id := r.Dials[0].Conn
	s.Dialed(now, id, true)
	s.Ready(now)
	x := ChunkKey{1, 0}
	s.Want(now, x, 1<<18)
	r = s.Ready(now)
	t.Logf("er1: %v", r.Requests)
	s.Unwant(now, x) // reader leaves: er1 cancelled
	r = s.Ready(now)
	t.Logf("cancel: %v", r.Cancels)
	s.Want(now, x, 1<<18) // wanted again
	r = s.Ready(now)
	t.Logf("after re-want: requests %v (busy %d) <- er2, issued by the engine", r.Requests, s.conns[id].busy())
	// Suppose er2 = Request(A, x) is issued now (in the case busy allowed it).
	// er1 now completes whole; onDone: stale -> CancelEnded, w != nil -> Completed.
	s.CancelEnded(now, id)
	r = s.Ready(now)
	er2Sent := true
	t.Logf("after CancelEnded: requests %v", r.Requests)
	s.Drop(now.Add(time.Millisecond), x)
	r = s.Ready(now)
	t.Logf("after stale completion: cancels %v; conn busy %d, in flight %d", r.Cancels, s.conns[id].busy(), len(s.conns[id].inflight))
	if er2Sent && len(r.Cancels) == 0 {
		t.Errorf("er2 is still in flight on conn %d but the Scheduler neither counts it nor cancels it", id)
	}
}
