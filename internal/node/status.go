package node

import (
	"encoding/json"
	"net/http"
	"time"
)

// Status is what a node's admin endpoint answers at /status, as JSON, and
// what `aqueduct status` prints: the congestion manager's macroflows and,
// on a node that fetches, each upstream's connections and their estimates.
// Rates are in bytes per second.
type Status struct {
	Role       string            `json:"role"`
	Name       string            `json:"name"`
	At         time.Time         `json:"at"`
	Macroflows []MacroflowStatus `json:"macroflows"`
	// ClientMacroflows counts the macroflows of HTTP clients (http.adapt),
	// which Macroflows leaves out: one per player's host.
	ClientMacroflows int              `json:"client_macroflows,omitempty"`
	Upstreams        []UpstreamStatus `json:"upstreams,omitempty"`
}

// MacroflowStatus is one macroflow: the flows to one destination host.
type MacroflowStatus struct {
	Name    string        `json:"name"`
	Flows   int           `json:"flows"`
	Known   bool          `json:"known"` // false: nothing measured yet
	Rate    float64       `json:"rate"`
	Goodput float64       `json:"goodput"`
	RTT     time.Duration `json:"rtt_ns"`
	MinRTT  time.Duration `json:"min_rtt_ns"`
	Loss    float64       `json:"loss"`
}

// UpstreamStatus is one upstream of the node's transfer engine.
type UpstreamStatus struct {
	Addr          string       `json:"addr"`
	Target        int          `json:"target,omitempty"` // 0: not resized yet
	Reason        string       `json:"reason,omitempty"`
	Detail        string       `json:"detail,omitempty"`
	ReceivedBytes int64        `json:"received_bytes"`
	Conns         []ConnStatus `json:"conns"`
}

// ConnStatus is one ready connection: the kernel's view and the congestion
// manager's estimates.
type ConnStatus struct {
	ID           uint32        `json:"id"`
	MPTCP        bool          `json:"mptcp"`
	RTT          time.Duration `json:"rtt_ns"`
	MinRTT       time.Duration `json:"min_rtt_ns"`
	Cwnd         uint32        `json:"cwnd"`
	DeliveryRate uint64        `json:"delivery_rate"`
	Retransmits  uint32        `json:"retransmits"`
	Rate         float64       `json:"rate"`
	Goodput      float64       `json:"goodput"`
}

func (n *Node) status() Status {
	st := Status{Role: string(n.cfg.Role), Name: n.cfg.Name, At: time.Now().UTC(), Macroflows: []MacroflowStatus{}}
	for _, mf := range n.cm.Snapshot() {
		if isClientMacroflow(mf.Name) {
			st.ClientMacroflows++
			continue
		}
		st.Macroflows = append(st.Macroflows, MacroflowStatus{Name: mf.Name, Flows: mf.Flows, Known: mf.Known(),
			Rate: mf.Rate, Goodput: mf.Goodput, RTT: mf.RTT, MinRTT: mf.MinRTT, Loss: mf.Loss})
	}
	n.mu.Lock()
	e := n.engine
	n.mu.Unlock()
	if e == nil {
		return st
	}
	for _, u := range e.Upstreams() {
		us := UpstreamStatus{Addr: u.Addr, Target: u.Target, Reason: u.Reason, Detail: u.Detail, ReceivedBytes: u.Bytes, Conns: []ConnStatus{}}
		sortConns(u.Conns)
		for _, c := range u.Conns {
			us.Conns = append(us.Conns, ConnStatus{ID: c.ID, MPTCP: c.MPTCP, RTT: c.RTT, MinRTT: c.MinRTT, Cwnd: c.Cwnd,
				DeliveryRate: c.DeliveryRate, Retransmits: c.Retransmits, Rate: c.Rate, Goodput: c.Goodput})
		}
		st.Upstreams = append(st.Upstreams, us)
	}
	return st
}

func (n *Node) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(n.status())
}
