package lab

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// linkEvent is one scheduled change of one link, in a run's timeline.
type linkEvent struct {
	link int // index in the topology
	LinkChange
}

// schedule returns every link's changes in the order of their times (of
// the topology's order among equal times).
func (t Topology) schedule() []linkEvent {
	var evs []linkEvent
	for i, l := range t.Links {
		for _, c := range l.Changes {
			evs = append(evs, linkEvent{link: i, LinkChange: c})
		}
	}
	slices.SortStableFunc(evs, func(a, b linkEvent) int { return int(a.At - b.At) })
	return evs
}

// describeChange says what changed on link a–b going from (ab, ba) to
// (ab2, ba2), at a time after the client's start: "link a–b: rate
// 100 Mbit/s → 50 Mbit/s at 10.0s", with "a→b" and "b→a" parts when the
// directions changed differently.
func describeChange(a, b string, ab, ba, ab2, ba2 linkem.Config, at time.Duration) string {
	fwd, rev := configDiff(ab, ab2), configDiff(ba, ba2)
	var what string
	switch {
	case fwd == rev && fwd == "":
		what = "no change"
	case fwd == rev:
		what = fwd
	case rev == "":
		what = a + "→" + b + " " + fwd
	case fwd == "":
		what = b + "→" + a + " " + rev
	default:
		what = a + "→" + b + " " + fwd + "; " + b + "→" + a + " " + rev
	}
	return fmt.Sprintf("link %s–%s: %s at %.1fs", a, b, what, at.Seconds())
}

// configDiff lists the properties that differ between c and d, as
// "rate 100 Mbit/s → 50 Mbit/s, loss none → 1%"; empty if none.
func configDiff(c, d linkem.Config) string {
	var parts []string
	diff := func(name string, from, to any) {
		if f, t := fmt.Sprint(from), fmt.Sprint(to); f != t {
			parts = append(parts, name+" "+f+" → "+t)
		}
	}
	diff("rate", c.Rate, d.Rate)
	diff("delay", c.Delay, d.Delay)
	diff("jitter", c.Jitter, d.Jitter)
	diff("queue", queueString(c), queueString(d))
	diff("loss", c.Loss, d.Loss)
	return strings.Join(parts, ", ")
}

func queueString(c linkem.Config) string {
	if c.Rate == 0 {
		return "none"
	}
	return Size(c.QueueLimit()).String()
}
