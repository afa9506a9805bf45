package lab

import (
	"maps"
	"testing"
)

func TestParseNetstat(t *testing.T) {
	const netstat = `TcpExt: SyncookiesSent SyncookiesRecv
TcpExt: 3 0
MPTcpExt: MPCapableSYNRX MPCapableACKRX MPJoinSynRx MPJoinAckRx MPCurrEstab MPTCPRetrans
MPTcpExt: 2 2 0 1 1 17
`
	got := parseNetstat(netstat, "MPTcpExt")
	want := map[string]uint64{"MPCapableSYNRX": 2, "MPCapableACKRX": 2, "MPJoinAckRx": 1, "MPTCPRetrans": 17}
	if !maps.Equal(got, want) {
		t.Errorf("parseNetstat = %v, want %v", got, want)
	}
	if h := (HostCounters{MPTCP: got}); h.MPTCPConnections() != 2 || h.MPTCPJoins() != 1 {
		t.Errorf("connections %d, joins %d", h.MPTCPConnections(), h.MPTCPJoins())
	}
	if got := parseNetstat("TcpExt: A\nTcpExt: 0\n", "MPTcpExt"); got != nil {
		t.Errorf("no MPTcpExt group: %v", got)
	}
}
