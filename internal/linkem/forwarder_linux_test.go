package linkem

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// seqpacketPair returns two connected SOCK_SEQPACKET sockets: each write is
// one packet and each read returns one, in both directions, like a TUN
// device, with no privileges needed. One end plays a host, the other the
// link end the Forwarder drives.
func seqpacketPair(t *testing.T) (host, end *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	host, end = os.NewFile(uintptr(fds[0]), "host"), os.NewFile(uintptr(fds[1]), "end")
	t.Cleanup(func() { host.Close(); end.Close() })
	return host, end
}

// start runs fn (a Forwarder's or Link's Run) and returns a function that
// cancels it and returns its error.
func start(t *testing.T, run func(context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var err error
	var wg sync.WaitGroup
	wg.Go(func() { err = run(ctx) })
	return func() error { cancel(); wg.Wait(); return err }
}

func TestForwarder_delayRateAndCounters(t *testing.T) {
	aHost, aEnd := seqpacketPair(t)
	bHost, bEnd := seqpacketPair(t)
	const (
		delay = 10 * time.Millisecond
		rate  = 12 * Mbps // a 1500-byte packet every millisecond
		n     = 60
		queue = 30 * 1500
	)
	f, err := NewForwarder(Config{Rate: rate, Delay: delay, QueueBytes: queue}, aEnd, bEnd, Options{Name: "test", RealTime: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, f.Run)

	begin := time.Now()
	pkt := make([]byte, 1500)
	for i := range n {
		binary.BigEndian.PutUint32(pkt, uint32(i))
		if _, err := aHost.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 60 at once: 30 fit the queue (the one on the wire counts),
	// the rest are dropped; the survivors leave 1 ms apart after 10 ms.
	buf := make([]byte, 2000)
	var got []time.Duration
	bHost.SetReadDeadline(time.Now().Add(2 * time.Second))
	for want := uint32(0); want < 30; want++ {
		k, err := bHost.Read(buf)
		if err != nil {
			break
		}
		got = append(got, time.Since(begin))
		if k != 1500 || binary.BigEndian.Uint32(buf) != want {
			t.Fatalf("packet %d: got %d bytes, seq %d", want, k, binary.BigEndian.Uint32(buf))
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != 30 {
		t.Fatalf("received %d packets, want 30", len(got))
	}
	// Never early. Lateness is bounded by the Forwarder's own account; the
	// reading goroutine may be late itself on a busy machine.
	for i, at := range got {
		want := delay + time.Duration(i+1)*time.Millisecond
		if d := at - want; d < -200*time.Microsecond || d > 500*time.Millisecond {
			t.Errorf("packet %d at %v, want %v", i, at, want)
		}
	}
	s := f.Stats()
	if s.Packets != n || s.DeliveredPackets != 30 || s.QueueDropPackets != 30 || s.LostPackets != 0 || s.OverflowPackets != 0 {
		t.Errorf("stats %+v", s)
	}
	if s.Delivered != 30*1500 || s.QueueDrops != 30*1500 {
		t.Errorf("byte counters: delivered %d, queue drops %d", s.Delivered, s.QueueDrops)
	}
	t.Logf("mean release lateness %v, max %v", s.MeanLate(), s.MaxLate)
	if s.MeanLate() > 5*time.Millisecond {
		t.Errorf("mean release lateness %v", s.MeanLate())
	}
}

func TestForwarder_stopsPromptly(t *testing.T) {
	aHost, aEnd := seqpacketPair(t)
	_, bEnd := seqpacketPair(t)
	f, err := NewForwarder(Config{Delay: time.Second}, aEnd, bEnd, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, f.Run)
	aHost.Write([]byte("in flight for a second"))
	time.Sleep(10 * time.Millisecond)
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(began); d > maxSleep+50*time.Millisecond {
		t.Errorf("Run took %v to stop", d)
	}
	if err := f.Run(t.Context()); err == nil {
		t.Error("second Run = nil, want an error")
	}
}

func TestForwarder_failsWhenSourceHangsUp(t *testing.T) {
	aHost, aEnd := seqpacketPair(t)
	_, bEnd := seqpacketPair(t)
	f, err := NewForwarder(Config{}, aEnd, bEnd, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- f.Run(t.Context()) }()
	aHost.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Run = nil, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not notice the hang-up")
	}
}

func TestLink_bothDirections(t *testing.T) {
	aHost, aEnd := seqpacketPair(t)
	bHost, bEnd := seqpacketPair(t)
	l, err := NewLink(Config{Delay: time.Millisecond}, Config{Delay: 2 * time.Millisecond}, aEnd, bEnd, Options{Name: "a-b"})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, l.Run)
	aHost.Write([]byte("from a"))
	bHost.Write([]byte("from b"))
	buf := make([]byte, 100)
	for _, c := range []struct {
		r    *os.File
		want string
	}{{bHost, "from a"}, {aHost, "from b"}} {
		c.r.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.r.Read(buf)
		if err != nil || string(buf[:n]) != c.want {
			t.Errorf("read %q, %v; want %q", buf[:n], err, c.want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s := l.AB.Stats(); s.DeliveredPackets != 1 {
		t.Errorf("a→b delivered %d", s.DeliveredPackets)
	}
}

// BenchmarkForwarder pushes 1500-byte packets through a Forwarder with no
// delay between two SOCK_SEQPACKET pairs; the time per packet includes the
// four socket calls around it (two of them the forwarder's).
func BenchmarkForwarder(b *testing.B) {
	for _, size := range []int{100, 1500} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			fds1, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			fds2, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			aHost, aEnd := os.NewFile(uintptr(fds1[0]), "a"), os.NewFile(uintptr(fds1[1]), "a-end")
			bHost, bEnd := os.NewFile(uintptr(fds2[0]), "b"), os.NewFile(uintptr(fds2[1]), "b-end")
			defer func() { aHost.Close(); aEnd.Close(); bHost.Close(); bEnd.Close() }()
			f, err := NewForwarder(Config{}, aEnd, bEnd, Options{RealTime: true})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { f.Run(ctx) })
			defer func() { cancel(); wg.Wait() }()

			b.SetBytes(int64(size))
			b.ReportAllocs()
			// Keep at most 64 packets in flight so that no socket buffer
			// overflows.
			credits := make(chan struct{}, 64)
			done := make(chan int)
			n := b.N
			go func() {
				buf := make([]byte, 2048)
				got := 0
				bHost.SetReadDeadline(time.Now().Add(time.Minute))
				for got < n {
					if _, err := bHost.Read(buf); err != nil {
						break
					}
					got++
					<-credits
				}
				done <- got
			}()
			pkt := make([]byte, size)
			b.ResetTimer()
			for range n {
				credits <- struct{}{}
				if _, err := aHost.Write(pkt); err != nil {
					b.Fatal(err)
				}
			}
			if got := <-done; got != n {
				b.Fatalf("received %d of %d (stats %+v)", got, n, f.Stats())
			}
		})
	}
}

func TestForwarder_capture(t *testing.T) {
	aHost, aEnd := seqpacketPair(t)
	bHost, bEnd := seqpacketPair(t)
	var pcap bytes.Buffer
	f, err := NewForwarder(Config{Delay: time.Millisecond}, aEnd, bEnd, Options{Capture: &pcap})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, f.Run)
	sizes := []int{60, 1500, 200}
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		if _, err := aHost.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2000)
	bHost.SetReadDeadline(time.Now().Add(2 * time.Second))
	for range sizes {
		if _, err := bHost.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b := pcap.Bytes()
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != pcapMagicNanos || binary.LittleEndian.Uint32(b[20:]) != linkTypeRaw {
		t.Fatalf("bad pcap header % x", b[:min(24, len(b))])
	}
	b = b[24:]
	for i, n := range sizes {
		if len(b) < 16 {
			t.Fatalf("record %d missing", i)
		}
		ts := time.Unix(int64(binary.LittleEndian.Uint32(b)), int64(binary.LittleEndian.Uint32(b[4:])))
		incl, orig := int(binary.LittleEndian.Uint32(b[8:])), int(binary.LittleEndian.Uint32(b[12:]))
		if orig != n || incl != min(n, CaptureSnap) || b[16] != byte(i+1) {
			t.Errorf("record %d: incl %d, orig %d, first byte %d", i, incl, orig, b[16])
		}
		if d := before.Sub(ts); d < 0 || d > time.Minute {
			t.Errorf("record %d: timestamp %v, %v before the end", i, ts, d)
		}
		b = b[16+incl:]
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the last record", len(b))
	}
}

// TestForwarder_SetConfig halves the rate of a running forwarder between two
// bursts: the second burst leaves twice as far apart.
func TestForwarder_SetConfig(t *testing.T) {
	aHost, aEnd := seqpacketPair(t)
	bHost, bEnd := seqpacketPair(t)
	cfg := Config{Rate: 12 * Mbps, Delay: 5 * time.Millisecond, QueueBytes: 40 * 1500}
	f, err := NewForwarder(cfg, aEnd, bEnd, Options{Name: "test", RealTime: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, f.Run)
	defer stop()
	burst := func() time.Duration { // median spacing of 20 packets sent at once
		t.Helper()
		pkt := make([]byte, 1500)
		for range 20 {
			if _, err := aHost.Write(pkt); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, 2000)
		bHost.SetReadDeadline(time.Now().Add(2 * time.Second))
		var at []time.Time
		for range 20 {
			if _, err := bHost.Read(buf); err != nil {
				t.Fatalf("after %d packets: %v", len(at), err)
			}
			at = append(at, time.Now())
		}
		var gaps []time.Duration
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]))
		}
		slices.Sort(gaps)
		return gaps[len(gaps)/2]
	}
	near := func(got, want time.Duration) bool { return got > want*8/10 && got < want*12/10 }
	if got := burst(); !near(got, time.Millisecond) {
		t.Errorf("spacing at 12 Mbit/s %v, want 1ms", got)
	}
	cfg.Rate = 6 * Mbps
	if err := f.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if got := f.Config(); got.Rate != 6*Mbps {
		t.Errorf("Config() after SetConfig: %v", got)
	}
	if got := burst(); !near(got, 2*time.Millisecond) {
		t.Errorf("spacing at 6 Mbit/s %v, want 2ms", got)
	}
	// The delay line was sized for 12 Mbit/s and 5 ms: ten seconds of
	// delay do not fit, and nothing changes.
	if err := f.SetConfig(Config{Rate: 12 * Mbps, Delay: 10 * time.Second}); err == nil || !strings.Contains(err.Error(), "delay line") {
		t.Errorf("SetConfig beyond the delay line = %v, want a delay line error", err)
	}
	if got := f.Config(); got.Rate != 6*Mbps || got.Delay != 5*time.Millisecond {
		t.Errorf("Config() after a refused SetConfig: %v", got)
	}
	if s := f.Stats(); s.QueueDropPackets+s.OverflowPackets != 0 {
		t.Errorf("drops: %+v", s)
	}
}

func TestLink_SetChecksBothDirections(t *testing.T) {
	_, aEnd := seqpacketPair(t)
	_, bEnd := seqpacketPair(t)
	small := Config{Rate: 10 * Mbps, Delay: time.Millisecond}
	l, err := NewLink(small, small, aEnd, bEnd, Options{Name: "a-b", LineBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	big := Config{Rate: 10 * Mbps, Delay: 2 * time.Second} // 7.6 MB with its default queue: fits 8 MiB
	huge := Config{Rate: Gbps, Delay: time.Second}
	if err := l.Set(big, huge); err == nil {
		t.Fatal("Set with a reverse beyond the delay line = nil")
	}
	if l.AB.Config().Delay != time.Millisecond {
		t.Errorf("forward changed by a refused Set: %v", l.AB.Config())
	}
	if err := l.Set(big, small); err != nil {
		t.Fatal(err)
	}
	if l.AB.Config().Delay != 2*time.Second {
		t.Errorf("forward after Set: %v", l.AB.Config())
	}
}
