package lab

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxLinks bounds a topology so that every link gets its own /24 in
// 10.77.0.0/16 through 10.80.255.0/24.
const maxLinks = 1024

// maxDevName is the longest interface name Linux accepts (IFNAMSIZ−1).
const maxDevName = 15

// plan is a topology's addressing and routing, computed without touching
// the system. Link i gets the subnet 10.(77+i/256).(i%256).0/24; its first
// host is .1, its second .2. Each host routes every subnet it is not on
// through the first hop of its shortest path (by round-trip delay, then by
// hop count). A host with SourceRouting and several links also gets one
// routing table per link, selected by source address, whose default route
// leaves by that link: an MPTCP subflow bound to a second address then
// takes that address's path, whatever its destination. Other hosts route by
// destination only, so that a server answers each subflow along the path it
// came by.
type plan struct {
	top    Topology
	ifaces map[string][]iface // by host, in link order
	routes map[string][]route
}

// iface is one end of a link inside a host.
type iface struct {
	link     int
	peer     string
	dev      string
	addr     netip.Addr
	peerAddr netip.Addr
	prefix   netip.Prefix
	table    int // source-routing table, or 0
}

type route struct {
	dst netip.Prefix
	via netip.Addr
	dev string
}

func newPlan(t Topology) (*plan, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	p := &plan{top: t, ifaces: map[string][]iface{}, routes: map[string][]route{}}
	pairs := map[[2]string]int{}
	for i, l := range t.Links {
		pfx := linkPrefix(i)
		a := pfx.Addr().Next()
		b := a.Next()
		key := [2]string{min(l.A, l.B), max(l.A, l.B)}
		pairs[key]++
		suffix := ""
		if n := pairs[key]; n > 1 {
			suffix = strconv.Itoa(n)
		}
		if dev := Prefix + max(l.A, l.B) + suffix; len(dev) > maxDevName {
			return nil, fmt.Errorf("topology: links[%d]: device name %q longer than %d bytes", i, dev, maxDevName)
		}
		p.ifaces[l.A] = append(p.ifaces[l.A], iface{link: i, peer: l.B, dev: Prefix + l.B + suffix, addr: a, peerAddr: b, prefix: pfx})
		p.ifaces[l.B] = append(p.ifaces[l.B], iface{link: i, peer: l.A, dev: Prefix + l.A + suffix, addr: b, peerAddr: a, prefix: pfx})
	}
	for _, h := range t.Hosts {
		ifs := p.ifaces[h.Name]
		if len(ifs) > 1 && h.SourceRouting {
			for k := range ifs {
				ifs[k].table = 100 + k
			}
		}
	}
	for _, h := range t.Hosts {
		p.routes[h.Name] = p.computeRoutes(h.Name)
	}
	return p, nil
}

// computeRoutes runs Dijkstra from src over hosts, weighting each link by
// its round-trip delay plus 1 ns per hop, and routes every subnet src is
// not on towards the nearer end of its link. Ties keep the earlier link, so
// the result depends only on the topology.
func (p *plan) computeRoutes(src string) []route {
	const inf = time.Duration(1<<63 - 1)
	dist := map[string]time.Duration{}
	first := map[string]iface{} // src's interface on the path to each host
	for _, h := range p.top.Hosts {
		dist[h.Name] = inf
	}
	dist[src] = 0
	done := map[string]bool{}
	for {
		u := ""
		for _, h := range p.top.Hosts { // host order: deterministic ties
			if !done[h.Name] && dist[h.Name] < inf && (u == "" || dist[h.Name] < dist[u]) {
				u = h.Name
			}
		}
		if u == "" {
			break
		}
		done[u] = true
		for _, ifc := range p.ifaces[u] {
			l := p.top.Links[ifc.link]
			d := dist[u] + l.AB.Delay + l.BA.Delay + 1
			if d < dist[ifc.peer] {
				dist[ifc.peer] = d
				if u == src {
					first[ifc.peer] = ifc
				} else {
					first[ifc.peer] = first[u]
				}
			}
		}
	}
	var rs []route
	for i, l := range p.top.Links {
		if l.A == src || l.B == src {
			continue
		}
		target := l.A
		if dist[l.B] < dist[l.A] {
			target = l.B
		}
		if dist[target] == inf {
			continue
		}
		ifc := first[target]
		rs = append(rs, route{dst: linkPrefix(i), via: ifc.peerAddr, dev: ifc.dev})
	}
	return rs
}

// linkPrefix returns link i's subnet; its first host is .1, its second .2.
func linkPrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(77 + i/256), byte(i % 256), 0}), 24)
}

// addr returns host's address on its link to peer, or on its first link if
// peer is empty.
func (p *plan) addr(host, peer string) (netip.Addr, error) {
	ifs, ok := p.ifaces[host]
	if _, known := p.top.Host(host); !known {
		return netip.Addr{}, fmt.Errorf("addr: no host %q", host)
	}
	if !ok {
		return netip.Addr{}, fmt.Errorf("addr: host %q has no links", host)
	}
	if peer == "" {
		return ifs[0].addr, nil
	}
	for _, ifc := range ifs {
		if ifc.peer == peer {
			return ifc.addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("addr: no link between %s and %s", host, peer)
}

// txQueueLen is the TUN devices' transmit queue: long enough that a
// forwarder briefly descheduled does not cost packets.
const txQueueLen = 10000

// ipBatch returns the "ip -batch" commands that configure host's
// interfaces, routes and MPTCP, to run in its namespace once its TUN
// devices exist.
func (p *plan) ipBatch(host string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("link set dev lo up")
	for _, ifc := range p.ifaces[host] {
		line("link set dev %s mtu 1500 txqueuelen %d up", ifc.dev, txQueueLen)
		line("addr add %s/%d dev %s", ifc.addr, ifc.prefix.Bits(), ifc.dev)
	}
	for _, r := range p.routes[host] {
		line("route add %s via %s dev %s", r.dst, r.via, r.dev)
	}
	for _, ifc := range p.ifaces[host] {
		if ifc.table == 0 {
			continue
		}
		line("rule add from %s table %d pref %d", ifc.addr, ifc.table, 900+ifc.table)
		line("route add default via %s dev %s table %d", ifc.peerAddr, ifc.dev, ifc.table)
	}
	h, _ := p.top.Host(host)
	if m := h.MPTCP; m != nil {
		if m.Subflows > 0 || m.AddAddrAccepted > 0 {
			line("mptcp limits set subflows %d add_addr_accepted %d", m.Subflows, m.AddAddrAccepted)
		}
		if m.Endpoints != "" {
			for _, ifc := range p.ifaces[host] {
				line("mptcp endpoint add %s dev %s %s", ifc.addr, ifc.dev, m.Endpoints)
			}
		}
	}
	return b.String()
}
