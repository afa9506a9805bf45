package transfer

// Regression tests: the engine's calls on a connection must stay within the
// peer connection's MaxRequests, or Conn.Read returns ErrTooMany and a
// healthy connection is dropped.

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

// The engine's pipeline is not checked against the Conn's own MaxRequests
// (peer.Config.MaxRequests, shared with the relay's server side): when a
// connection's calls (READs, cancelled READs not yet ended, OPENs) reach it,
// Conn.Read returns ErrTooMany and issue() drops a healthy connection, which
// with served==0 also counts as an upstream failure.
func TestEngine_smallMaxRequests(t *testing.T) {
	objs := map[string][]byte{}
	for i := range 8 {
		objs[fmt.Sprintf("o%d", i)] = peertest.RandomBytes(4<<20, uint64(100+i))
	}
	f := newFixture(t, 1, objs)
	// Peer.MaxRequests 8 on the client side: equal to Pipeline.
	cfg := Config{Conns: 1, MaxConns: 1, Pipeline: 8, Window: 64 << 20} // dials are counted: not sized
	cfg.Peer.MaxRequests = 8
	e := f.engine(t, cfg)
	var wg sync.WaitGroup
	for p, want := range objs {
		wg.Go(func() {
			got, err := readAll(t, e, p, 0, -1)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %v", p, err)
			}
		})
	}
	wg.Wait()
	st := e.Stats()
	t.Logf("dials %d (1 connection configured)", st.Dials)
	if st.Dials > 1 {
		t.Errorf("%d dials for one connection to a healthy upstream", st.Dials)
	}
}

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
	e := f.engine(t, Config{Conns: 2, MaxConns: 1}) // dials are counted: not sized
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

// While a connection streams blocks, a burst of describes fills its calls:
// issue()'s Read gets ErrTooMany and the engine drops the connection.
func TestEngine_fullConnectionNotDropped(t *testing.T) {
	objs := map[string][]byte{"big": bytes.Repeat([]byte{7}, 64<<20)}
	for i := range 300 {
		objs[fmt.Sprintf("s%03d", i)] = []byte{byte(i)}
	}
	f := newFixture(t, 1, objs)
	e := f.engine(t, Config{Conns: 1, MaxConns: 1}) // dials are counted: not sized
	done := make(chan error, 1)
	go func() {
		got, err := readAll(t, e, "big", 0, -1)
		if err == nil && !bytes.Equal(got, objs["big"]) {
			err = fmt.Errorf("bad bytes")
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if o, err := e.Open(ctx, fmt.Sprintf("s%03d", i)); err == nil {
				o.Close()
			}
		})
	}
	wg.Wait()
	err := <-done
	st := e.Stats()
	t.Logf("big read: %v; dials %d for 1 connection", err, st.Dials)
	if st.Dials > 1 {
		t.Errorf("the streaming connection was dropped %d times", st.Dials-1)
	}
}
