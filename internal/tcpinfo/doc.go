// Package tcpinfo reads the kernel's view of a TCP connection (Linux
// TCP_INFO): smoothed and minimum round-trip times, congestion window,
// delivery rate, retransmissions. On an MPTCP socket the kernel answers
// for one of its subflows.
//
// Elsewhere than Linux, Get returns ErrUnsupported.
package tcpinfo
