// Package sched is the parallel transfer engine's scheduler: a pure state
// machine, in the manner of etcd's raft RawNode, that decides which
// connection fetches which block.
//
// The driver (package transfer's Engine) feeds it events: a block is
// wanted (Want) or no longer (Unwant), a request completed (Completed) or
// failed (Failed), a connection came up (Dialed) or died (Lost), data
// arrived (Activity), time passed (Tick). It answers with a [Ready] batch
// of actions — close, dial, cancel, request, fail — and the deadline by
// which Tick must be called next. It reads no clock and owns no goroutines
// or sockets, so tests drive it with simulated time and links (sched_test.go).
//
// The driver's duties, in order, after any event:
//
//  1. Call Ready(now) and carry out its actions in the order of its fields:
//     close, dial, cancel, request; then fail the blocks in Failures.
//  2. Report the end of every Request sent with exactly one Completed or
//     Failed (or Lost for its connection), every Dial with Dialed, and
//     every Cancel with CancelEnded.
//  3. Call Tick(now) at Ready's Deadline at the latest.
//
// Connections are spread over the reachable upstreams; each keeps about
// Config.QueueTime of requests at its measured rate (within two and
// Pipeline); the most urgent blocks go to the fastest connections, and a
// block late on a stalled or slow connection gets a second copy on an idle
// one (the first copy to arrive wins). An upstream that sends a corrupt
// block is banned; one that fails repeatedly loses its share of connections
// until a probe succeeds.
//
// The rates come from the driver (SetRate: the congestion manager's
// estimate of each connection's flow); the scheduler keeps none of its
// own. With Config.MaxConns, each upstream's count of connections is sized
// by a congestion.Sizer from the bytes its connections deliver while work
// waits for them: it grows where more connections carry more (a path whose
// rate per connection loss limits) and stays where they only share.
package sched
