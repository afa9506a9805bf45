package transfer

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Default limits: many distinct objects opened at once (a cold edge, HLS
// segments). describe() takes 2 calls per object (OPEN + GETHASHES) on a
// ready connection, issue() one per block plus an OPEN per object; nothing
// keeps the total under the Conn's MaxRequests (128): Open fails with
// ErrTooMany and issue() drops the connection.
func TestEngine_manyOpensAtOnce(t *testing.T) {
	objs := map[string][]byte{}
	for i := range 400 {
		b := bytes.Repeat([]byte{byte(i)}, 300<<10)
		objs[fmt.Sprintf("seg%03d.ts", i)] = b
	}
	f := newFixture(t, 1, objs)
	e := f.engine(t, Config{Conns: 2})
	var wg sync.WaitGroup
	var fails atomic.Int64
	var first atomic.Value
	for p, want := range objs {
		wg.Go(func() {
			got, err := readAll(t, e, p, 0, -1)
			if err != nil || !bytes.Equal(got, want) {
				fails.Add(1)
				first.CompareAndSwap(nil, fmt.Sprint(p, ": ", err))
			}
		})
	}
	wg.Wait()
	st := e.Stats()
	t.Logf("%d of %d reads failed (first: %v); dials %d for 2 connections", fails.Load(), len(objs), first.Load(), st.Dials)
	if fails.Load() > 0 || st.Dials > 2 {
		t.Errorf("healthy upstream, default limits: %d failed reads, %d dials", fails.Load(), st.Dials)
	}
}
