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
// and retransmitted, smoothed and minimum RTT, delivery rate), and
// Flow.Update is the paper's cm_update for flows whose feedback the
// application owns (sent, received, the kind of loss, an RTT sample); both
// feed the same Estimator. The Estimator is an interface; the default one
// (NewEWMA) smooths goodput, RTT and loss with a half-life and is pure: time
// comes from the samples, and the Manager's clock is injected (Config.Now),
// so all of it is tested without sockets.
//
// A macroflow's estimate folds its flows' estimates: rates add (the flows
// share the path, so their goodputs together are what the path gave), RTT
// and loss are averaged weighted by rate, the minimum RTT is the least.
//
// # Query and callbacks
//
// Flow.Query and Manager.Query return the estimate of a flow or a
// macroflow (the paper's cm_query). Manager.Subscribe is cm_thresh with
// cmapp_update: the callback runs when the macroflow's rate has fallen by a
// factor down or risen by a factor up since the last call. Callbacks run on
// a goroutine of their subscription, fed through a one-slot mailbox that
// keeps the newest estimate: a slow callback sees fewer, newer updates and
// never blocks the CM or another subscriber.
//
// # What is next (issue 8)
//
// The TCP_INFO sampler at an adaptive interval, request/grant scheduling
// and the per-macroflow rate budget (SO_MAX_PACING_RATE, user-space pacing
// on MPTCP), shared start state for new flows, the transfer engine taking
// its rates from here and sizing its connection count by them, content
// adaptation at the edge, and the estimates on /metrics and in
// `aqueduct status`.
package congestion
