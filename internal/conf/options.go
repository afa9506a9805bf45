package conf

import (
	"slices"
	"strings"
)

// option is one key of the configuration: its place in the file, its flag,
// its environment variable (derived from the key), the roles that use it
// and its field in a Config.
type option struct {
	key   string // dotted path in the file: "transfer.conns"
	flag  string // without dashes: "conns"
	roles []Role
	help  string
	field func(c *Config) value
}

var (
	all        = []Role{RoleOrigin, RoleRelay, RoleEdge}
	origin     = []Role{RoleOrigin}
	relayEdge  = []Role{RoleRelay, RoleEdge}
	originEdge = []Role{RoleOrigin, RoleEdge}
	originRel  = []Role{RoleOrigin, RoleRelay}
	edge       = []Role{RoleEdge}
)

// options lists every key, in the order of the example file.
var options = []option{
	{"name", "name", all, "this node's name, shown in its peers' logs and in its metrics",
		func(c *Config) value { return stringValue{&c.Name} }},
	{"key_file", "key-file", all, `file holding the cluster key (else $AQUEDUCT_KEY); make one with "aqueduct keygen"`,
		func(c *Config) value { return stringValue{&c.KeyFile} }},
	{"upstreams", "upstream", relayEdge, "peer addresses (HOST:PORT) of the upstream nodes, the origin or relays, comma-separated; required",
		func(c *Config) value { return stringsValue{&c.Upstreams} }},

	{"log.level", "log-level", all, "debug, info, warn or error",
		func(c *Config) value { return stringValue{&c.Log.Level} }},
	{"log.format", "log-format", all, "text or json",
		func(c *Config) value { return stringValue{&c.Log.Format} }},

	{"admin.listen", "admin", all, `admin endpoint address (/healthz, /readyz, /metrics); keep it on loopback or a private network; "-" disables it`,
		func(c *Config) value { return stringValue{&c.Admin.Listen} }},
	{"admin.pprof", "pprof", all, "also serve Go's profiler at /debug/pprof on the admin endpoint",
		func(c *Config) value { return boolValue{&c.Admin.Pprof} }},

	{"peer.listen", "peer", originRel, "peer protocol listen address",
		func(c *Config) value { return stringValue{&c.Peer.Listen} }},
	{"peer.mptcp", "mptcp", all, "ask for MPTCP on peer links where the kernel offers it (its path manager chooses the subflows)",
		func(c *Config) value { return boolValue{&c.Peer.MPTCP} }},
	{"peer.congestion", "congestion", all, `congestion control of peer links (Linux TCP_CONGESTION: bbr, cubic, reno...); "" keeps the kernel's default`,
		func(c *Config) value { return stringValue{&c.Peer.Congestion} }},
	{"peer.budget", "budget", all, `rate budget for what this node sends to one destination host, shared by its connections there: "off", a multiple of one TCP flow's share ("1x": together they take no more than one TCP connection would), a rate ("50Mbit"), or both ("1x,50Mbit")`,
		func(c *Config) value { return stringValue{&c.Peer.Budget} }},

	{"http.listen", "http", originEdge, `HTTP listen address (the origin's: "-" disables it)`,
		func(c *Config) value { return stringValue{&c.HTTP.Listen} }},
	{"http.allow_origins", "allow-origins", originEdge, "browser origins allowed to read (CORS), comma-separated; empty allows any",
		func(c *Config) value { return stringsValue{&c.HTTP.AllowOrigins} }},
	{"http.write_timeout", "write-timeout", originEdge, "cut off a client that takes no byte for this long (a slow but steady reader is never cut)",
		func(c *Config) value { return durationValue{&c.HTTP.WriteTimeout} }},
	{"http.access_log", "access-log", originEdge, `write one line per HTTP request, in the Combined Log Format, to this file ("-": standard output); empty: no access log`,
		func(c *Config) value { return stringValue{&c.HTTP.AccessLog} }},

	{"http.max_conns", "max-conns", originEdge, "most HTTP connections held in all; past it a new one is answered 503 and closed",
		func(c *Config) value { return intValue{&c.HTTP.MaxConns} }},
	{"http.max_conns_per_client", "max-conns-per-client", originEdge, "most HTTP connections from one IP address; past it a new one is answered 429 and closed",
		func(c *Config) value { return intValue{&c.HTTP.MaxConnsPerClient} }},

	{"http.adapt", "adapt", edge, "content adaptation: measure the path to each player (its connections are flows of the congestion manager) and list an HLS master playlist's variants best sustainable first; PATH.m3u8?variant=auto redirects to that variant",
		func(c *Config) value { return boolValue{&c.HTTP.Adapt} }},
	{"http.adapt_headroom", "adapt-headroom", edge, "a variant is sustainable if its BANDWIDTH is at most this fraction of the player's measured rate (0 to 1)",
		func(c *Config) value { return floatValue{&c.HTTP.AdaptHeadroom} }},
	{"http.adapt_filter", "adapt-filter", edge, "leave the variants a player cannot sustain out of master playlists (the lowest stays if none is sustainable); off: list them after the sustainable ones",
		func(c *Config) value { return boolValue{&c.HTTP.AdaptFilter} }},

	{"transfer.conns", "conns", relayEdge, "connections to the upstreams in all to start with, each upstream its share",
		func(c *Config) value { return intValue{&c.Transfer.Conns} }},
	{"transfer.max_conns", "max-upstream-conns", relayEdge, "most connections to one upstream: its count grows from its share of transfer.conns while more connections carry more (a path where loss limits each connection); at most the share keeps the count fixed",
		func(c *Config) value { return intValue{&c.Transfer.MaxConns} }},
	{"transfer.pipeline", "pipeline", relayEdge, "most requests in flight per connection, at most 64 (each keeps about 500 ms of requests at its rate)",
		func(c *Config) value { return intValue{&c.Transfer.Pipeline} }},
	{"transfer.window", "window", relayEdge, "bytes fetched ahead of each reader (edge: a player's request; relay: one downstream READ); at least three blocks per upstream connection, within the reader's share of transfer.memory",
		func(c *Config) value { return sizeValue{&c.Transfer.Window} }},
	{"transfer.memory", "memory", relayEdge, "memory for the block buffers of all readers together",
		func(c *Config) value { return sizeValue{&c.Transfer.Memory} }},

	{"transfer.memory_wait", "memory-wait", relayEdge, "how long a request's next block may wait for memory, in turn, before the request fails (an edge answers 503 and Retry-After)",
		func(c *Config) value { return durationValue{&c.Transfer.MemoryWait} }},
	{"transfer.stale_if_error", "stale-if-error", relayEdge, "how long past its last revalidation an object held here is still served while no upstream answers (Cache-Status says stale); 0 turns it off",
		func(c *Config) value { return durationValue{&c.Transfer.StaleIfError} }},

	{"cache.dir", "cache-dir", relayEdge, "block cache directory (empty: a temporary directory removed at exit on a relay, no disk cache on an edge)",
		func(c *Config) value { return stringValue{&c.Cache.Dir} }},
	{"cache.size", "cache-size", relayEdge, "disk budget of the block cache, e.g. 10GiB",
		func(c *Config) value { return sizeValue{&c.Cache.Size} }},

	{"origin.root", "root", origin, "content directory to serve; required",
		func(c *Config) value { return stringValue{&c.Origin.Root} }},
	{"origin.no_index", "no-index", origin, "do not hash the content directory at start (files are then hashed when first asked for)",
		func(c *Config) value { return boolValue{&c.Origin.NoIndex} }},
}

// arg is the placeholder of the option's value in usage texts.
func (o *option) arg() string {
	switch o.key {
	case "upstreams":
		return "HOST:PORT[,...]"
	case "admin.listen", "peer.listen", "http.listen":
		return "HOST:PORT"
	case "key_file", "http.access_log":
		return "FILE"
	case "cache.dir", "origin.root":
		return "DIR"
	case "http.allow_origins":
		return "ORIGIN[,...]"
	}
	var c Config
	switch o.field(&c).(type) {
	case intValue:
		return "N"
	case floatValue:
		return "X"
	case sizeValue:
		return "SIZE"
	case durationValue:
		return "DURATION"
	case boolValue:
		return ""
	}
	return strings.ToUpper(o.key[strings.LastIndexByte(o.key, '.')+1:])
}

// roleKey is the key that names the role; it has no flag (the command
// names the role) and no environment variable.
const roleKey = "role"

func (o *option) uses(r Role) bool { return slices.Contains(o.roles, r) }

// env is the option's environment variable: AQUEDUCT_ and the key in upper
// case with dots as underscores (AQUEDUCT_TRANSFER_CONNS).
func (o *option) env() string {
	return "AQUEDUCT_" + strings.ToUpper(strings.ReplaceAll(o.key, ".", "_"))
}

func optionByKey(key string) *option {
	for i := range options {
		if options[i].key == key {
			return &options[i]
		}
	}
	return nil
}

// isSection reports whether key names a section of the file ("transfer").
func isSection(key string) bool {
	for i := range options {
		if strings.HasPrefix(options[i].key, key+".") {
			return true
		}
	}
	return false
}

// flagOf returns the flag of the option with key, for messages.
func flagOf(key string) string {
	if o := optionByKey(key); o != nil {
		return "--" + o.flag
	}
	return ""
}
