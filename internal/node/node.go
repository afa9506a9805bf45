package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/loglimit"
	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
	"github.com/aqueduct-cdn/aqueduct/internal/store"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// ShutdownGrace is how long Run lets requests in flight finish when it
// stops.
const ShutdownGrace = 10 * time.Second

// HTTP server limits of every node's HTTP servers.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
)

// Options are what a node takes from its surroundings rather than from its
// configuration.
type Options struct {
	// Logger, if set, is used instead of a logger made from cfg.Log.
	Logger *slog.Logger
	// Stderr receives the log made from cfg.Log; default os.Stderr.
	Stderr io.Writer
	// Stdout receives the access log when http.access_log is "-"; default
	// os.Stdout.
	Stdout io.Writer
}

// Node is one node being assembled or running; see the package doc.
type Node struct {
	cfg    conf.Config
	id     wire.NodeID
	log    *slog.Logger
	peer   peer.Config
	reg    *prometheus.Registry
	stdout io.Writer

	cm       *congestion.Manager // the process's congestion manager
	engine   *transfer.Engine    // set by StartEngine, under mu
	adminLn  net.Listener
	adminSrv *http.Server
	http     *httpMetrics // made with the first HTTP server
	access   *accessLog

	mu       sync.Mutex
	addrs    []namedAddr
	attrs    []any
	servers  []server
	tasks    []func(ctx context.Context)
	closers  []func() error
	checks   []check
	closed   bool
	stopping atomic.Bool
}

type namedAddr struct {
	name string
	addr net.Addr
}

type check struct {
	name string
	fn   func() error
}

// server is an HTTP or peer server that Run starts and stops.
type server interface {
	serve() error
	shutdown(ctx context.Context)
}

// New makes the node of cfg: its logger, metrics registry, peer settings
// and admin listener. cfg must have passed Validate and have its Key set.
func New(cfg conf.Config, opts Options) (*Node, error) {
	id, err := newNodeID()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		var err error
		if log, err = conf.NewLogger(cmpWriter(opts.Stderr, os.Stderr), cfg.Log.Format, cfg.Log.Level); err != nil {
			return nil, err
		}
	}
	// Bounded whatever clients send: long values cut, repeated records
	// thinned out (package loglimit).
	log = slog.New(loglimit.New(log.Handler(), loglimit.Options{}))
	n := &Node{
		cfg:    cfg,
		log:    log,
		reg:    prometheus.NewRegistry(),
		stdout: cmpWriter(opts.Stdout, os.Stdout),
		id:     id,
		peer: peer.Config{
			Key: cfg.Key, Name: cfg.Name, NodeID: id, MPTCP: cfg.Peer.MPTCP, Congestion: cfg.Peer.Congestion, Logger: log,
		},
	}
	for _, k := range cfg.Unused() {
		log.Info("configuration key not used by this role; ignored", "key", k, "role", cfg.Role)
	}
	// One congestion manager for everything the node fetches and sends;
	// closed last (closers run in reverse), after the engine's flows.
	budget, err := congestion.ParseBudget(cfg.Peer.Budget)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err) // conf.Validate reports it first
	}
	n.cm = congestion.New(congestion.Config{Budget: budget})
	n.OnClose(func() error { n.cm.Close(); return nil })
	n.peer.Flows = n.cm // a peer server's connections are flows it sends on
	if err := sockopt.Check(cfg.Peer.Congestion); err != nil && !errors.Is(err, sockopt.ErrUnsupported) {
		log.Warn("cannot use the requested congestion control for peer links; they use the kernel's default",
			"congestion", cfg.Peer.Congestion, "err", err,
			"hint", "load its module and list it in net.ipv4.tcp_allowed_congestion_control")
	}
	registerProcess(n.reg, cfg)
	n.reg.MustRegister(congestionCollector{n.cm})
	if cfg.Admin.Listen != "-" {
		ln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			return nil, fmt.Errorf("node: admin listener: %w", err)
		}
		n.adminLn = ln
		n.addAddr("admin", ln.Addr())
		n.adminSrv = &http.Server{
			Handler:           n.adminHandler(),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	return n, nil
}

// newNodeID draws a node's ID for loop detection: random, never zero.
func newNodeID() (wire.NodeID, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("node: %w", err)
		}
		if id := wire.NodeID(binary.BigEndian.Uint64(b[:])); id != 0 {
			return id, nil
		}
	}
}

func cmpWriter(w, def io.Writer) io.Writer {
	if w == nil {
		return def
	}
	return w
}

// Config is the node's configuration.
func (n *Node) Config() conf.Config { return n.cfg }

// Logger is the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

// Peer is the configuration of the node's peer links (key, name, MPTCP,
// congestion control).
func (n *Node) Peer() peer.Config { return n.peer }

// Metrics is where parts register their metrics.
func (n *Node) Metrics() prometheus.Registerer { return n.reg }

// Gatherer gathers the node's metrics, as /metrics does.
func (n *Node) Gatherer() prometheus.Gatherer { return n.reg }

// Addr is the address of the listener named name ("admin", "http",
// "peer"), or nil.
func (n *Node) Addr(name string) net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.addrs {
		if a.name == name {
			return a.addr
		}
	}
	return nil
}

func (n *Node) addAddr(name string, a net.Addr) {
	n.mu.Lock()
	n.addrs = append(n.addrs, namedAddr{name, a})
	n.mu.Unlock()
}

// Describe adds attributes to the record Run logs when the node is up.
func (n *Node) Describe(attrs ...any) {
	n.mu.Lock()
	n.attrs = append(n.attrs, attrs...)
	n.mu.Unlock()
}

// OnClose registers fn to run when the node closes, after the servers and
// background tasks have stopped and before what was registered earlier.
func (n *Node) OnClose(fn func() error) {
	n.mu.Lock()
	n.closers = append(n.closers, fn)
	n.mu.Unlock()
}

// AddCheck adds a readiness check: /readyz is ready when every check
// returns nil.
func (n *Node) AddCheck(name string, fn func() error) {
	n.mu.Lock()
	n.checks = append(n.checks, check{name, fn})
	n.mu.Unlock()
}

// Go runs fn while the node runs; its context ends when the node shuts
// down, and Run waits for it.
func (n *Node) Go(fn func(ctx context.Context)) {
	n.mu.Lock()
	n.tasks = append(n.tasks, fn)
	n.mu.Unlock()
}

// Listen opens a plain TCP listener named name (for an HTTP server).
func (n *Node) Listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("node: %s listener: %w", name, err)
	}
	n.addAddr(name, ln.Addr())
	n.OnClose(func() error { ln.Close(); return nil })
	return ln, nil
}

// ListenPeer opens the peer protocol listener, with the peer links'
// socket options.
func (n *Node) ListenPeer(addr string) (net.Listener, error) {
	ln, err := peer.Listen(context.Background(), addr, n.peer)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.addAddr("peer", ln.Addr())
	n.OnClose(func() error { ln.Close(); return nil })
	return ln, nil
}

// OpenStore opens the block cache in dir within cfg's cache.size. An empty
// dir means a temporary directory that is removed when the node closes.
func (n *Node) OpenStore(dir string) (*store.Store, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "aqueduct-"+string(n.cfg.Role)+"-cache-")
		if err != nil {
			return nil, fmt.Errorf("node: cache directory: %w", err)
		}
		n.OnClose(func() error { return os.RemoveAll(tmp) })
		dir = tmp
	}
	st, err := store.Open(store.Config{Dir: dir, MaxBytes: int64(n.cfg.Cache.Size), Logger: n.log})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.OnClose(st.Close)
	n.AddCheck("store", st.Check)
	n.reg.MustRegister(storeCollector{st})
	n.Describe("cache_dir", st.Dir(), "cache_size", n.cfg.Cache.Size.String())
	return st, nil
}

// StartEngine starts the transfer engine over cfg's upstreams and
// transfer settings, caching verified blocks in st if it is not nil.
func (n *Node) StartEngine(st *store.Store) (*transfer.Engine, error) {
	t := n.cfg.Transfer
	tc := transfer.Config{
		Upstreams: n.cfg.Upstreams, Peer: n.peer, Conns: t.Conns, MaxConns: t.MaxConns, Pipeline: t.Pipeline,
		Congestion: n.cm,
		Window:     int64(t.Window), MemoryLimit: int64(t.Memory), MemoryWait: t.MemoryWait, Logger: n.log,
		StaleIfError: t.StaleIfError,
	}
	if t.StaleIfError == 0 {
		tc.StaleIfError = -1 // off
	}
	if n.cfg.Role == conf.RoleRelay {
		// A node that serves what it fetches marks its requests, so that
		// one that comes back through a loop of upstreams is refused.
		tc.Forward = true
	}
	if st != nil {
		tc.Store = st // not a nil *Store in a non-nil interface
	}
	e, err := transfer.New(tc)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.OnClose(e.Close)
	n.AddCheck("upstreams", func() error {
		if e.Stats().Conns == 0 {
			return errors.New("no connection to any upstream is up")
		}
		return nil
	})
	n.reg.MustRegister(engineCollector{e})
	n.mu.Lock()
	n.engine = e
	n.mu.Unlock()
	n.Describe("upstreams", n.cfg.Upstreams, "conns", t.Conns, "max_upstream_conns", t.MaxConns)
	return e, nil
}

// ServeHTTP serves h on ln with the node's HTTP limits, counting every
// request in the metrics and writing it to the access log. A client that
// takes nothing for http.write_timeout is cut off (see progress). With
// http.adapt, each connection is a Send flow of the congestion manager in
// the client's macroflow (ClientMacroflow), busy while a response is on
// its way (see clientFlows).
func (n *Node) ServeHTTP(ln net.Listener, h http.Handler) error {
	if n.http == nil {
		n.http = newHTTPMetrics(n.reg)
		if path := n.cfg.HTTP.AccessLog; path != "" {
			al, err := openAccessLog(path, n.stdout)
			if err != nil {
				return err
			}
			n.access = al
			n.OnClose(al.Close)
		}
	}
	if d := n.cfg.HTTP.WriteTimeout; d > 0 {
		h = progress(d, h)
	}
	lim := newLimitListener(ln, n.cfg.HTTP.MaxConns, n.cfg.HTTP.MaxConnsPerClient, n.http)
	n.http.listeners.Add(lim)
	ln = lim
	srv := &http.Server{
		Handler:           n.observe(h),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
		ConnContext:       withConn,
	}
	if n.cfg.HTTP.Adapt {
		// Each client connection is a flow of the congestion manager,
		// which measures the path to the client (content adaptation).
		cf := newClientFlows(n.cm, n.log)
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return cf.connContext(withConn(ctx, c), c)
		}
		srv.ConnState = cf.connState
	}
	n.addServer(&httpServer{ln: ln, srv: srv})
	return nil
}

// ServePeer serves the peer protocol on ln with h's objects.
func (n *Node) ServePeer(ln net.Listener, h peer.Handler) {
	srv := peer.NewServer(n.peer, h)
	n.reg.MustRegister(peerCollector{srv})
	n.addServer(&peerServer{ln: ln, srv: srv})
}

func (n *Node) addServer(s server) {
	n.mu.Lock()
	n.servers = append(n.servers, s)
	n.mu.Unlock()
}

type httpServer struct {
	ln  net.Listener
	srv *http.Server
}

func (s *httpServer) serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("node: HTTP: %w", err)
	}
	return nil
}

func (s *httpServer) shutdown(ctx context.Context) {
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close() // the grace is over: cut what is left
	}
}

type peerServer struct {
	ln  net.Listener
	srv *peer.Server
}

func (s *peerServer) serve() error {
	if err := s.srv.Serve(context.Background(), s.ln); err != nil {
		return fmt.Errorf("node: peer: %w", err)
	}
	return nil
}

func (s *peerServer) shutdown(ctx context.Context) {
	s.ln.Close() // no new connection while the others drain
	s.srv.Shutdown(ctx)
}

// Run serves until ctx ends or a server fails, then shuts down in order
// (see the package doc) and closes the node. It returns the server's
// error, then any error of closing, or nil.
func (n *Node) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := n.Close(); err == nil {
			err = cerr
		}
	}()
	n.mu.Lock()
	servers, tasks := slices.Clone(n.servers), slices.Clone(n.tasks)
	var attrs []any
	for _, a := range n.addrs {
		attrs = append(attrs, a.name, a.addr.String())
	}
	attrs = append(attrs, n.attrs...)
	n.mu.Unlock()
	if n.adminSrv != nil {
		go func() {
			if err := n.adminSrv.Serve(n.adminLn); !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("admin server failed", "err", err)
			}
		}()
	}
	errc := make(chan error, len(servers))
	var serving sync.WaitGroup
	for _, s := range servers {
		serving.Go(func() {
			if err := s.serve(); err != nil {
				errc <- err
			}
		})
	}
	taskCtx, stopTasks := context.WithCancel(context.Background())
	defer stopTasks()
	var working sync.WaitGroup
	for _, t := range tasks {
		working.Go(func() { t(taskCtx) })
	}
	attrs = append(attrs, "mptcp", n.cfg.Peer.MPTCP, "congestion", n.cfg.Peer.Congestion,
		"node_id", fmt.Sprintf("%016x", uint64(n.id)))
	n.log.Info(string(n.cfg.Role)+" listening", attrs...)

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	n.stopping.Store(true)
	n.log.Info(string(n.cfg.Role) + " shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var stopping sync.WaitGroup
	for _, s := range servers {
		stopping.Go(func() { s.shutdown(sctx) })
	}
	stopping.Wait()
	serving.Wait()
	stopTasks()
	working.Wait()
	return err
}

// Close releases what the node holds, in reverse order of registration,
// then stops the admin server. Run calls it; call it only for a node that
// will not run. It is safe to call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	closers := n.closers
	n.closers = nil
	n.mu.Unlock()
	n.stopping.Store(true)
	var errs []error
	for _, fn := range slices.Backward(closers) {
		if err := fn(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.adminSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if n.adminSrv.Shutdown(ctx) != nil {
			n.adminSrv.Close()
		}
		cancel()
		n.adminLn.Close()
	}
	return errors.Join(errs...)
}
