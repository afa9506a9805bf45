// Package sockopt is the one place where Aqueduct chooses options of its
// peer sockets: MPTCP, and the congestion control (Linux TCP_CONGESTION).
//
// [Options.Dialer] and [Options.ListenConfig] return the net.Dialer and
// net.ListenConfig that every peer link is made with; accepted connections
// inherit the listener's congestion control. Setting the congestion control
// is best effort: if the kernel refuses the name (its module is not loaded,
// or it is not in net.ipv4.tcp_allowed_congestion_control for this network
// namespace or user), the socket keeps the kernel's default. Nothing is
// logged here: a node calls [Check] once at start and logs what it says, and
// [Congestion] tells what a connection really got.
//
// MPTCP: Options.MPTCP asks the kernel for a multipath socket (Go's
// SetMultipathTCP), with a silent fallback to TCP where the kernel or the
// peer has none. The kernel's path manager, not Aqueduct, decides the
// subflows, from the host's MPTCP endpoints and limits (ip mptcp endpoint,
// ip mptcp limits): with no endpoint configured a multipath connection
// has exactly one subflow and behaves as TCP. See docs/lab.md.
//
// Choosing the congestion control is supported on Linux only; elsewhere
// Check and Congestion return [ErrUnsupported] and the options do nothing.
package sockopt
