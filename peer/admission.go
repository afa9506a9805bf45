package peer

import (
	"container/list"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// admission bounds the connections that have not finished the handshake,
// which anyone who can reach the port can open: at most max at once (a new
// one pushes out the oldest, so that a flood cannot keep a real peer out),
// perHost from one address, and new ones from one address at hostRate per
// second (bursts of twice that). A connection costs little until it is
// admitted and authenticated: a goroutine, a 4 KiB read buffer and a slot.
type admission struct {
	max, perHost int
	hostRate     rate.Limit

	mu      sync.Mutex
	pending *list.List // of *pending, oldest first
	hosts   map[string]*hostState
}

type pending struct {
	nc   net.Conn
	host string
	el   *list.Element
}

type hostState struct {
	n    int // pending connections
	lim  *rate.Limiter
	seen time.Time
}

// Why a connection was refused before its handshake.
const (
	refusedRate    = "rate"    // its address opened connections too fast
	refusedHost    = "host"    // its address has perHost handshakes pending
	refusedEvicted = "evicted" // pushed out by a newer one while max were pending
)

func newAdmission(max, perHost int, hostRate float64) *admission {
	return &admission{max: max, perHost: perHost, hostRate: rate.Limit(hostRate),
		pending: list.New(), hosts: make(map[string]*hostState)}
}

// admit takes nc into the handshake, or says why not. A connection it
// pushed out to make room is closed, and evicted reports it. The caller
// calls done when nc's handshake has ended, either way.
func (a *admission) admit(nc net.Conn) (done func(), refused string, evicted bool) {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		host = nc.RemoteAddr().String()
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	hs := a.hosts[host]
	if hs == nil {
		a.purge(now)
		hs = &hostState{lim: rate.NewLimiter(a.hostRate, max(1, int(2*a.hostRate)))}
		a.hosts[host] = hs
	}
	hs.seen = now
	switch {
	case !hs.lim.AllowN(now, 1):
		return nil, refusedRate, false
	case hs.n >= a.perHost:
		return nil, refusedHost, false
	}
	if a.pending.Len() >= a.max {
		old := a.pending.Remove(a.pending.Front()).(*pending)
		old.el = nil
		a.hosts[old.host].n--
		old.nc.Close() // its handshake fails; its done finds it gone
		evicted = true
	}
	p := &pending{nc: nc, host: host}
	p.el = a.pending.PushBack(p)
	hs.n++
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if p.el != nil {
			a.pending.Remove(p.el)
			p.el = nil
			a.hosts[p.host].n--
		}
	}, "", evicted
}

// purge forgets addresses with nothing pending that have not been seen for
// a minute, when the table has grown: it stays bounded however many
// addresses knock.
func (a *admission) purge(now time.Time) {
	if len(a.hosts) < 4*a.max {
		return
	}
	for h, hs := range a.hosts {
		if hs.n == 0 && now.Sub(hs.seen) > time.Minute {
			delete(a.hosts, h)
		}
	}
	if len(a.hosts) < 8*a.max {
		return
	}
	// Still large (very many addresses this minute): forget the rates of
	// all that have nothing pending.
	for h, hs := range a.hosts {
		if hs.n == 0 {
			delete(a.hosts, h)
		}
	}
}
