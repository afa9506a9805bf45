package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procMem reads VmRSS and VmHWM (the peak of VmRSS) of a process from
// /proc/PID/status, in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %v", pid, k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm, sc.Err()
}

// rssSampler polls a process's VmRSS until stopped and keeps the largest.
type rssSampler struct {
	pid  int
	stop chan struct{}
	wg   sync.WaitGroup
	peak int64
	n    int
	err  error
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			rss, _, err := procMem(pid)
			if err != nil {
				s.err = err
				return
			}
			s.peak = max(s.peak, rss)
			s.n++
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// done stops sampling and returns the peak RSS seen, taking VmHWM into
// account too (it catches peaks between samples, but also any peak since
// the process started).
func (s *rssSampler) done() (peak int64, samples int, err error) {
	close(s.stop)
	s.wg.Wait()
	if s.err != nil {
		return 0, s.n, s.err
	}
	_, hwm, err := procMem(s.pid)
	return max(s.peak, hwm), s.n, err
}

// slowGet downloads url reading at most rate bytes per second, in 64 KiB
// reads, and returns the length and SHA-256 of the body.
func slowGet(ctx context.Context, url string, rate float64) (int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	start := time.Now()
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, "", fmt.Errorf("after %d bytes: %w", n, err)
		}
		if ahead := time.Duration(float64(n)/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Memory bound of TestEdgeSlowClientMemory: how much the edge's RSS may
// grow above idle while one slow client downloads a 256 MiB object.
//
// The edge must not fetch faster than its client reads: a reader asks for
// blocks at most Window (32 MiB by default) past what its consumer has read,
// and all readers together hold at most Memory (256 MiB). So for one client
// the block buffers stay within 32 MiB. On top of that come the Go garbage
// collector, which with GOGC=100 lets the heap grow to about twice what is
// live, and per-connection buffers (8 peer connections, one HTTP
// connection: well under 8 MiB). 64 MiB is what the window and its garbage
// may reach, and a quarter of both the object and the Memory limit: an
// edge that ignored its window (buffering as fast as the relays send,
// ~256 MiB here) or that kept delivered blocks would exceed it by far.
const edgeGrowthBound = 64 << 20

// TestEdgeSlowClientMemory has a client read a 256 MiB object through the
// edge at about 128 MB/s (loopback upstreams are several times faster) and
// checks that the edge's peak RSS stays within edgeGrowthBound of its RSS
// when idle.
func TestEdgeSlowClientMemory(t *testing.T) {
	c := startCluster(t)
	const rel = "large.bin"
	pid := c.edge.pid()
	// Warm up: a first small request makes the connections and the HTTP
	// server's buffers, which are not part of the growth we look at.
	checkDownload(t, c.edgeURL("/mix/c.bin"), c.content, "mix/c.bin")
	time.Sleep(200 * time.Millisecond)
	idle, _, err := procMem(pid)
	if err != nil {
		t.Fatal(err)
	}
	s := sampleRSS(pid, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	start := time.Now()
	n, sum, err := slowGet(ctx, c.edgeURL("/"+rel), 128e6)
	took := time.Since(start)
	peak, samples, perr := s.done()
	if err != nil {
		t.Fatal(err)
	}
	if perr != nil {
		t.Fatal(perr)
	}
	if n != c.content.Sizes[rel] || sum != c.content.Sums[rel] {
		t.Fatalf("got %d bytes, sha256 %s; want %d bytes, sha256 %s", n, sum, c.content.Sizes[rel], c.content.Sums[rel])
	}
	growth := peak - idle
	t.Logf("edge RSS: idle %.1f MiB, peak %.1f MiB, growth %.1f MiB (bound %d MiB); %d samples; %d MiB in %v (%.0f MB/s)",
		mib(idle), mib(peak), mib(growth), edgeGrowthBound>>20, samples, n>>20, took.Round(time.Millisecond), float64(n)/took.Seconds()/1e6)
	if growth > edgeGrowthBound {
		t.Errorf("edge RSS grew by %.1f MiB (idle %.1f MiB, peak %.1f MiB) serving one slow client; bound %d MiB",
			mib(growth), mib(idle), mib(peak), edgeGrowthBound>>20)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
