package lab

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// TestbedConfig configures Build.
type TestbedConfig struct {
	Topology Topology
	// ID names this testbed's namespaces Prefix+ID+"-"+host. Empty picks
	// six random hex digits.
	ID string
	// Congestion is the default congestion control of hosts that do not
	// pin their own. Empty leaves the kernel's default.
	Congestion string
	// Seed seeds every link direction's random source (each derives its
	// own). Zero picks a random seed; Testbed.Seed reports it.
	Seed uint64
	// NoRealTime runs the forwarders' threads under the ordinary scheduler
	// instead of SCHED_FIFO (see linkem.Options.RealTime). Real time is the
	// default because on a busy machine ordinary threads wait milliseconds
	// for a CPU, and every such wait is added to some packet's delay.
	NoRealTime bool
	// CaptureDir, if set, receives a pcap file per link direction,
	// A-B.pcap and B-A.pcap, of the first linkem.CaptureSnap bytes of every
	// packet delivered, up to CaptureLimit bytes each.
	CaptureDir string
	// CaptureLimit bounds each capture file; zero means 256 MiB.
	CaptureLimit int64
	// Logger receives setup steps and forwarder events; nil discards.
	Logger *slog.Logger
}

// Testbed is a running topology: one network namespace per host, one pair
// of TUN devices per link, and a forwarder per link direction in this
// process. Close removes all of it; so does "aqueduct lab clean" after a
// crash.
type Testbed struct {
	id   string
	seed uint64
	plan *plan
	log  *slog.Logger

	mu       sync.Mutex
	ns       []string // created namespaces, for Close
	files    []*os.File
	captures []*os.File
	links    []*linkem.Link
	cc       string

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errMu   sync.Mutex
	linkErr error

	closeOnce sync.Once
	closeErr  error
}

// Build creates the testbed. On error, everything it created is removed
// again. The testbed lives until Close, whatever happens to ctx, which
// bounds only the setup. Build raises GOMAXPROCS (see below) and, in the
// root namespace, net.core.rmem_max and wmem_max (which new namespaces copy)
// and the list of allowed congestion controls; it never lowers them.
func Build(ctx context.Context, cfg TestbedConfig) (_ *Testbed, err error) {
	if err := Preflight(); err != nil {
		return nil, err
	}
	p, err := newPlan(cfg.Topology)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	tb := &Testbed{id: cfg.ID, seed: cfg.Seed, plan: p, log: discardLogger(cfg.Logger), cc: cfg.Congestion}
	if tb.id == "" {
		tb.id = randomID()
	}
	if tb.seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		tb.seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tb.Close())
		}
	}()

	var ccs []string
	for _, h := range p.top.Hosts {
		if h.Congestion != "" {
			ccs = append(ccs, h.Congestion)
		}
	}
	if cfg.Congestion != "" {
		ccs = append(ccs, cfg.Congestion)
	}
	if err := allowCongestion(ctx, ccs...); err != nil {
		return nil, err
	}
	// A new namespace copies these from the root namespace and cannot
	// change them: raise them first.
	if err := raiseRootSysctl("net.core.rmem_max", maxSocketBuffer); err != nil {
		return nil, err
	}
	if err := raiseRootSysctl("net.core.wmem_max", maxSocketBuffer); err != nil {
		return nil, err
	}

	for _, h := range p.top.Hosts {
		name := tb.NS(h.Name)
		if err := addNS(ctx, name); err != nil {
			return nil, err
		}
		tb.mu.Lock()
		tb.ns = append(tb.ns, name)
		tb.mu.Unlock()
		if err := writeSysctls(name, tb.hostSysctls(h)); err != nil {
			return nil, err
		}
	}

	ends := make([][2]*os.File, len(p.top.Links))
	for _, h := range p.top.Hosts {
		for _, ifc := range p.ifaces[h.Name] {
			var f *os.File
			err := inNS(tb.NS(h.Name), func() (err error) {
				f, err = linkem.OpenTUN(ifc.dev)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("lab: host %s: %w", h.Name, err)
			}
			tb.mu.Lock()
			tb.files = append(tb.files, f)
			tb.mu.Unlock()
			if p.top.Links[ifc.link].A == h.Name {
				ends[ifc.link][0] = f
			} else {
				ends[ifc.link][1] = f
			}
		}
	}
	for _, h := range p.top.Hosts {
		if err := ipBatchIn(ctx, tb.NS(h.Name), p.ipBatch(h.Name)); err != nil {
			return nil, fmt.Errorf("lab: host %s: %w", h.Name, err)
		}
	}

	// Each link direction runs two locked threads. Give them processors of
	// their own, so that a thread returning from a system call never waits
	// for one.
	if want := runtime.NumCPU() + 4*len(p.top.Links); runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	tb.cancel = cancel
	for i, l := range p.top.Links {
		ab, ba := l.AB, l.BA
		ab.Seed, ba.Seed = mixSeed(tb.seed, uint64(2*i)), mixSeed(tb.seed, uint64(2*i+1))
		name := fmt.Sprintf("%s–%s", l.A, l.B)
		opt := linkem.Options{Name: name, Logger: tb.log, RealTime: !cfg.NoRealTime}
		var capAB, capBA io.Writer
		if cfg.CaptureDir != "" {
			if capAB, err = tb.openCapture(cfg, l.A+"-"+l.B); err != nil {
				return nil, err
			}
			if capBA, err = tb.openCapture(cfg, l.B+"-"+l.A); err != nil {
				return nil, err
			}
		}
		lineAB, lineBA := l.lineBytes()
		optAB, optBA := withCapture(opt, name+" →", capAB), withCapture(opt, name+" ←", capBA)
		optAB.LineBytes, optBA.LineBytes = lineAB, lineBA
		fab, err := linkem.NewForwarder(ab, ends[i][0], ends[i][1], optAB)
		if err != nil {
			return nil, fmt.Errorf("lab: link %s: %w", name, err)
		}
		fba, err := linkem.NewForwarder(ba, ends[i][1], ends[i][0], optBA)
		if err != nil {
			return nil, fmt.Errorf("lab: link %s: %w", name, err)
		}
		link := &linkem.Link{AB: fab, BA: fba}
		tb.links = append(tb.links, link)
		tb.wg.Go(func() {
			if err := link.Run(runCtx); err != nil {
				tb.errMu.Lock()
				tb.linkErr = errors.Join(tb.linkErr, err)
				tb.errMu.Unlock()
				tb.log.Error("lab: link failed", "link", name, "err", err)
			}
		})
	}
	tb.log.Debug("lab: testbed up", "id", tb.id, "hosts", len(p.top.Hosts), "links", len(p.top.Links), "seed", tb.seed)
	return tb, nil
}

// openCapture creates DIR/NAME.pcap, bounded by the capture limit.
func (tb *Testbed) openCapture(cfg TestbedConfig, name string) (io.Writer, error) {
	if err := os.MkdirAll(cfg.CaptureDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: capture: %w", err)
	}
	f, err := os.Create(filepath.Join(cfg.CaptureDir, name+".pcap"))
	if err != nil {
		return nil, fmt.Errorf("lab: capture: %w", err)
	}
	tb.mu.Lock()
	tb.captures = append(tb.captures, f)
	tb.mu.Unlock()
	limit := cfg.CaptureLimit
	if limit <= 0 {
		limit = 256 << 20
	}
	return &limitWriter{w: f, left: limit}, nil
}

func withCapture(opt linkem.Options, name string, w io.Writer) linkem.Options {
	opt.Name, opt.Capture = name, w
	return opt
}

// limitWriter writes the first left bytes and silently drops the rest.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	n := len(b)
	if int64(n) > l.left {
		b = b[:l.left]
	}
	l.left -= int64(len(b))
	if len(b) > 0 {
		if _, err := l.w.Write(b); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// ID returns the testbed's identifier.
func (tb *Testbed) ID() string { return tb.id }

// Seed returns the seed the link directions' random sources derive from.
func (tb *Testbed) Seed() uint64 { return tb.seed }

// Topology returns the topology the testbed was built from.
func (tb *Testbed) Topology() Topology { return tb.plan.top }

// NS returns the name of host's network namespace.
func (tb *Testbed) NS(host string) string { return Prefix + tb.id + "-" + host }

// Addr returns host's address on its link to peer, or on its first link
// if peer is empty.
func (tb *Testbed) Addr(host, peer string) (netip.Addr, error) { return tb.plan.addr(host, peer) }

// Err returns the error of any link whose forwarder has failed.
func (tb *Testbed) Err() error {
	tb.errMu.Lock()
	defer tb.errMu.Unlock()
	return tb.linkErr
}

// Do runs fn on a thread inside host's namespace; see the package
// documentation for what fn may do there.
func (tb *Testbed) Do(host string, fn func() error) error {
	if _, ok := tb.plan.top.Host(host); !ok {
		return fmt.Errorf("lab: no host %q", host)
	}
	return inNS(tb.NS(host), fn)
}

// Listen opens a listener inside host's namespace. The network is any that
// net.Listen accepts.
func (tb *Testbed) Listen(host, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := tb.Do(host, func() (err error) { l, err = net.Listen(network, addr); return err })
	return l, err
}

// ListenPacket opens a packet listener inside host's namespace.
func (tb *Testbed) ListenPacket(host, network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := tb.Do(host, func() (err error) { c, err = net.ListenPacket(network, addr); return err })
	return c, err
}

// Dial connects from inside host's namespace.
func (tb *Testbed) Dial(ctx context.Context, host, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := tb.Do(host, func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// SetCongestion makes cc the default congestion control of every host that
// does not pin its own. It affects sockets created afterwards.
func (tb *Testbed) SetCongestion(ctx context.Context, cc string) error {
	if err := allowCongestion(ctx, cc); err != nil {
		return err
	}
	for _, h := range tb.plan.top.Hosts {
		if h.Congestion != "" {
			continue
		}
		var kv OrderedMap[string]
		kv.Set("net.ipv4.tcp_congestion_control", cc)
		if err := writeSysctls(tb.NS(h.Name), kv); err != nil {
			return err
		}
	}
	tb.mu.Lock()
	tb.cc = cc
	tb.mu.Unlock()
	return nil
}

// LinkStats returns every link's counters, in topology order.
func (tb *Testbed) LinkStats() []LinkStats {
	var out []LinkStats
	for i, l := range tb.links {
		tl := tb.plan.top.Links[i]
		out = append(out, LinkStats{A: tl.A, B: tl.B, AB: l.AB.Stats(), BA: l.BA.Stats()})
	}
	return out
}

// link returns the index of the first link between a and b, and whether
// it runs from b to a in the topology.
func (tb *Testbed) link(a, b string) (int, bool, error) {
	for i, l := range tb.plan.top.Links {
		switch {
		case l.A == a && l.B == b:
			return i, false, nil
		case l.A == b && l.B == a:
			return i, true, nil
		}
	}
	return 0, false, fmt.Errorf("lab: no link between %s and %s", a, b)
}

// LinkConfig returns the configurations in effect on the first link
// between a and b: ab for packets from a to b, ba for the reverse.
func (tb *Testbed) LinkConfig(a, b string) (ab, ba linkem.Config, err error) {
	i, swapped, err := tb.link(a, b)
	if err != nil {
		return ab, ba, err
	}
	ab, ba = tb.links[i].AB.Config(), tb.links[i].BA.Config()
	if swapped {
		ab, ba = ba, ab
	}
	return ab, ba, nil
}

// SetLink changes the first link between a and b while the testbed runs:
// ab applies to packets from a to b, ba to the reverse, each from the next
// packet on (see linkem.Forwarder.SetConfig for what happens to packets
// already queued; the Seed fields are ignored). It is safe to call at any
// time. It fails, changing nothing, if a configuration is invalid or
// needs a larger delay line than the link was built with: Build sizes
// each link's delay lines for its configuration and its Changes
// (Link.Changes), so reserve a larger configuration there.
func (tb *Testbed) SetLink(a, b string, ab, ba linkem.Config) error {
	i, swapped, err := tb.link(a, b)
	if err != nil {
		return err
	}
	if swapped {
		ab, ba = ba, ab
	}
	return tb.setLink(i, ab, ba)
}

// setLink changes link i: ab from its A to its B, ba the reverse.
func (tb *Testbed) setLink(i int, ab, ba linkem.Config) error {
	if err := tb.links[i].Set(ab, ba); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	l := tb.plan.top.Links[i]
	tb.log.Debug("lab: link changed", "link", l.A+"–"+l.B, "forward", ab.String(), "reverse", ba.String())
	return nil
}

// ResetMaxLate restarts every link direction's worst-lateness record (see
// linkem.Forwarder.ResetMaxLate).
func (tb *Testbed) ResetMaxLate() {
	for _, l := range tb.links {
		l.AB.ResetMaxLate()
		l.BA.ResetMaxLate()
	}
}

// Counters reads host's counters.
func (tb *Testbed) Counters(ctx context.Context, host string) (HostCounters, error) {
	var hc HostCounters
	err := tb.Do(host, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		hc.TCPOutSegs, hc.TCPRetransSegs = parseSNMP(string(b))
		if b, err = os.ReadFile("/proc/thread-self/net/netstat"); err != nil {
			return err
		}
		hc.MPTCP = parseNetstat(string(b), "MPTcpExt")
		return nil
	})
	if err != nil {
		return hc, fmt.Errorf("lab: host %s counters: %w", host, err)
	}
	out, err := exec.CommandContext(ctx, "ip", "-n", tb.NS(host), "-s", "-j", "link", "show").Output()
	if err != nil {
		return hc, fmt.Errorf("lab: host %s: ip link show: %w", host, err)
	}
	var links []struct {
		Name  string `json:"ifname"`
		Stats struct {
			TX struct {
				Dropped uint64 `json:"dropped"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return hc, fmt.Errorf("lab: host %s: ip link show: %w", host, err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Name, Prefix) {
			hc.TxDropped += l.Stats.TX.Dropped
		}
	}
	return hc, nil
}

// parseSNMP extracts OutSegs and RetransSegs from /proc/net/snmp.
func parseSNMP(s string) (out, retrans uint64) {
	var names []string
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := 1; i < len(f) && i < len(names); i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			switch names[i] {
			case "OutSegs":
				out = v
			case "RetransSegs":
				retrans = v
			}
		}
	}
	return out, retrans
}

// parseNetstat returns the non-zero counters of one group ("MPTcpExt",
// "TcpExt") of /proc/net/netstat, where each group is a line of names and
// a line of values, both starting with the group's name and a colon. The
// MPTCP gauge MPCurrEstab is left out: it is no counter.
func parseNetstat(s, group string) map[string]uint64 {
	var names []string
	m := map[string]uint64{}
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != group+":" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := 1; i < len(f) && i < len(names); i++ {
			if v, _ := strconv.ParseUint(f[i], 10, 64); v != 0 && names[i] != "MPCurrEstab" {
				m[names[i]] = v
			}
		}
		break
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Close stops the forwarders, closes the TUN devices (which removes them),
// kills every process left in the namespaces and removes the namespaces.
// It is idempotent and safe to call on a partly built testbed.
func (tb *Testbed) Close() error {
	tb.closeOnce.Do(func() {
		if tb.cancel != nil {
			tb.cancel()
		}
		tb.wg.Wait()
		tb.mu.Lock()
		files, nss, caps := tb.files, tb.ns, tb.captures
		tb.files, tb.ns, tb.captures = nil, nil, nil
		tb.mu.Unlock()
		var errs []error
		for _, f := range slices.Concat(files, caps) {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		// Removal must not be cut short by a cancelled context.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, ns := range slices.Backward(nss) {
			if err := deleteNS(ctx, ns); err != nil {
				errs = append(errs, err)
			}
		}
		tb.closeErr = errors.Join(errs...)
	})
	return tb.closeErr
}

// Socket buffer limits: room for 200 Mbit/s × 300 ms (7.5 MB) in flight,
// doubled for a full one-BDP queue and doubled again for the kernel's
// bookkeeping overhead.
const maxSocketBuffer = 64 << 20

func (tb *Testbed) hostSysctls(h Host) OrderedMap[string] {
	var kv OrderedMap[string]
	buf := strconv.Itoa(maxSocketBuffer)
	// IPv6 off on new interfaces only: the TUN devices carry no router
	// solicitations, and lo keeps ::1 for programs that probe it.
	kv.Set("net.ipv6.conf.default.disable_ipv6", "1")
	kv.Set("net.ipv4.ip_forward", "1")
	kv.Set("net.ipv4.conf.all.rp_filter", "0")
	kv.Set("net.ipv4.conf.default.rp_filter", "0")
	kv.Set("net.ipv4.tcp_rmem", "4096 131072 "+buf)
	kv.Set("net.ipv4.tcp_wmem", "4096 16384 "+buf)
	// No metrics cache: every run starts from the same TCP state.
	kv.Set("net.ipv4.tcp_no_metrics_save", "1")
	kv.Set("net.mptcp.enabled", "1")
	cc := h.Congestion
	if cc == "" {
		cc = tb.cc
	}
	if cc != "" {
		kv.Set("net.ipv4.tcp_congestion_control", cc)
	}
	for _, s := range h.Sysctl {
		kv.Set(s.Key, s.Value)
	}
	return kv
}

// allowCongestion makes sure every algorithm in ccs is available and listed
// in the root namespace's net.ipv4.tcp_allowed_congestion_control, without
// which no other namespace may make it its default. It only ever adds to
// the list.
func allowCongestion(ctx context.Context, ccs ...string) error {
	if len(ccs) == 0 {
		return nil
	}
	avail, err := readSysctl("", "net.ipv4.tcp_available_congestion_control")
	if err != nil {
		return err
	}
	for _, cc := range ccs {
		if !slices.Contains(strings.Fields(avail), cc) {
			_ = runCmd(ctx, "", "modprobe", "tcp_"+cc) // best effort
			if avail, err = readSysctl("", "net.ipv4.tcp_available_congestion_control"); err != nil {
				return err
			}
			if !slices.Contains(strings.Fields(avail), cc) {
				return fmt.Errorf("lab: congestion control %q not available (have %s)", cc, avail)
			}
		}
	}
	allowed, err := readSysctl("", "net.ipv4.tcp_allowed_congestion_control")
	if err != nil {
		return err
	}
	list := strings.Fields(allowed)
	n := len(list)
	for _, cc := range ccs {
		if !slices.Contains(list, cc) {
			list = append(list, cc)
		}
	}
	if len(list) == n {
		return nil
	}
	v := strings.Join(list, " ")
	if err := os.WriteFile("/proc/sys/net/ipv4/tcp_allowed_congestion_control", []byte(v), 0); err != nil {
		return fmt.Errorf("lab: allow congestion controls %q in the root namespace: %w", v, err)
	}
	return nil
}

// raiseRootSysctl raises a numeric sysctl of this (the root) namespace to
// at least v. It never lowers one.
func raiseRootSysctl(key string, v int) error {
	cur, err := readSysctl("", key)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(cur); err == nil && n >= v {
		return nil
	}
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if err := os.WriteFile(p, []byte(strconv.Itoa(v)), 0); err != nil {
		return fmt.Errorf("lab: raise %s to %d in the root namespace: %w", key, v, err)
	}
	return nil
}

func randomID() string {
	var b [3]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mixSeed derives a seed from a base seed and an index (SplitMix64).
func mixSeed(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
