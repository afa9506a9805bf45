//go:build !linux

package lab

import (
	"bufio"
	"context"
	"time"
)

// The testbed needs Linux: elsewhere every entry point reports
// ErrUnsupported (through Preflight).

// Run reports that the testbed needs Linux.
func Run(ctx context.Context, e *Experiment, opt RunOptions) (*Results, error) {
	return nil, Preflight()
}

// Clean reports that the testbed needs Linux.
func Clean(ctx context.Context, prefix string, force bool) (Cleaned, error) {
	return Cleaned{}, Preflight()
}

// Leftovers reports that the testbed needs Linux.
func Leftovers(ctx context.Context, prefix string) (Cleaned, error) { return Cleaned{}, Preflight() }

// Bench reports that the testbed needs Linux.
func Bench(ctx context.Context, cfg BenchConfig) ([]BenchPoint, error) { return nil, Preflight() }

// UDPSource reports that the testbed needs Linux.
func UDPSource(ctx context.Context, addr string, size int, mbps float64, d time.Duration) error {
	return Preflight()
}

// UDPSink reports that the testbed needs Linux.
func UDPSink(ctx context.Context, addr string, idle, max time.Duration, out *bufio.Writer) error {
	return Preflight()
}
