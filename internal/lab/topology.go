package lab

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// Topology is a set of hosts joined by emulated point-to-point links.
type Topology struct {
	Hosts []Host
	Links []Link
}

// Host is one network namespace.
type Host struct {
	// Name is 1 to 10 lower-case letters and digits, starting with a letter.
	Name string
	// Congestion pins the host's default congestion control; empty follows
	// the testbed's (Testbed.SetCongestion).
	Congestion string
	// MPTCP, if set, configures the in-kernel path manager.
	MPTCP *MPTCPSpec
	// SourceRouting, on a host with several links, sends whatever leaves
	// from an address out of that address's own link, whatever the
	// destination (one routing table per link, chosen by source address).
	// MPTCP subflows bound to a second address need it.
	SourceRouting bool
	// Sysctl holds further sysctls for the namespace, applied after the
	// testbed's own (so they may override them).
	Sysctl OrderedMap[string]
}

// Link joins hosts A and B. AB configures packets from A to B, BA the
// reverse.
type Link struct {
	A, B   string
	AB, BA linkem.Config
	// Changes are the link's later configurations, in increasing At. Run
	// applies them in every run, At after the client starts, and restores
	// AB and BA after the run; a Testbed applies none by itself, but sizes
	// the link's delay lines for all of them, so that Testbed.SetLink may
	// switch to any (see linkem.Options.LineBytes).
	Changes []LinkChange
}

// LinkChange is a link's configuration from At on.
type LinkChange struct {
	At     time.Duration
	AB, BA linkem.Config
}

// lineBytes returns the delay line each direction needs for its
// configuration and every change.
func (l Link) lineBytes() (ab, ba int) {
	ab, ba = l.AB.LineBytes(), l.BA.LineBytes()
	for _, c := range l.Changes {
		ab, ba = max(ab, c.AB.LineBytes()), max(ba, c.BA.LineBytes())
	}
	return ab, ba
}

// Host returns the host named name.
func (t Topology) Host(name string) (Host, bool) {
	for _, h := range t.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Validate checks host names, link ends and link configurations.
func (t Topology) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, h := range t.Hosts {
		if !nameRE.MatchString(h.Name) || len(h.Name) > maxHostName {
			errs = append(errs, fmt.Errorf("host %q: want 1 to %d lower-case letters and digits, starting with a letter", h.Name, maxHostName))
		}
		if seen[h.Name] {
			errs = append(errs, fmt.Errorf("host %q defined twice", h.Name))
		}
		seen[h.Name] = true
		if h.Congestion != "" && !ccRE.MatchString(h.Congestion) {
			errs = append(errs, fmt.Errorf("host %s: congestion %q: not an algorithm name", h.Name, h.Congestion))
		}
		for _, kv := range h.Sysctl {
			if !strings.HasPrefix(kv.Key, "net.") || strings.Contains(kv.Key, "/") || strings.Contains(kv.Key, "..") {
				errs = append(errs, fmt.Errorf("host %s: sysctl %q: only net.* keys apply to a namespace", h.Name, kv.Key))
			}
		}
	}
	if len(t.Hosts) == 0 {
		errs = append(errs, errors.New("no hosts"))
	}
	if len(t.Links) > maxLinks {
		errs = append(errs, fmt.Errorf("%d links: at most %d", len(t.Links), maxLinks))
	}
	for i, l := range t.Links {
		if !seen[l.A] || !seen[l.B] || l.A == l.B {
			errs = append(errs, fmt.Errorf("links[%d]: %s–%s: need two distinct defined hosts", i, l.A, l.B))
			continue
		}
		for dir, c := range map[string]linkem.Config{l.A + "→" + l.B: l.AB, l.B + "→" + l.A: l.BA} {
			if err := c.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("links[%d] %s: %w", i, dir, err))
			}
		}
		for j, ch := range l.Changes {
			where := fmt.Sprintf("links[%d].changes[%d] (at %v)", i, j, ch.At)
			switch {
			case ch.At <= 0:
				errs = append(errs, fmt.Errorf("%s: at must be after the client starts (> 0)", where))
			case j > 0 && ch.At <= l.Changes[j-1].At:
				errs = append(errs, fmt.Errorf("%s: at must come after the previous change's %v", where, l.Changes[j-1].At))
			}
			for _, d := range []struct {
				dir string
				c   linkem.Config
			}{{l.A + "→" + l.B, ch.AB}, {l.B + "→" + l.A, ch.BA}} {
				if err := d.c.Validate(); err != nil {
					errs = append(errs, fmt.Errorf("%s %s: %w", where, d.dir, err))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	return nil
}
