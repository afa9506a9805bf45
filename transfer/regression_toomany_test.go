package transfer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// The engine's pipeline is not checked against the Conn's own MaxRequests
// (peer.Config.MaxRequests, shared with the relay's server side): when a
// connection's calls (READs, cancelled READs not yet ended, OPENs) reach it,
// Conn.Read returns ErrTooMany and issue() drops a healthy connection, which
// with served==0 also counts as an upstream failure.
func TestEngine_smallMaxRequests(t *testing.T) {
	objs := map[string][]byte{}
	for i := range 8 {
		b := make([]byte, 4<<20)
		for j := range b {
			b[j] = byte(rand.IntN(256))
		}
		objs[fmt.Sprintf("o%d", i)] = b
	}
	f := newFixture(t, 1, objs)
	e := f.engine(t, Config{Conns: 1, Pipeline: 8, Window: 64 << 20})
	e.cfg.Peer.MaxRequests = 0
	// Peer.MaxRequests 8 on the client side: equal to Pipeline.
	e.Close()
	e = f.engineWith(t, 8)
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

func (f *fixture) engineWith(t *testing.T, maxReq int) *Engine {
	cfg := Config{Conns: 1, Pipeline: 8, Window: 64 << 20}
	cfg.Peer.MaxRequests = maxReq
	return f.engine(t, cfg)
}
