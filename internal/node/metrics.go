package node

import (
	"cmp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/store"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// The metrics, by part. Each node has its own registry (a process may run
// several nodes: the demo does). Counters end in _total; the parts' own
// counters are read when /metrics is scraped, not copied as they change.
//
// Every node:
//
//	aqueduct_build_info{version,revision,go_version,role,name}  1
//	go_*, process_*                                  Go runtime and process
//
// Congestion manager (every node; macroflows appear with their first flow):
//
//	aqueduct_macroflow_flows{macroflow}              flows (connections) to the destination host
//	aqueduct_macroflow_rate_bytes_per_second{macroflow}     rate while busy, its flows' added
//	aqueduct_macroflow_goodput_bytes_per_second{macroflow}  delivered per second, idle time included
//	aqueduct_macroflow_rtt_seconds{macroflow}, _min_rtt_seconds, aqueduct_macroflow_loss_ratio
//
// HTTP servers (origin, edge):
//
//	aqueduct_http_requests_total{method,code}        requests answered, by status
//	aqueduct_http_response_bytes_total               body bytes sent
//	aqueduct_http_requests_in_flight
//	aqueduct_http_first_byte_seconds                 histogram: request to first body byte
//	aqueduct_http_responses_aborted_total            responses cut mid-body by a failure upstream
//	aqueduct_http_connections                        connections held
//	aqueduct_http_connections_refused_total{limit}   total (503), client (429)
//
// Peer servers (origin, relay):
//
//	aqueduct_peer_connections                        authenticated connections open
//	aqueduct_peer_connections_accepted_total, _authenticated_total
//	aqueduct_peer_handshake_failures_total           wrong key, not the protocol, timeout
//	aqueduct_peer_refused_before_handshake_total     too fast or too many from one address
//	aqueduct_peer_handshakes_evicted_total           dropped for newer ones past the most at once
//	aqueduct_peer_requests_total{type}               open, hashes, read
//	aqueduct_peer_error_answers_total                requests answered with ERROR
//	aqueduct_peer_loops_total                        OPENs refused with LOOP (a loop of upstreams)
//	aqueduct_peer_sent_bytes_total                   DATA bytes sent
//
// Block cache (relay, edge with cache.dir):
//
//	aqueduct_cache_hits_total, _misses_total, _evictions_total, _write_errors_total, _disk_full_total
//	aqueduct_cache_bytes, aqueduct_cache_limit_bytes, aqueduct_cache_objects, aqueduct_cache_blocks
//
// Transfer engine (relay, edge):
//
//	aqueduct_transfers_active                        objects open
//	aqueduct_readers_active                          byte-range readers open
//	aqueduct_reader_memory_bytes                     block buffers the readers hold
//	aqueduct_reader_memory_limit_bytes
//	aqueduct_reader_memory_reclaimed_bytes_total     given back by readers whose consumers took nothing
//	aqueduct_reader_memory_waits_total, _busy_total  next blocks that waited for memory; reads failed after memory_wait
//	aqueduct_transfer_copies_total                   second copies of late blocks
//	aqueduct_transfer_wasted_bytes_total             bytes fetched for nobody (the copy that lost)
//	aqueduct_transfer_cache_drops_total              verified blocks not cached (writer busy)
//	aqueduct_stale_opens_total                       objects served stale: no upstream could revalidate them
//	aqueduct_open_hedges_total                       descriptions asked for again elsewhere: the first upstream was slow
//	aqueduct_upstream_connections{upstream}          ready connections
//	aqueduct_upstream_requests_total{upstream}       block requests sent
//	aqueduct_upstream_received_bytes_total{upstream} verified bytes received
//	aqueduct_upstream_errors_total{upstream,kind}    refused, corrupt, dial, lost, stall
//	aqueduct_upstream_bans_total{upstream}
//	aqueduct_upstream_retransmits_total{upstream}    TCP segments retransmitted (TCP_INFO)
//	aqueduct_upstream_rtt_seconds{upstream,conn}     smoothed RTT of each connection (TCP_INFO; conn is 0, 1, ...)
//	aqueduct_upstream_min_rtt_seconds{upstream,conn}
//	aqueduct_upstream_delivery_rate_bytes_per_second{upstream,conn}
//	aqueduct_upstream_cwnd_segments{upstream,conn}
//	aqueduct_upstream_conn_rate_bytes_per_second{upstream,conn}     the CM's estimates of each connection
//	aqueduct_upstream_conn_goodput_bytes_per_second{upstream,conn}
//	aqueduct_upstream_connections_target{upstream}   connections wanted (sizing), once first resized
//	aqueduct_upstream_sizing{upstream,reason}        1 for the reason of the target

// registerProcess registers what every node exports.
func registerProcess(reg *prometheus.Registry, cfg conf.Config) {
	version, revision := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "aqueduct_build_info",
		Help: "Build and identity of this node; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": runtime.Version(),
			"role": string(cfg.Role), "name": cfg.Name},
	})
	info.Set(1)
	reg.MustRegister(info, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// httpMetrics are the HTTP server's; the observe middleware updates them.
type httpMetrics struct {
	requests  *prometheus.CounterVec
	bytes     prometheus.Counter
	inFlight  prometheus.Gauge
	firstByte prometheus.Histogram
	aborted   prometheus.Counter
	refused   *prometheus.CounterVec
	listeners listenerSet // the HTTP servers' listeners, for aqueduct_http_connections
}

// listenerSet lists the limit listeners of a node's HTTP servers.
type listenerSet struct {
	mu  sync.Mutex
	lns []*limitListener
}

func (s *listenerSet) Add(l *limitListener) {
	s.mu.Lock()
	s.lns = append(s.lns, l)
	s.mu.Unlock()
}

func (s *listenerSet) open() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lns {
		n += l.open()
	}
	return float64(n)
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aqueduct_http_requests_total", Help: "HTTP requests answered, by method and status code.",
		}, []string{"method", "code"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aqueduct_http_response_bytes_total", Help: "HTTP response body bytes sent.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aqueduct_http_requests_in_flight", Help: "HTTP requests being answered.",
		}),
		firstByte: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aqueduct_http_first_byte_seconds",
			Help:    "Time from a request's arrival to its first body byte.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		aborted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aqueduct_http_responses_aborted_total", Help: "HTTP responses cut mid-body because the content could not be fetched.",
		}),
	}
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aqueduct_http_connections_refused_total",
		Help: "HTTP connections refused at a limit: total (http.max_conns, answered 503) or client (http.max_conns_per_client, answered 429).",
	}, []string{"limit"})
	conns := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "aqueduct_http_connections", Help: "HTTP connections held.",
	}, m.listeners.open)
	reg.MustRegister(m.requests, m.bytes, m.inFlight, m.firstByte, m.aborted, m.refused, conns)
	return m
}

// methodLabel keeps the method label to a few values.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "OPTIONS":
		return m
	}
	return "other"
}

// desc is a shorthand for the collectors' descriptors.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	upLabels   = []string{"upstream"}
	connLabels = []string{"upstream", "conn"}

	engineDescs = struct {
		objects, readers, memory, memoryLimit, copies, wasted, drops *prometheus.Desc
		reclaimed, memWaits, memBusy, staleOpens, hedges             *prometheus.Desc
		conns, requests, bytes, errors, bans, retrans                *prometheus.Desc
		rtt, minRTT, rate, cwnd                                      *prometheus.Desc
		cmRate, cmGoodput, target, sizing                            *prometheus.Desc
	}{
		objects:     desc("aqueduct_transfers_active", "Objects open in the transfer engine."),
		readers:     desc("aqueduct_readers_active", "Byte-range readers open in the transfer engine."),
		memory:      desc("aqueduct_reader_memory_bytes", "Block buffers the readers hold."),
		memoryLimit: desc("aqueduct_reader_memory_limit_bytes", "The most block buffers the readers may hold (transfer.memory)."),
		copies:      desc("aqueduct_transfer_copies_total", "Second copies of late blocks requested."),
		wasted:      desc("aqueduct_transfer_wasted_bytes_total", "Bytes fetched that nobody wanted any more."),
		drops:       desc("aqueduct_transfer_cache_drops_total", "Verified blocks not cached because the cache writer was busy."),
		reclaimed:   desc("aqueduct_reader_memory_reclaimed_bytes_total", "Block buffer memory that readers whose consumers took nothing gave back to others."),
		memWaits:    desc("aqueduct_reader_memory_waits_total", "Readers' next blocks that had to wait for memory."),
		memBusy:     desc("aqueduct_reader_memory_busy_total", "Reads failed because no memory came free within transfer.memory_wait."),
		staleOpens:  desc("aqueduct_stale_opens_total", "Objects served from a description no upstream could revalidate (transfer.stale_if_error)."),
		hedges:      desc("aqueduct_open_hedges_total", "Descriptions asked for again on another connection because the first did not answer within 750 ms."),
		conns:       desc("aqueduct_upstream_connections", "Ready connections to the upstream.", upLabels...),
		requests:    desc("aqueduct_upstream_requests_total", "Block requests sent to the upstream.", upLabels...),
		bytes:       desc("aqueduct_upstream_received_bytes_total", "Verified bytes received from the upstream.", upLabels...),
		errors:      desc("aqueduct_upstream_errors_total", "Failures of the upstream, by kind: refused (an open or a request), corrupt (a block), dial, lost (a connection), stall (a connection closed for stalling).", "upstream", "kind"),
		bans:        desc("aqueduct_upstream_bans_total", "Times the upstream was banned for a corrupt block.", upLabels...),
		retrans:     desc("aqueduct_upstream_retransmits_total", "TCP segments retransmitted on the connections to the upstream (TCP_INFO, read at each scrape and at each connection's end).", upLabels...),
		rtt:         desc("aqueduct_upstream_rtt_seconds", "Smoothed round-trip time of a connection (TCP_INFO).", connLabels...),
		minRTT:      desc("aqueduct_upstream_min_rtt_seconds", "Lowest round-trip time seen on a connection (TCP_INFO).", connLabels...),
		rate:        desc("aqueduct_upstream_delivery_rate_bytes_per_second", "The kernel's estimate of a connection's delivery rate (TCP_INFO).", connLabels...),
		cwnd:        desc("aqueduct_upstream_cwnd_segments", "Congestion window of a connection (TCP_INFO).", connLabels...),
		cmRate:      desc("aqueduct_upstream_conn_rate_bytes_per_second", "The congestion manager's estimate of what a connection delivers while it has requests outstanding.", connLabels...),
		cmGoodput:   desc("aqueduct_upstream_conn_goodput_bytes_per_second", "The congestion manager's estimate of what a connection delivers per second, idle time included.", connLabels...),
		target:      desc("aqueduct_upstream_connections_target", "Connections the engine wants to the upstream (grown from its share of transfer.conns while more connections carry more, up to transfer.max_conns).", upLabels...),
		sizing:      desc("aqueduct_upstream_sizing", "Why the upstream's connection target is what it is: 1 for the current reason (start, demand-limited, probing, growing, plateau, max).", "upstream", "reason"),
	}
)

// sink sends a collector's metrics.
type sink chan<- prometheus.Metric

func (s sink) gauge(d *prometheus.Desc, v float64, labels ...string) {
	s <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (s sink) counter(d *prometheus.Desc, v int64, labels ...string) {
	s <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// engineCollector exports a transfer engine's statistics.
type engineCollector struct{ e *transfer.Engine }

// Describe lists every metric the collector may send: which ones it sends
// depends on the connections that are up.
func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &engineDescs
	for _, desc := range []*prometheus.Desc{d.objects, d.readers, d.memory, d.memoryLimit, d.copies, d.wasted, d.drops,
		d.reclaimed, d.memWaits, d.memBusy, d.staleOpens, d.hedges,
		d.conns, d.requests, d.bytes, d.errors, d.bans, d.retrans, d.rtt, d.minRTT, d.rate, d.cwnd,
		d.cmRate, d.cmGoodput, d.target, d.sizing} {
		ch <- desc
	}
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	d, out := &engineDescs, sink(ch)
	gauge, counter := out.gauge, out.counter
	st := c.e.Stats()
	gauge(d.objects, float64(st.Objects))
	gauge(d.readers, float64(st.Readers))
	gauge(d.memory, float64(st.Memory))
	gauge(d.memoryLimit, float64(st.MemoryLimit))
	counter(d.copies, st.Copies)
	counter(d.wasted, st.WastedBytes)
	counter(d.drops, st.StoreDrops)
	counter(d.reclaimed, st.Reclaimed)
	counter(d.memWaits, st.MemoryWaits)
	counter(d.memBusy, st.MemoryBusies)
	counter(d.staleOpens, st.StaleOpens)
	counter(d.hedges, st.Hedges)
	for _, u := range c.e.Upstreams() {
		gauge(d.conns, float64(len(u.Conns)), u.Addr)
		counter(d.requests, u.Requests, u.Addr)
		counter(d.bytes, u.Bytes, u.Addr)
		counter(d.errors, u.Refused, u.Addr, "refused")
		counter(d.errors, u.Corrupt, u.Addr, "corrupt")
		counter(d.errors, u.DialFails, u.Addr, "dial")
		counter(d.errors, u.Lost, u.Addr, "lost")
		counter(d.errors, u.Stalls, u.Addr, "stall")
		counter(d.bans, u.Bans, u.Addr)
		counter(d.retrans, u.Retransmits, u.Addr)
		if u.Target > 0 {
			gauge(d.target, float64(u.Target), u.Addr)
			gauge(d.sizing, 1, u.Addr, u.Reason)
		}
		// Connections are labelled by their place among the upstream's,
		// not by their IDs, which grow with every redial: the series stay
		// few however often connections are replaced.
		sortConns(u.Conns)
		for i, cs := range u.Conns {
			id := strconv.Itoa(i)
			gauge(d.rtt, cs.RTT.Seconds(), u.Addr, id)
			gauge(d.minRTT, cs.MinRTT.Seconds(), u.Addr, id)
			gauge(d.rate, float64(cs.DeliveryRate), u.Addr, id)
			gauge(d.cwnd, float64(cs.Cwnd), u.Addr, id)
			gauge(d.cmRate, cs.Rate, u.Addr, id)
			gauge(d.cmGoodput, cs.Goodput, u.Addr, id)
		}
	}
}

// sortConns orders connections by ID, oldest first.
func sortConns(cs []transfer.ConnStats) {
	slices.SortFunc(cs, func(a, b transfer.ConnStats) int { return cmp.Compare(a.ID, b.ID) })
}

var (
	mfLabels        = []string{"macroflow"}
	congestionDescs = struct{ flows, rate, goodput, rtt, minRTT, loss, clients *prometheus.Desc }{
		flows:   desc("aqueduct_macroflow_flows", "Flows (connections) in the macroflow: the connections to one destination host.", mfLabels...),
		rate:    desc("aqueduct_macroflow_rate_bytes_per_second", "The congestion manager's estimate of the macroflow's rate: its flows' rates while busy, added.", mfLabels...),
		goodput: desc("aqueduct_macroflow_goodput_bytes_per_second", "What the macroflow's flows delivered together per second.", mfLabels...),
		rtt:     desc("aqueduct_macroflow_rtt_seconds", "The macroflow's smoothed round trip, its flows' weighted by rate.", mfLabels...),
		minRTT:  desc("aqueduct_macroflow_min_rtt_seconds", "The least round trip seen on the macroflow's flows.", mfLabels...),
		loss:    desc("aqueduct_macroflow_loss_ratio", "The part of what the macroflow's senders sent that was lost (seen on flows this node sends on).", mfLabels...),
		clients: desc("aqueduct_client_macroflows", "Macroflows of HTTP clients (http.adapt): client hosts with connections open; not exported one by one."),
	}
)

// congestionCollector exports the congestion manager's macroflows.
type congestionCollector struct{ m *congestion.Manager }

func (c congestionCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &congestionDescs
	for _, desc := range []*prometheus.Desc{d.flows, d.rate, d.goodput, d.rtt, d.minRTT, d.loss, d.clients} {
		ch <- desc
	}
}

func (c congestionCollector) Collect(ch chan<- prometheus.Metric) {
	d, out := &congestionDescs, sink(ch)
	clients := 0
	for _, mf := range c.m.Snapshot() {
		if isClientMacroflow(mf.Name) {
			clients++ // one series per player's address would grow without bound
			continue
		}
		out.gauge(d.flows, float64(mf.Flows), mf.Name)
		if !mf.Known() {
			continue
		}
		out.gauge(d.rate, mf.Rate, mf.Name)
		out.gauge(d.goodput, mf.Goodput, mf.Name)
		out.gauge(d.rtt, mf.RTT.Seconds(), mf.Name)
		out.gauge(d.minRTT, mf.MinRTT.Seconds(), mf.Name)
		out.gauge(d.loss, mf.Loss, mf.Name)
	}
	out.gauge(d.clients, float64(clients))
}

var storeDescs = struct {
	hits, misses, evictions, writeErrors, diskFull, bytes, limit, objects, blocks *prometheus.Desc
}{
	hits:        desc("aqueduct_cache_hits_total", "Block cache lookups that found the block."),
	misses:      desc("aqueduct_cache_misses_total", "Block cache lookups that did not."),
	evictions:   desc("aqueduct_cache_evictions_total", "Objects evicted from the block cache to stay within its budget."),
	writeErrors: desc("aqueduct_cache_write_errors_total", "Blocks the cache failed to write."),
	diskFull:    desc("aqueduct_cache_disk_full_total", "Times the cache's disk filled before its budget, which lowered the budget."),
	bytes:       desc("aqueduct_cache_bytes", "Bytes of blocks in the cache."),
	limit:       desc("aqueduct_cache_limit_bytes", "The cache's budget (cache.size)."),
	objects:     desc("aqueduct_cache_objects", "Objects with at least one block in the cache."),
	blocks:      desc("aqueduct_cache_blocks", "Blocks in the cache."),
}

// storeCollector exports a block store's statistics.
type storeCollector struct{ s *store.Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	d, out := &storeDescs, sink(ch)
	st := c.s.Stats()
	out.counter(d.hits, st.Hits)
	out.counter(d.misses, st.Misses)
	out.counter(d.evictions, st.Evictions)
	out.counter(d.writeErrors, st.WriteErrors)
	out.counter(d.diskFull, st.DiskFull)
	out.gauge(d.bytes, float64(st.Bytes))
	out.gauge(d.limit, float64(c.s.MaxBytes()))
	out.gauge(d.objects, float64(st.Objects))
	out.gauge(d.blocks, float64(st.Blocks))
}

var peerDescs = struct {
	conns, accepted, authenticated, handshakeFailures, refusedEarly, evicted, requests, errors, loops, bytes *prometheus.Desc
}{
	conns:             desc("aqueduct_peer_connections", "Authenticated peer connections open."),
	accepted:          desc("aqueduct_peer_connections_accepted_total", "Peer connections accepted."),
	authenticated:     desc("aqueduct_peer_connections_authenticated_total", "Peer connections whose handshake succeeded."),
	handshakeFailures: desc("aqueduct_peer_handshake_failures_total", "Peer connections refused in the handshake (wrong key, not the protocol, timeout)."),
	refusedEarly:      desc("aqueduct_peer_refused_before_handshake_total", "Peer connections closed before their handshake: too fast, or too many at once, from one address."),
	evicted:           desc("aqueduct_peer_handshakes_evicted_total", "Peer connections in the handshake dropped for newer ones, past the most at once."),
	requests:          desc("aqueduct_peer_requests_total", "Peer requests admitted, by type.", "type"),
	errors:            desc("aqueduct_peer_error_answers_total", "Peer requests answered with ERROR."),
	loops:             desc("aqueduct_peer_loops_total", "OPENs refused with LOOP: they had passed this node already (the upstreams form a loop)."),
	bytes:             desc("aqueduct_peer_sent_bytes_total", "DATA bytes sent to peers."),
}

// peerCollector exports a peer server's statistics.
type peerCollector struct{ s *peer.Server }

func (c peerCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c peerCollector) Collect(ch chan<- prometheus.Metric) {
	d, out := &peerDescs, sink(ch)
	counter := out.counter
	st := c.s.Stats()
	out.gauge(d.conns, float64(st.Active))
	counter(d.accepted, st.Accepted)
	counter(d.authenticated, st.Authenticated)
	counter(d.handshakeFailures, st.HandshakeFailures)
	counter(d.refusedEarly, st.RefusedEarly)
	counter(d.evicted, st.Evicted)
	counter(d.requests, st.Opens, "open")
	counter(d.requests, st.Hashes, "hashes")
	counter(d.requests, st.Reads, "read")
	counter(d.errors, st.Errors)
	counter(d.loops, st.Loops)
	counter(d.bytes, st.BytesSent)
}
