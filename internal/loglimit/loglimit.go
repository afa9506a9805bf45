// Package loglimit keeps a node's log bounded whatever its clients send: it
// is a slog.Handler that cuts long values and thins out records that repeat.
//
// Every string value (and error, and anything else printed as text) longer
// than MaxValue bytes is cut to that and marked with its length, so that a
// 1 MB request path costs a log line of a few hundred bytes. Records with
// the same level and message pass at Rate per second (bursts of Burst);
// past it they are dropped and counted, and the next record of that
// message that passes says how many were dropped (suppressed=N). Messages
// are the program's own constant strings, so the table of them is small;
// it is bounded anyway.
package loglimit

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Options.
const (
	DefaultMaxValue = 512
	DefaultRate     = 10
	DefaultBurst    = 50
	maxMessages     = 1024
)

// Options configure a Handler; zero values mean the defaults.
type Options struct {
	MaxValue int     // bytes of one value; default 512
	Rate     float64 // records per second per message; default 10
	Burst    int     // default 50
}

// Handler wraps another slog.Handler; see the package doc.
type Handler struct {
	next slog.Handler
	opts Options
	st   *state // shared by the handlers WithAttrs and WithGroup derive
}

type state struct {
	mu   sync.Mutex
	msgs map[key]*counter
}

type key struct {
	level slog.Level
	msg   string
}

type counter struct {
	lim        *rate.Limiter
	suppressed int
}

// New returns a Handler that passes bounded records to next.
func New(next slog.Handler, opts Options) *Handler {
	if opts.MaxValue <= 0 {
		opts.MaxValue = DefaultMaxValue
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	return &Handler{next: next, opts: opts, st: &state{msgs: make(map[key]*counter)}}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	suppressed, ok := h.allow(key{r.Level, r.Message}, r.Time)
	if !ok {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, h.clip(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, out)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(as))
	for i, a := range as {
		clipped[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(clipped), opts: h.opts, st: h.st}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), opts: h.opts, st: h.st}
}

// allow reports whether a record with k passes now, and how many with k
// were dropped since the last that passed.
func (h *Handler) allow(k key, at time.Time) (int, bool) {
	if at.IsZero() {
		at = time.Now()
	}
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.msgs[k]
	if c == nil {
		if len(st.msgs) >= maxMessages {
			clear(st.msgs)
		}
		c = &counter{lim: rate.NewLimiter(rate.Limit(h.opts.Rate), h.opts.Burst)}
		st.msgs[k] = c
	}
	if !c.lim.AllowN(at, 1) {
		c.suppressed++
		return 0, false
	}
	n := c.suppressed
	c.suppressed = 0
	return n, true
}

// attr cuts a's value if it is long.
func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.clip(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = h.attr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		if len(s) > h.opts.MaxValue {
			return slog.String(a.Key, h.clip(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *Handler) clip(s string) string {
	if len(s) <= h.opts.MaxValue {
		return s
	}
	return s[:h.opts.MaxValue] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
