// Package congestion is Aqueduct's congestion manager (CM), after Balakrishnan
// et al., "An Integrated Congestion Management Architecture for Internet
// Hosts" (seed 004): one per process, the one owner of what the process knows
// about the paths it sends and fetches over.
//
// # Flows and macroflows
//
// Every connection that carries data is registered with Open, which returns
// a *Flow. Flows to the same destination host form a macroflow by default:
// they share one bottleneck in the common case, so they share one estimate.
// The grouping can be changed: Flow.Move splits a flow out into a macroflow
// of its own name, and Manager.Merge folds one macroflow into another (two
// hosts behind one bottleneck).
//
// # Estimates
//
// A flow is fed cumulative observations: Flow.Observe takes a Sample (for a
// TCP flow, what the kernel's TCP_INFO says: delivered bytes, segments sent
// and retransmitted, smoothed and minimum RTT), and Flow.Update is the
// paper's cm_update for flows whose feedback the application owns (sent,
// received, the kind of loss, an RTT sample); both feed the same
// Estimator. Flow.Watch has the CM sample a connection's TCP_INFO itself,
// at half its round trip (20 ms to 1 s), on one goroutine for all watched
// connections. The Estimator is an interface; the default one (NewEWMA)
// smooths rate, goodput, RTT and loss with a half-life and is pure: time
// comes from the samples, and the Manager's clock is injected
// (Config.Now), so all of it is tested without sockets.
//
// An estimate has two rates. Goodput is bytes per second of wall time.
// Rate is bytes per second of busy time where the flow counts it
// (Flow.SetBusy: a fetching connection is busy while it has requests
// outstanding): what the path gives the flow when it asks, which an idle
// flow keeps, and what a scheduler predicts finish times with. The
// kernel's own busy time is not used: it counts in jiffies, and a sender
// that paces itself would look idle.
//
// A macroflow's estimate folds its flows' estimates: rates add (the flows
// share the path, so their goodputs together are what the path gave), RTT
// and loss are averaged weighted by rate, the minimum RTT is the least.
//
// # Query and callbacks
//
// Flow.Query and Manager.Query return the estimate of a flow or a
// macroflow (the paper's cm_query); Manager.Snapshot all macroflows, for
// metrics. Manager.Subscribe is cm_thresh with cmapp_update: the callback
// runs when the macroflow's rate has fallen by a factor down or risen by a
// factor up since the last call. Callbacks run on a goroutine of their
// subscription, fed through a one-slot mailbox that keeps the newest
// estimate: a slow callback sees fewer, newer updates and never blocks the
// CM or another subscriber.
//
// # Parallelism
//
// A Sizer decides how many parallel connections one destination gets. On
// a path whose rate per connection loss limits (a loss-based congestion
// control such as CUBIC: its rate falls with the square root of the loss
// rate, whatever the capacity), more connections carry proportionally
// more until together they fill the path; where one connection already
// fills it (BBR, or a clean path), more only share. The Sizer finds out by
// measuring: it doubles the count while that pays (it quadruples where
// each connection keeps no more than the path's loss allows a loss-based
// control, 1.22/√p segments, and steps early while such connections come
// down from slow start), keeps the knee when it stops paying, and tries
// again later. There is no fixed cap like aria2's 16 connections. The
// transfer engine sizes each upstream with one.
//
// # Budgets, requests and grants
//
// A Budget bounds what a macroflow's flows send together: a multiple k of
// one TCP flow's share (the CM emulates k AIMD flows from the loss events
// and RTT its flows see: at 1 an ensemble of connections to one host takes
// no more than one TCP connection would beside it), a fixed rate, or the
// lower of both. Config.Budget gives every macroflow one, SetBudget one
// macroflow. The allowance is divided among the flows that carry data, by
// weight (Flow.SetWeight). A watched sending connection gets its share as
// the kernel's SO_MAX_PACING_RATE, so the kernel paces it; a socket that
// refuses the option (MPTCP) and a flow the application drives itself
// pace through grants instead: Flow.Grant (and its callback form
// Flow.Request) is the paper's cm_request and cmapp_send, returning when
// the flow may send n more bytes, and the flows that wait share the
// allowance in start-time fair order by weight. Without a budget a grant
// is immediate.
//
// # What outlives a flow
//
// A macroflow whose last flow closed keeps its last estimate (the next
// flow to the destination starts from it, Shared) and the connection
// count its sizing settled on (SetConns, Conns) for Config.Retain, ten
// minutes by default; at most MaxRetained empty macroflows are kept, the
// oldest forgotten first, so that an edge that has seen a million client
// hosts holds only the recent ones.
//
// Content adaptation uses the CM as the paper's section 5 does: an edge
// registers each player connection as a Send flow in the macroflow
// client/HOST, busy while a response is unacknowledged, and orders an HLS
// master playlist's variants by that macroflow's rate
// (internal/roles/edge).
package congestion
