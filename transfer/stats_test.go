package transfer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/jonboulle/clockwork"
)

// The counters follow a transfer: per-upstream requests and bytes, the
// kernel's view of each connection, and the readers, objects and memory
// that a reader holds while it is open and gives back when closed.
func TestEngine_stats(t *testing.T) {
	data := peertest.RandomBytes(4<<20+5, 7)
	f := newFixture(t, 2, map[string][]byte{"v.bin": data})
	e := f.engine(t, Config{Conns: 4, MaxConns: 1, Window: 2 << 20}) // counted below: not sized
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := e.Open(ctx, "v.bin")
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.NewReader(ctx, 0, o.Meta().Size)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	if _, err := r.Read(first); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	// The window is Window or windowPerConn blocks per connection, the larger.
	window := max(2<<20, windowPerConn*4*o.Meta().BlockSize)
	if st.Objects != 1 || st.Readers != 1 || st.Memory <= 0 || st.Memory > window+o.Meta().BlockSize || st.MemoryLimit != DefaultMemoryLimit {
		t.Errorf("while reading: %+v", st)
	}
	var buf bytes.Buffer
	buf.Write(first)
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("content differs")
	}
	r.Close()
	o.Close()
	st = e.Stats()
	if st.Objects != 0 || st.Readers != 0 || st.Memory != 0 || st.Bytes != int64(len(data)) || st.Conns != 4 {
		t.Errorf("after: %+v", st)
	}
	ups := e.Upstreams()
	if len(ups) != 2 {
		t.Fatalf("%d upstreams", len(ups))
	}
	var requests, bytes int64
	for i, u := range ups {
		if u.Addr != f.addrs[i] || len(u.Conns) != 2 || u.Dials < 2 || u.Lost != 0 || u.Corrupt != 0 {
			t.Errorf("upstream %d: %+v", i, u)
		}
		for _, c := range u.Conns {
			if c.RTT <= 0 || c.Cwnd == 0 {
				t.Errorf("upstream %d conn %d: no TCP_INFO: %+v", i, c.ID, c)
			}
		}
		requests += u.Requests
		bytes += u.Bytes
	}
	blocks := int64(o.Meta().Blocks())
	if requests < blocks || bytes != int64(len(data)) {
		t.Errorf("requests %d for %d blocks, bytes %d of %d", requests, blocks, bytes, len(data))
	}
}

// An object's description is trusted for ManifestTTL of the engine's clock,
// then asked for again: stepped by hand, with no sleeping.
func TestEngine_manifestTTL(t *testing.T) {
	data := peertest.RandomBytes(300<<10, 8)
	f := newFixture(t, 1, map[string][]byte{"v.bin": data})
	fc := clockwork.NewFakeClock()
	e := f.engine(t, Config{Conns: 1, ManifestTTL: 5 * time.Second, clock: fc})
	opens := func() int64 { return f.servers[0].Handler.Opens.Load() }
	open := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		o, err := e.Open(ctx, "v.bin")
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
	}
	open()
	first := opens()
	if first == 0 {
		t.Fatal("the first open asked no upstream")
	}
	fc.Advance(4 * time.Second)
	open()
	if got := opens(); got != first {
		t.Errorf("an open 4 s later asked the upstream again (%d opens, then %d)", first, got)
	}
	fc.Advance(2 * time.Second)
	open()
	if got := opens(); got <= first {
		t.Errorf("an open 6 s later, past the 5 s TTL, did not ask the upstream again (%d opens)", got)
	}
}
