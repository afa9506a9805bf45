package conf

import (
	"fmt"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/store"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// Role is what a node does.
type Role string

// The roles.
const (
	RoleOrigin Role = "origin"
	RoleRelay  Role = "relay"
	RoleEdge   Role = "edge"
)

// Roles lists the roles in the order the documentation gives them.
var Roles = []Role{RoleOrigin, RoleRelay, RoleEdge}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q: want origin, relay or edge", s)
}

// Config is the whole configuration of one node. Its fields mirror the
// keys of the configuration file (see [Example]); each key has a flag and
// an environment variable. Build one with [Default] and change it, or with
// [Load], then call [Config.Validate].
type Config struct {
	Role      Role
	Name      string   // name: shown in peers' logs and in metrics
	KeyFile   string   // key_file: file holding the cluster key; empty: $AQUEDUCT_KEY
	Upstreams []string // upstreams: HOST:PORT of the upstream peer servers (relay, edge)

	// Key is the cluster key. It is no key of the file: LoadKey fills it
	// from KeyFile or $AQUEDUCT_KEY, or the caller sets it.
	Key peer.Key

	Log      Log
	Admin    Admin
	Peer     Peer
	HTTP     HTTP
	Transfer Transfer
	Cache    Cache
	Origin   Origin

	// from says where each key's value came from, for error messages:
	// "FILE:LINE", "$VAR" or "--flag"; absent for defaults.
	from map[string]string
	// unused lists keys that the file set but the role does not use.
	unused []string
}

// Log configures the node's log (package slog, on standard error).
type Log struct {
	Level  string // log.level: debug, info, warn or error
	Format string // log.format: text or json
}

// Admin configures the admin endpoint: /healthz, /readyz, /metrics.
type Admin struct {
	Listen string // admin.listen: HOST:PORT, or "-" for none
	Pprof  bool   // admin.pprof: also serve /debug/pprof
}

// Peer configures peer links.
type Peer struct {
	Listen     string // peer.listen: the peer server's address (origin, relay)
	MPTCP      bool   // peer.mptcp: ask for MPTCP on peer sockets
	Congestion string // peer.congestion: TCP_CONGESTION of peer sockets; empty keeps the kernel's
	Budget     string // peer.budget: the congestion manager's budget per destination host (congestion.ParseBudget)
}

// HTTP configures the HTTP server of an origin or edge.
type HTTP struct {
	Listen       string        // http.listen: HOST:PORT; "-" disables the origin's
	AllowOrigins []string      // http.allow_origins: CORS; empty means any
	WriteTimeout time.Duration // http.write_timeout: cut off a player that takes nothing this long (edge)
	AccessLog    string        // http.access_log: file for one line per request; "-" for standard output; empty for none

	MaxConns          int // http.max_conns: connections held in all; past it, 503
	MaxConnsPerClient int // http.max_conns_per_client: from one IP address; past it, 429

	// Content adaptation (edge): HLS variants chosen by the rate the
	// congestion manager measures to each client.
	Adapt         bool    // http.adapt: measure each client's path and order master playlists' variants by it
	AdaptHeadroom float64 // http.adapt_headroom: fraction of a client's rate a variant's BANDWIDTH may take
	AdaptFilter   bool    // http.adapt_filter: drop the variants a client cannot sustain (one always stays)
}

// Transfer configures the parallel transfer engine of a relay or edge.
type Transfer struct {
	Conns    int  // transfer.conns: connections to the upstreams in all to start with
	MaxConns int  // transfer.max_conns: most connections to one upstream
	Pipeline int  // transfer.pipeline: most requests in flight per connection
	Window   Size // transfer.window: bytes fetched ahead of each reader
	Memory   Size // transfer.memory: block buffers of all readers together
	// MemoryWait (transfer.memory_wait) bounds how long a request's next
	// block waits for memory; then it fails (an edge answers 503).
	MemoryWait time.Duration
	// StaleIfError (transfer.stale_if_error) is how long past its last
	// revalidation an object held here is still served while no upstream
	// can be reached; 0 turns it off.
	StaleIfError time.Duration
}

// Cache configures the disk cache of a relay or edge.
type Cache struct {
	Dir  string // cache.dir: empty means a temporary directory (relay) or none (edge)
	Size Size   // cache.size: disk budget
}

// Origin configures what an origin serves.
type Origin struct {
	Root    string // origin.root: the content directory
	NoIndex bool   // origin.no_index: do not hash the content at start
}

// Default returns the built-in configuration of a node of role: the one
// place where Aqueduct's defaults are written down. Values that a library
// package owns (the engine's, the store's) come from that package's
// constants.
func Default(role Role) Config {
	c := Config{
		Role: role,
		Name: string(role),
		Log:  Log{Level: "info", Format: "text"},
		Peer: Peer{MPTCP: true, Congestion: "bbr"},
		HTTP: HTTP{WriteTimeout: 30 * time.Second, MaxConns: 4096, MaxConnsPerClient: 256},
		Transfer: Transfer{
			Conns:        transfer.DefaultConns,
			MaxConns:     transfer.DefaultMaxConns,
			Pipeline:     transfer.DefaultPipeline,
			Window:       transfer.DefaultWindow,
			Memory:       transfer.DefaultMemoryLimit,
			MemoryWait:   transfer.DefaultMemoryWait,
			StaleIfError: transfer.DefaultStaleIfError,
		},
		Cache: Cache{Size: store.DefaultMaxBytes},
	}
	switch role {
	case RoleOrigin:
		c.Admin.Listen = "127.0.0.1:9070"
		c.Peer.Listen = ":7070"
		c.HTTP.Listen = ":8080"
	case RoleRelay:
		c.Admin.Listen = "127.0.0.1:9071"
		c.Peer.Listen = ":7071"
		// A relay's reader is one downstream READ: it needs no more than
		// about a block ahead, and a downstream connection serves up to
		// peer.Config.MaxStreams of them at once.
		c.Transfer.Window = 1 << 20
	case RoleEdge:
		c.Admin.Listen = "127.0.0.1:9081"
		c.HTTP.Listen = ":8081"
		c.HTTP.Adapt, c.HTTP.AdaptHeadroom = true, 0.8
	}
	return c
}

// Source says where key's value came from ("FILE:LINE", "$VAR", "--flag"),
// or "" for the default.
func (c *Config) Source(key string) string { return c.from[key] }

// Unused lists the keys the configuration file set that this role does
// not use; they were ignored. A node logs them at start.
func (c *Config) Unused() []string { return c.unused }

// setFrom records where key's value came from.
func (c *Config) setFrom(key, src string) {
	if c.from == nil {
		c.from = make(map[string]string)
	}
	c.from[key] = src
}
