// Package peer runs connections of the Aqueduct peer protocol
// (docs/protocol.md): the handshake that proves both ends hold the cluster
// key, and the read and write loops around the pure codec in package wire.
//
// A downstream node dials with [Dial] and gets a [Conn], on which it opens
// objects and reads byte ranges; many requests may be in flight at once, and
// each completes through a callback. An upstream node runs a [Server] that
// answers connections with the objects of a [Handler].
//
// Each connection has one reader goroutine, reading through a bufio.Reader
// with a read deadline, and one writer goroutine fed by a queue that never
// blocks the caller. The server serves the requests of one connection
// concurrently, and its writer sends the DATA of the oldest request that has
// data ready first, so requests complete in the order they were made when
// their data is available, and a request waiting for its data does not hold
// back the others.
//
// Limits, all in [Config]: the largest frame payload accepted, handles and
// outstanding requests per connection (past them requests are answered with
// TOO_MANY), READ streams served at once per connection, and the time a
// connection may stay silent. Buffering per connection is bounded by these.
//
// Links ask for MPTCP when Config.MPTCP is set (Go's SetMultipathTCP);
// plain TCP where the kernel or the other end has none. The kernel's path
// manager chooses the subflows from the host's MPTCP endpoints: with none
// configured, a link is one subflow (docs/lab.md, "MPTCP"). The handshake
// authenticates both ends but does not encrypt; see the protocol document.
//
// Loops: a Server with a Config.NodeID answers LOOP to an OPEN whose via
// list holds that ID; a Handler that forwards requests upstream passes on
// [Via] of the request's context.
package peer
