package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// Bench measures the forwarder on this machine: two hosts joined by a link
// with no rate limit, no loss and 1 ms of delay, a UDP source in one and a
// sink in the other, each a separate process, so that this process's CPU
// time is the forwarder's. It measures the maximum packet rate with small
// and full-size packets, then the CPU cost at paced rates.
func Bench(ctx context.Context, cfg BenchConfig) ([]BenchPoint, error) {
	log := discardLogger(cfg.Logger)
	if cfg.Duration <= 0 {
		cfg.Duration = 4 * time.Second
	}
	if cfg.Rates == nil {
		cfg.Rates = []float64{50, 100, 200}
	}
	c := linkem.Config{Delay: time.Millisecond}
	tb, err := Build(ctx, TestbedConfig{
		Topology: Topology{Hosts: []Host{{Name: "a"}, {Name: "b"}}, Links: []Link{{A: "a", B: "b", AB: c, BA: c}}},
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}
	defer tb.Close()
	to, err := tb.Addr("b", "a")
	if err != nil {
		return nil, err
	}
	type load struct {
		label string
		size  int
		mbps  float64
	}
	loads := []load{{"max packet rate, 100-byte packets", 100, 0}, {"max packet rate, 1500-byte packets", 1500, 0}}
	for _, r := range cfg.Rates {
		loads = append(loads, load{fmt.Sprintf("%g Mbit/s of 1500-byte packets", r), 1500, r})
	}
	var points []BenchPoint
	for _, l := range loads {
		if err := ctx.Err(); err != nil {
			return points, err
		}
		log.Info("lab: bench", "load", l.label)
		pt, err := benchOne(ctx, tb, cfg, to.String()+":9", l.size, l.mbps)
		if err != nil {
			return points, fmt.Errorf("lab: bench %s: %w", l.label, err)
		}
		pt.Label = l.label
		points = append(points, pt)
	}
	return points, nil
}

func benchOne(ctx context.Context, tb *Testbed, cfg BenchConfig, to string, size int, mbps float64) (BenchPoint, error) {
	pt := BenchPoint{PacketBytes: size, OfferedMbps: mbps}
	helper := func(args ...string) string {
		return strings.Join(append(append([]string{cfg.Exe}, cfg.Args...), args...), " ")
	}
	d := cfg.Duration
	var sinkOut strings.Builder
	sink, err := tb.Start("b", ProcSpec{
		Command: helper("udpsink", "--listen", to, "--idle", "1s", "--max", (d + 10*time.Second).String()),
		Output:  &sinkOut,
	})
	if err != nil {
		return pt, err
	}
	defer sink.Stop(time.Second)
	time.Sleep(200 * time.Millisecond) // the sink binds
	hc0, _ := tb.Counters(ctx, "a")
	tb.ResetMaxLate() // this load's worst lateness, not the previous one's
	before := tb.LinkStats()[0].AB
	var ru0 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	start := time.Now()
	src, err := tb.Start("a", ProcSpec{Command: helper("udpsource", "--to", to, "--size", fmt.Sprint(size),
		"--mbps", fmt.Sprint(mbps), "--for", d.String())})
	if err != nil {
		return pt, err
	}
	if err := src.Wait(ctx); err != nil {
		return pt, fmt.Errorf("source: %w", err)
	}
	time.Sleep(50 * time.Millisecond) // the last packets leave the delay line
	wall := time.Since(start)
	var ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	s := tb.LinkStats()[0].AB.Sub(before)
	hc1, _ := tb.Counters(ctx, "a")
	if err := sink.Wait(ctx); err != nil {
		return pt, fmt.Errorf("sink: %w", err)
	}
	var got struct{ Packets uint64 }
	if err := json.Unmarshal([]byte(strings.TrimSpace(lastLine(sinkOut.String()))), &got); err != nil {
		return pt, fmt.Errorf("sink said %q: %w", sinkOut.String(), err)
	}
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()).Seconds() / wall.Seconds()
	pt.InPPS = float64(s.Packets) / wall.Seconds()
	pt.DeliveredPPS = float64(s.DeliveredPackets) / wall.Seconds()
	pt.DeliveredMbps = float64(s.Delivered) * 8 / wall.Seconds() / 1e6
	pt.ReceivedPPS = float64(got.Packets) / wall.Seconds()
	pt.CPU = cpu
	if pt.DeliveredMbps > 0 {
		pt.CPUPerMbps = 100 * cpu / pt.DeliveredMbps
	}
	if s.Packets > 0 {
		pt.MicrosPerPk = cpu * wall.Seconds() / float64(s.Packets) * 1e6
	}
	pt.TxDropped = hc1.TxDropped - hc0.TxDropped
	pt.MaxLate = s.MaxLate.Round(time.Microsecond).String()
	return pt, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// UDPSource sends UDP datagrams of size IP-layer bytes to addr for d, at
// mbps megabits per second, or as fast as it can if mbps is 0. It is a
// helper process of Bench.
func UDPSource(ctx context.Context, addr string, size int, mbps float64, d time.Duration) error {
	const ipUDP = 28
	if size < ipUDP+8 || size > 1500 {
		return fmt.Errorf("lab: udpsource: size %d outside [36, 1500]", size)
	}
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return fmt.Errorf("lab: udpsource: %w", err)
	}
	defer c.Close()
	buf := make([]byte, size-ipUDP)
	start := time.Now()
	sent := 0.0
	for time.Since(start) < d && ctx.Err() == nil {
		if mbps > 0 {
			due := mbps * 1e6 / 8 * time.Since(start).Seconds()
			for sent < due {
				if _, err := c.Write(buf); err != nil && !errors.Is(err, unix.ECONNREFUSED) {
					return fmt.Errorf("lab: udpsource: %w", err)
				}
				sent += float64(size)
			}
			_ = unix.Nanosleep(&unix.Timespec{Nsec: 200_000}, nil)
			continue
		}
		for range 64 {
			if _, err := c.Write(buf); err != nil && !errors.Is(err, unix.ECONNREFUSED) && !errors.Is(err, unix.ENOBUFS) {
				return fmt.Errorf("lab: udpsource: %w", err)
			}
		}
	}
	return nil
}

// UDPSink counts the datagrams that arrive on addr until none has arrived
// for idle (after the first) or until max, then prints {"Packets": N}.
func UDPSink(ctx context.Context, addr string, idle, max time.Duration, out *bufio.Writer) error {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return fmt.Errorf("lab: udpsink: %w", err)
	}
	defer c.Close()
	_ = c.(*net.UDPConn).SetReadBuffer(16 << 20)
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	end := time.Now().Add(max)
	buf := make([]byte, 2048)
	var n uint64
	for {
		wait := end
		if t := time.Now().Add(idle); n > 0 && t.Before(end) {
			wait = t
		}
		c.SetReadDeadline(wait)
		if _, _, err := c.ReadFrom(buf); err != nil {
			break
		}
		n++
	}
	fmt.Fprintf(out, "{\"Packets\": %d}\n", n)
	return out.Flush()
}
