// Package linkem emulates one network link in user space: per direction it
// applies random loss (i.i.d. or bursty Gilbert–Elliott), a rate limit behind
// a drop-tail queue of a configured size in bytes, a one-way delay, and
// optional jitter that never reorders packets.
//
// The package has two layers, split the way etcd's raft splits RawNode from
// node:
//
//   - Pure state machines that take the time as an argument and hold no
//     goroutines, sockets or clocks: [Loss] (the loss process), [Queue] (rate
//     and drop-tail accounting), the delay-and-jitter scheduler, and [Pipe],
//     which composes them and decides each packet's fate with
//     [Pipe.Admit]. They are deterministic for a given [Config.Seed] and are
//     tested with a stepped clock.
//   - A driver, [Forwarder], that reads packets from one end of a link (a TUN
//     device, or any packet-preserving file), asks its Pipe what to do, keeps
//     admitted packets in a bounded byte ring, and writes each one to the
//     other end when its release time comes. Releases happen on a locked OS
//     thread that sleeps with clock_nanosleep(TIMER_ABSTIME) and a timer
//     slack of 1 ns, because Go's timers round to about a millisecond.
//     [Link] runs the two directions of a link together.
//
// To emulate a link, the caller:
//
//  1. Opens both ends, for instance with [OpenTUN] on a thread that has
//     entered each end's network namespace. Ends must deliver one packet per
//     Read and accept one packet per Write, and must support
//     SetReadDeadline (an *os.File opened non-blocking does).
//  2. Builds one [Config] per direction; zero fields take the defaults
//     documented on each field, and [Config.Validate] reports bad values.
//  3. Calls [NewLink] (or [NewForwarder] for one direction) and then
//     [Link.Run] with a context; Run returns when the context is done or an
//     end fails. Run does not close the ends: the caller closes them after
//     Run returns.
//  4. Reads [Forwarder.Stats] at any time, from any goroutine.
//  5. May change a running direction's Config with [Forwarder.SetConfig],
//     or both directions' with [Link.Set], at any time, from any
//     goroutine. The delay line is sized at construction: to raise the
//     rate, the delay or the queue later, reserve room with
//     [Options.LineBytes] (the largest [Config.LineBytes] of the
//     configurations to come); SetConfig refuses a Config that would not
//     fit.
//
// Model. A packet arriving at time t is first subjected to the loss process;
// a lost packet never reaches the queue. The queue is a fluid drop-tail
// queue in front of a transmitter of rate R: the transmitter is busy until
// some time F, the backlog at t is (F−t)·R bytes (the packet on the wire
// included), and a packet of s bytes is dropped when backlog+s exceeds the
// queue limit. Otherwise it leaves the transmitter at max(t,F)+8s/R, and is
// released one Delay later, plus a jitter drawn uniformly from
// [−Jitter, +Jitter]; a packet whose release would come before the previous
// packet's is held back to it, so the link never reorders. Packet sizes are
// IP-layer bytes (TUN devices carry no link-layer header).
//
// Changes. A new Config applies to packets that arrive after it; packets
// already admitted keep their release times, which is what a real link
// whose rate or delay changes does with the bits already on the wire and,
// for the queue, the simplest rule that keeps packets in order: bytes
// queued before a change drain at the old rate, later packets queue behind
// them at the new one, a backlog above a lowered queue limit drains instead
// of being dropped, and a shorter delay holds new packets back to the last
// release ([Pipe.SetConfig] lists every field).
//
// Limits. Memory per direction is bounded: the delay line holds at most
// QueueBytes plus Rate×(Delay+Jitter) bytes (a fixed 8 MiB when the rate is
// unlimited); packets that find it full are dropped and counted as overflow,
// which only a misconfiguration causes. Release precision is that of the
// kernel's timers (tens of microseconds typically, milliseconds under heavy
// CPU load on virtual machines); the Stats report lateness. The driver is
// Linux-only where it needs to be (TUN, clock_nanosleep); elsewhere it falls
// back to time.Sleep.
package linkem
