package transfer

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
)

// cmBenchSize is the object BenchmarkCM_loopback1GiB moves.
const cmBenchSize = 1 << 30

// cmBenchObject is the benchmark's object, made once per test binary: 1 GiB
// of pseudo-random bytes in memory (a fixed seed), described (block hashes)
// by a peertest.Handler that every sub-benchmark's server shares.
var cmBenchObject = sync.OnceValue(func() *peertest.Handler {
	h := &peertest.Handler{}
	h.Put("v/cm-1g.bin", peertest.RandomBytes(cmBenchSize, 8))
	return h
})

// cpuTime returns the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCM_loopback1GiB measures what the congestion manager costs
// (issue 8: within 1% in throughput and 3% in CPU): a peer server on
// loopback and an Engine in this process share one congestion.Manager per
// sub-benchmark, and each iteration reads a 1 GiB object through the
// engine's reader to io.Discard (the engine verifies every block's hash).
//
//   - on: congestion.Config{}: the server and the engine register each
//     connection as a flow and the CM samples its TCP_INFO (Flow.Watch).
//   - off: congestion.Config{NoWatch: true}: no sampling goroutine; the
//     engine feeds its flows from completed requests, the server's flows
//     learn nothing.
//
// Engine settings are the defaults (as the CLI's) except the connection
// count, which is fixed: Conns is DefaultConns (8, the CLI default) and
// MaxConns equals that share, so the Sizer cannot grow the count, and on
// and off move the object over the same 8 connections (sizing from
// different feeds would otherwise make the runs differ in what they do,
// not in what the CM costs).
//
// Each iteration has a new engine, whose connections come up with the
// timer stopped; the timed part is Open, the read and the size check. Its
// metrics: MB/s (10^6 bytes per second of the timed part) and cpu-s/GiB,
// the process's user+system CPU (getrusage; both ends of the transfer are
// in this process) over the timed parts per GiB moved.
//
// Run with: go test ./transfer -run '^$' -bench BenchmarkCM_loopback1GiB -benchtime 3x -count 5
// -count repeats each sub-benchmark in a row (on five times, then off);
// to have machine noise hit both alike, interleave processes instead:
// for i in 1 2 3 4 5; do go test ... -bench 'BenchmarkCM_loopback1GiB/on$' -count 1; go test ... '/off$' ...; done
// (alternating which goes first).
func BenchmarkCM_loopback1GiB(b *testing.B) {
	h := cmBenchObject()
	key := newKey(b)
	// A warm-up transfer, once per binary, outside every measurement, so
	// that the first sub-benchmark run does not pay for the process's
	// first gigabyte (heap growth, page faults of the buffer pools).
	cmBenchWarm.Do(func() { cmBenchRun(b, key, h, congestion.Config{}, 1, false) })
	b.Run("on", func(b *testing.B) { cmBenchRun(b, key, h, congestion.Config{}, 0, true) })
	b.Run("off", func(b *testing.B) { cmBenchRun(b, key, h, congestion.Config{NoWatch: true}, 0, true) })
}

var cmBenchWarm sync.Once

// cmBenchRun serves h with a server and fetches its object with engines
// that share one Manager made from cfg: b.N times, or n times if n > 0
// (the warm-up), reporting the metrics if report.
func cmBenchRun(b *testing.B, key peer.Key, h *peertest.Handler, cfg congestion.Config, n int, report bool) {
	b.StopTimer()
	cm := congestion.New(cfg)
	defer cm.Close()
	srv := peertest.Start(b, peer.Config{Key: key, Name: "origin", Flows: cm}, h)
	defer srv.Stop()
	if n <= 0 {
		n = b.N
	}
	var elapsed, cpu time.Duration
	var moved int64
	for range n {
		d, c := cmBenchFetch(b, key, srv.Addr, cm)
		elapsed += d
		cpu += c
		moved += cmBenchSize
	}
	if report {
		b.SetBytes(cmBenchSize)
		b.ReportMetric(float64(moved)/elapsed.Seconds()/1e6, "MB/s")
		b.ReportMetric(cpu.Seconds()/(float64(moved)/(1<<30)), "cpu-s/GiB")
	}
}

// cmBenchFetch makes an engine on cm with its 8 connections up, then
// reads the object through it, returning the wall and CPU time of the
// read. The timer runs only during the read.
func cmBenchFetch(b *testing.B, key peer.Key, addr string, cm *congestion.Manager) (wall, cpu time.Duration) {
	e, err := New(Config{
		Upstreams:  []string{addr},
		Peer:       peer.Config{Key: key, Name: "bench"},
		Conns:      DefaultConns,
		MaxConns:   DefaultConns, // the share of the one upstream: not sized
		Congestion: cm,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for deadline := time.Now().Add(10 * time.Second); e.Stats().Conns < DefaultConns; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the engine has %d of %d connections after 10 s", e.Stats().Conns, DefaultConns)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runtime.GC() // each read starts from the same heap
	cpu0, t0 := cpuTime(b), time.Now()
	b.StartTimer()
	o, err := e.Open(ctx, "v/cm-1g.bin")
	if err != nil {
		b.Fatal(err)
	}
	r, err := o.NewReader(ctx, 0, cmBenchSize)
	if err != nil {
		b.Fatal(err)
	}
	got, err := r.WriteTo(io.Discard)
	b.StopTimer()
	wall, cpu = time.Since(t0), cpuTime(b)-cpu0
	r.Close()
	o.Close()
	if err != nil || got != cmBenchSize || o.Meta().Size != cmBenchSize {
		b.Fatalf("read %d of %d bytes (object of %d): %v", got, cmBenchSize, o.Meta().Size, err)
	}
	if testing.Verbose() {
		st := e.Stats()
		b.Logf("%v, %.0f MB/s, %.3f cpu-s; %d copies, %d MiB wasted, %d memory waits, %d dials",
			wall.Round(time.Millisecond), cmBenchSize/wall.Seconds()/1e6, cpu.Seconds(),
			st.Copies, st.WastedBytes>>20, st.MemoryWaits, st.Dials)
	}
	return wall, cpu
}
