package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

func link(a, b string, delay time.Duration) Link {
	c := linkem.Config{Delay: delay}
	return Link{A: a, B: b, AB: c, BA: c}
}

func TestPlan_routesFollowShortestDelay(t *testing.T) {
	// a–b–c in a line, plus a slow direct a–c link and a dead end d off c.
	top := Topology{
		Hosts: []Host{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}},
		Links: []Link{
			link("a", "b", 5*time.Millisecond),  // 10.77.0.0/24
			link("b", "c", 5*time.Millisecond),  // 10.77.1.0/24
			link("a", "c", 50*time.Millisecond), // 10.77.2.0/24
			link("c", "d", time.Millisecond),    // 10.77.3.0/24
		},
	}
	p, err := newPlan(top)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		// a reaches b–c and c–d through b (10 ms) rather than the direct
		// 50 ms link.
		"a": {"10.77.1.0/24 via 10.77.0.2 dev aql-b", "10.77.3.0/24 via 10.77.0.2 dev aql-b"},
		"b": {"10.77.2.0/24 via 10.77.0.1 dev aql-a", "10.77.3.0/24 via 10.77.1.2 dev aql-c"},
		"c": {"10.77.0.0/24 via 10.77.1.1 dev aql-b"},
		"d": {"10.77.0.0/24 via 10.77.3.1 dev aql-c", "10.77.1.0/24 via 10.77.3.1 dev aql-c", "10.77.2.0/24 via 10.77.3.1 dev aql-c"},
	}
	for h, w := range want {
		var got []string
		for _, r := range p.routes[h] {
			got = append(got, r.dst.String()+" via "+r.via.String()+" dev "+r.dev)
		}
		if strings.Join(got, "; ") != strings.Join(w, "; ") {
			t.Errorf("host %s routes:\n got %v\nwant %v", h, got, w)
		}
	}
}

func TestPlan_ipBatch(t *testing.T) {
	top := Topology{
		Hosts: []Host{{Name: "s"}, {Name: "c", SourceRouting: true, MPTCP: &MPTCPSpec{Subflows: 2, AddAddrAccepted: 2, Endpoints: "subflow"}}},
		Links: []Link{link("s", "c", time.Millisecond), link("s", "c", 2*time.Millisecond)},
	}
	p, err := newPlan(top)
	if err != nil {
		t.Fatal(err)
	}
	want := `link set dev lo up
link set dev aql-s mtu 1500 txqueuelen 10000 up
addr add 10.77.0.2/24 dev aql-s
link set dev aql-s2 mtu 1500 txqueuelen 10000 up
addr add 10.77.1.2/24 dev aql-s2
rule add from 10.77.0.2 table 100 pref 1000
route add default via 10.77.0.1 dev aql-s table 100
rule add from 10.77.1.2 table 101 pref 1001
route add default via 10.77.1.1 dev aql-s2 table 101
mptcp limits set subflows 2 add_addr_accepted 2
mptcp endpoint add 10.77.0.2 dev aql-s subflow
mptcp endpoint add 10.77.1.2 dev aql-s2 subflow
`
	if got := p.ipBatch("c"); got != want {
		t.Errorf("ipBatch(c):\n%s\nwant:\n%s", got, want)
	}
	// The server routes by destination only.
	if got := p.ipBatch("s"); strings.Contains(got, "rule") || strings.Contains(got, "mptcp") {
		t.Errorf("ipBatch(s) has source routing or MPTCP:\n%s", got)
	}
}

func TestPlan_rejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		top  Topology
	}{
		{"self link", Topology{Hosts: []Host{{Name: "a"}}, Links: []Link{link("a", "a", 0)}}},
		{"duplicate host", Topology{Hosts: []Host{{Name: "a"}, {Name: "a"}}}},
		{"bad name", Topology{Hosts: []Host{{Name: "A-1"}}}},
		{"foreign sysctl", Topology{Hosts: []Host{{Name: "a", Sysctl: OrderedMap[string]{{"kernel.panic", "1"}}}}}},
	} {
		if _, err := newPlan(tt.top); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}
