// Package lab is a WAN testbed on one Linux machine: hosts are network
// namespaces, links are pairs of TUN devices joined by the link emulator of
// package linkem, and experiments described in YAML run real programs (the
// aqueduct binary, curl, aria2c) over the real kernel TCP on those links and
// report goodput as a Markdown table, results.json and an SVG plot.
// docs/lab.md describes the model, the file format and the limits.
//
// Run(ctx, experiment, options) runs an experiment (LoadExperiment) end to
// end: it builds the testbed, runs every case the given number of times
// under every congestion control, measures, writes the results and always
// tears down. "aqueduct lab run" is a thin wrapper around it.
//
// To use a testbed from Go (tests, tools), the caller:
//
//  1. builds it with Build(ctx, TestbedConfig), in a test after
//     labtest.RequireRoot and with an ID from labtest.ID;
//  2. puts sockets into hosts with Testbed.Listen, ListenPacket and Dial,
//     or runs code there with Testbed.Do, on a locked thread that has
//     entered the host's namespace (sockets it creates and processes it
//     starts belong to the namespace; goroutines it starts do not);
//  3. starts processes with Testbed.Start and stops them with Proc.Stop;
//  4. reads Testbed.LinkStats and Testbed.Counters whenever it likes, and
//     may change a link's properties while it runs with Testbed.SetLink
//     (Run applies an experiment's scheduled link changes this way);
//  5. calls Testbed.Close, always (defer it): it stops the emulator, removes
//     the TUN devices, kills what runs in the namespaces and removes them.
//
// Everything the lab creates is named with Prefix ("aql-"): namespaces
// aql-ID-HOST, devices aql-PEER inside them, work directories in the
// temporary directory. If the process dies without closing, its TUN devices
// vanish with it; Clean removes the rest, and only what carries the prefix.
//
// Requirements: Linux, root (CAP_NET_ADMIN, CAP_SYS_ADMIN for namespaces,
// CAP_SYS_NICE for the emulator's real-time threads), /dev/net/tun and
// iproute2's ip; Preflight says what is missing, and elsewhere every entry
// point returns ErrUnsupported. Build raises GOMAXPROCS (the emulator runs
// four locked threads per link) and, in the root namespace,
// net.core.rmem_max, wmem_max and the allowed congestion controls; it never
// lowers them. Set AQUEDUCT_LAB_TRACE=1 to log every command the lab runs.
package lab
