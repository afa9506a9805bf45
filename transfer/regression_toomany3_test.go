package transfer

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// While a connection streams blocks, a burst of describes fills its calls:
// issue()'s Read gets ErrTooMany and the engine drops the connection.
func TestEngine_fullConnectionNotDropped(t *testing.T) {
	objs := map[string][]byte{"big": bytes.Repeat([]byte{7}, 64<<20)}
	for i := range 300 {
		objs[fmt.Sprintf("s%03d", i)] = []byte{byte(i)}
	}
	f := newFixture(t, 1, objs)
	e := f.engine(t, Config{Conns: 1})
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
