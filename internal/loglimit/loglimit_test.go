package loglimit

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(New(slog.NewTextHandler(&b, nil), Options{MaxValue: 20, Rate: 1, Burst: 2}))
	long := strings.Repeat("x", 1<<20)
	log.Info("refused", "path", long, "err", errors.New(long), slog.Group("g", "v", long))
	line := b.String()
	if len(line) > 300 || strings.Count(line, "…(1048576 bytes)") != 3 {
		t.Fatalf("a record with 1 MiB values: %d bytes: %q", len(line), line)
	}
	b.Reset()
	log.With("peer", long).Warn("w")
	if len(b.String()) > 200 {
		t.Errorf("WithAttrs kept a long value: %q", b.String())
	}
	// Two pass (the burst), the rest of that second are dropped; another
	// message is not held back; a second later one passes, counting them.
	b.Reset()
	for range 10 {
		log.Info("again")
	}
	log.Info("other")
	if n := strings.Count(b.String(), "msg=again"); n != 2 {
		t.Errorf("%d of 10 records passed, want the burst of 2:\n%s", n, b.String())
	}
	if !strings.Contains(b.String(), "msg=other") {
		t.Error("a record of another message was dropped")
	}
	b.Reset()
	time.Sleep(1100 * time.Millisecond)
	log.Info("again")
	if !strings.Contains(b.String(), "suppressed=8") {
		t.Errorf("the next record does not count the dropped ones: %q", b.String())
	}
}
