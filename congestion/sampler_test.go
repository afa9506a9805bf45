package congestion

import (
	"io"
	"testing"
	"time"
)

// A watched connection's estimate comes from the kernel's counters: a
// sender paced at 8 MB/s over loopback is measured at about that rate at
// both ends, the fetching end counting its busy time.
func TestWatch_loopback(t *testing.T) {
	rc, sc := loopbackPair(t)

	m := New(Config{})
	defer m.Close()
	recv, send := m.Open("127.0.0.1:1"), m.Open("127.0.0.1:2")
	if err := recv.Watch(rc, Receive); err != nil {
		t.Fatal(err)
	}
	if err := send.Watch(sc, Send); err != nil {
		t.Fatal(err)
	}
	recv.SetBusy(true)
	go io.Copy(io.Discard, rc)
	const rate, step = 8 << 20, 10 * time.Millisecond
	chunk := make([]byte, rate/100)
	start := time.Now()
	for i := range 150 { // 1.5 s
		if _, err := sc.Write(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * step)))
	}
	elapsed := time.Since(start)
	want := float64(150*len(chunk)) / elapsed.Seconds()
	for _, f := range []struct {
		name string
		f    *Flow
	}{{"receiver", recv}, {"sender", send}} {
		e := f.f.Query()
		if !e.Known() || e.Rate < want/2 || e.Rate > want*2 || e.RTT <= 0 {
			t.Errorf("%s: %+v, want a rate of about %.0f B/s and an RTT", f.name, e, want)
		}
	}
	// A closed flow is no longer sampled; a closed connection stops its
	// own sampling.
	send.Close()
	rc.Close()
	watched := func() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.watched) }
	for deadline := time.Now().Add(2 * MaxSampleInterval); watched() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := watched(); n != 0 {
		t.Fatalf("%d flows still watched after their close", n)
	}
}
