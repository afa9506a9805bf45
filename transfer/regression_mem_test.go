package transfer

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// Default edge limits (Window 32 MiB, MemoryLimit 256 MiB): eight viewers
// that stop reading (their HTTP connection stalls; the edge sets no write
// timeout) hold all block memory, and every other reader waits for ever.
func TestEngine_stalledReadersLeaveRoomForOthers(t *testing.T) {
	objs := map[string][]byte{"movie": bytes.Repeat([]byte{1}, 64<<20), "other": bytes.Repeat([]byte{2}, 1<<20)}
	f := newFixture(t, 1, objs)
	e := f.engine(t, Config{})
	ctx := context.Background()
	o, err := e.Open(ctx, "movie")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for i := range 8 {
		r, err := o.NewReader(ctx, int64(i)<<10, 60<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var b [1]byte
		if _, err := r.Read(b[:]); err != nil { // the viewer reads a little, then stalls
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	got, err := func() ([]byte, error) {
		o2, err := e.Open(cctx, "other")
		if err != nil {
			return nil, err
		}
		defer o2.Close()
		r, err := o2.NewReader(cctx, 0, 1<<20)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		var buf bytes.Buffer
		_, err = r.WriteTo(&buf)
		return buf.Bytes(), err
	}()
	t.Logf("9th viewer: %d bytes, %v", len(got), err)
	if err != nil {
		t.Errorf("%v", fmt.Errorf("a 1 MiB object is unreadable while 8 viewers stall: %w", err))
	}
}
