package lab

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// This file holds the types of the testbed's API that do not depend on
// Linux, so that callers compile everywhere.

// RunOptions configures Run. The zero value runs the experiment in full,
// writing to ./lab-results/NAME.
type RunOptions struct {
	// Quick applies the experiment's quick overrides (CI mode).
	Quick bool
	// Out is the results folder; empty means lab-results/NAME.
	Out string
	// Aqueduct is the binary that {{.Aqueduct}} names; empty means this
	// executable.
	Aqueduct string
	// Cases, if set, runs only the cases so named.
	Cases []string
	// Congestion, if set, replaces the experiment's list.
	Congestion []string
	// Repeat, if positive, replaces the number of repetitions.
	Repeat int
	// Vars overrides experiment variables.
	Vars map[string]string
	// Seed seeds the links; zero takes the experiment's, or a random one.
	Seed uint64
	// ID names the run's namespaces and work directory (Prefix+ID+"-…");
	// empty picks a random one.
	ID string
	// Capture writes a pcap file per link direction to OUT/pcap (see
	// TestbedConfig.CaptureDir); best with one case and one repetition.
	Capture bool
	// Keep leaves the work directory (content, downloads) in place.
	Keep bool
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// BenchConfig configures Bench.
type BenchConfig struct {
	// Exe and Args start this program's UDP helpers: Exe Args... udpsource
	// and udpsink (for the aqueduct binary: "aqueduct", ["lab"]).
	Exe  string
	Args []string
	// Duration of each measurement; zero means 4 s.
	Duration time.Duration
	// Rates are the paced loads, in Mbit/s of 1500-byte packets, at which
	// to measure CPU per Mbit/s; nil means 50, 100, 200.
	Rates  []float64
	Logger *slog.Logger
}

// BenchPoint is one measurement of the forwarder.
type BenchPoint struct {
	Label         string  `json:"label"`
	PacketBytes   int     `json:"packet_bytes"` // IP layer
	OfferedMbps   float64 `json:"offered_mbps"` // 0: as fast as the source can
	InPPS         float64 `json:"in_pps"`       // packets the forwarder read per second
	DeliveredPPS  float64 `json:"delivered_pps"`
	DeliveredMbps float64 `json:"delivered_mbps"`
	ReceivedPPS   float64 `json:"received_pps"` // at the receiving socket
	// CPU is the forwarder process's CPU time per second of wall time, in
	// cores; it includes the kernel's work inside the forwarder's system
	// calls (TUN reads, and writes that carry each packet up to the
	// receiving socket).
	CPU         float64 `json:"cpu_cores"`
	CPUPerMbps  float64 `json:"cpu_percent_per_mbps"` // % of one core per Mbit/s delivered
	MicrosPerPk float64 `json:"cpu_us_per_packet"`
	TxDropped   uint64  `json:"tx_dropped"` // at the sender's TUN: the forwarder fell behind
	MaxLate     string  `json:"max_release_lateness"`
}

// Cleaned lists what Clean removed.
type Cleaned struct {
	Namespaces []string
	Devices    []string
	Dirs       []string
	// InUse lists what Clean left because a running lab still holds it.
	InUse []string
}

// Empty reports whether nothing is left.
func (c Cleaned) Empty() bool { return len(c.Namespaces)+len(c.Devices)+len(c.Dirs) == 0 }

func (c Cleaned) String() string {
	s := fmt.Sprintf("namespaces %v, devices %v, directories %v", c.Namespaces, c.Devices, c.Dirs)
	if len(c.InUse) > 0 {
		s += fmt.Sprintf("; left in use by a running lab: %v", c.InUse)
	}
	return s
}

// LinkStats is the activity of one link.
type LinkStats struct {
	A, B   string
	AB, BA linkem.Stats
}

// HostCounters are a host's kernel counters that tell how a run went.
type HostCounters struct {
	TCPOutSegs     uint64 `json:"tcp_out_segs"`
	TCPRetransSegs uint64 `json:"tcp_retrans_segs"`
	TxDropped      uint64 `json:"tx_dropped"` // on the host's TUN devices: a forwarder fell behind
	// MPTCP holds the host's MPTcpExt counters (/proc/net/netstat, nstat's
	// MPTcpExt* without the prefix) that are not zero, the MPCurrEstab
	// gauge left out: for instance MPCapableACKRX counts the MPTCP
	// connections the host accepted and MPJoinAckRx the subflows it
	// accepted into existing ones. In a RunResult they count from before
	// the run's setup to the end of its client, so that the subflows that
	// services open before the client starts are counted.
	MPTCP map[string]uint64 `json:"mptcp,omitempty"`
}

// MPTCPConnections returns the MPTCP connections the host accepted
// (MPCapableACKRX).
func (h HostCounters) MPTCPConnections() uint64 { return h.MPTCP["MPCapableACKRX"] }

// MPTCPJoins returns the subflows the host accepted into existing MPTCP
// connections (MPJoinAckRx): a connection's subflows beyond its first.
func (h HostCounters) MPTCPJoins() uint64 { return h.MPTCP["MPJoinAckRx"] }
