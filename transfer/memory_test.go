package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

// A reader whose consumer stops taking its data gives its blocks back when
// another reader needs memory; the other gets its first block at once, and
// the first, when its consumer reads on, gets every byte, fetched again.
func TestMemory_stalledReaderGivesBack(t *testing.T) {
	a := peertest.RandomBytes(4<<20, 11)
	b := peertest.RandomBytes(1<<20, 12)
	f := newFixture(t, 1, map[string][]byte{"a": a, "b": b})
	e := f.engine(t, Config{Conns: 2, MemoryLimit: 1 << 20, Window: 1 << 20, IdleReader: 50 * time.Millisecond, MemoryWait: 3 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(path string) *Object {
		o, err := e.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		return o
	}
	oa, ob := open("a"), open("b")
	ra, err := oa.NewReader(ctx, 0, oa.Meta().Size)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	var got bytes.Buffer
	if _, err := io.CopyN(&got, ra, 1000); err != nil { // then it stalls
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().Memory < 1<<20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m := e.Stats().Memory; m < 1<<20 {
		t.Fatalf("the stalled reader holds %d bytes, want all of the 1 MiB", m)
	}
	time.Sleep(100 * time.Millisecond) // past IdleReader
	start := time.Now()
	rb, err := ob.NewReader(ctx, 0, ob.Meta().Size)
	if err != nil {
		t.Fatalf("a second reader beside a stalled one: %v after %v", err, time.Since(start))
	}
	gotB, err := io.ReadAll(rb)
	rb.Close()
	if err != nil || !bytes.Equal(gotB, b) {
		t.Fatalf("the second reader: %v, %d bytes", err, len(gotB))
	}
	t.Logf("the second reader's 1 MiB took %v beside the stalled one", time.Since(start).Round(time.Millisecond))
	if st := e.Stats(); st.Reclaimed == 0 || st.MemoryWaits == 0 {
		t.Errorf("stats %+v: nothing reclaimed or waited for", st)
	}
	if _, err := io.Copy(&got, ra); err != nil || !bytes.Equal(got.Bytes(), a) {
		t.Fatalf("the stalled reader, reading on: %v, %d bytes, equal %v", err, got.Len(), bytes.Equal(got.Bytes(), a))
	}
	ra.Close()
	if m := e.Stats().Memory; m != 0 {
		t.Errorf("%d bytes of memory held after both readers closed", m)
	}
}

// A reader whose next block finds no memory, none of the holders being
// stalled, fails with ErrBusy after MemoryWait rather than waiting for ever.
func TestMemory_busy(t *testing.T) {
	a := peertest.RandomBytes(2<<20, 13)
	f := newFixture(t, 1, map[string][]byte{"a": a})
	e := f.engine(t, Config{Conns: 1, MemoryLimit: 512 << 10, Window: 512 << 10, IdleReader: time.Hour, MemoryWait: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := e.Open(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r1, err := o.NewReader(ctx, 0, o.Meta().Size) // takes both blocks of memory
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	start := time.Now()
	r2, err := o.NewReader(ctx, 1<<20, 1<<20)
	if !errors.Is(err, ErrBusy) {
		if r2 != nil {
			r2.Close()
		}
		t.Fatalf("NewReader with no memory free: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("ErrBusy after %v, want about the 300 ms MemoryWait", d)
	}
	if e.Stats().MemoryBusies != 1 {
		t.Errorf("stats %+v", e.Stats())
	}
}
