package conf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// Limits that Validate enforces.
const (
	maxNameLen  = 255 // the handshake's name field
	maxConns    = 1024
	maxPipeline = 64       // half of a peer connection's 128 outstanding requests (peer.Config.MaxRequests)
	minWindow   = 64 << 10 // the smallest block size
	minMemory   = 1 << 20
	minCache    = 1 << 20
)

// Validate checks every key the role uses and reports every mistake, each
// as an [*Error] naming its key and where its value came from, joined with
// errors.Join. It reads no file: whether origin.root exists or the key
// file is readable is for the node to find when it starts (see LoadKey).
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, &Error{Source: c.from[key], Key: key, Err: fmt.Errorf(format, args...)})
	}
	check := func(key string, err error) {
		if err != nil {
			errs = append(errs, &Error{Source: c.from[key], Key: key, Err: err})
		}
	}
	uses := func(key string) bool { return optionByKey(key).uses(c.Role) }

	if _, err := ParseRole(string(c.Role)); err != nil {
		return &Error{Key: roleKey, Err: err}
	}
	check("name", checkName(c.Name))
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	listens := map[string]string{} // address -> key, to find two listeners on one address
	listen := func(key, addr string, mayDisable bool) {
		if mayDisable && addr == "-" {
			return
		}
		if err := checkListen(addr); err != nil {
			check(key, err)
			return
		}
		if other, dup := listens[addr]; dup && !strings.HasSuffix(addr, ":0") {
			bad(key, "%q is also %s", addr, other)
		}
		listens[addr] = key
	}
	listen("admin.listen", c.Admin.Listen, true)
	if uses("peer.listen") {
		listen("peer.listen", c.Peer.Listen, false)
	}
	if uses("http.listen") {
		listen("http.listen", c.HTTP.Listen, c.Role == RoleOrigin)
	}
	check("peer.congestion", checkCongestion(c.Peer.Congestion))
	if _, err := congestion.ParseBudget(c.Peer.Budget); err != nil {
		bad("peer.budget", "%v", err)
	}
	if uses("http.write_timeout") && c.HTTP.WriteTimeout <= 0 {
		bad("http.write_timeout", "%v: must be positive", c.HTTP.WriteTimeout)
	}
	if uses("http.adapt_headroom") && !(c.HTTP.AdaptHeadroom > 0 && c.HTTP.AdaptHeadroom <= 1) {
		bad("http.adapt_headroom", "%v: want more than 0 and at most 1", c.HTTP.AdaptHeadroom)
	}
	if uses("http.max_conns") {
		if c.HTTP.MaxConns < 1 {
			bad("http.max_conns", "%d: want at least 1", c.HTTP.MaxConns)
		}
		if c.HTTP.MaxConnsPerClient < 1 || c.HTTP.MaxConnsPerClient > c.HTTP.MaxConns {
			bad("http.max_conns_per_client", "%d: want 1 to http.max_conns (%d)", c.HTTP.MaxConnsPerClient, c.HTTP.MaxConns)
		}
	}

	if uses("upstreams") {
		c.validateUpstreams(bad, check)
		t := c.Transfer
		if t.Conns < 1 || t.Conns > maxConns {
			bad("transfer.conns", "%d: want 1 to %d", t.Conns, maxConns)
		}
		if t.MaxConns < 1 || t.MaxConns > maxConns {
			bad("transfer.max_conns", "%d: want 1 to %d", t.MaxConns, maxConns)
		}
		if t.Pipeline < 1 || t.Pipeline > maxPipeline {
			bad("transfer.pipeline", "%d: want 1 to %d", t.Pipeline, maxPipeline)
		}
		if t.Window < minWindow {
			bad("transfer.window", "%v: want at least %v", t.Window, Size(minWindow))
		}
		if t.Memory < minMemory {
			bad("transfer.memory", "%v: want at least %v", t.Memory, Size(minMemory))
		} else if t.Window > t.Memory {
			bad("transfer.window", "%v is more than transfer.memory (%v)", t.Window, t.Memory)
		}
		if t.MemoryWait <= 0 {
			bad("transfer.memory_wait", "%v: must be positive", t.MemoryWait)
		}
		if t.StaleIfError < 0 {
			bad("transfer.stale_if_error", "%v: must not be negative", t.StaleIfError)
		}
		if c.Cache.Size < minCache {
			bad("cache.size", "%v: want at least %v", c.Cache.Size, Size(minCache))
		}
	}
	if c.Role == RoleOrigin && c.Origin.Root == "" {
		errs = append(errs, required("origin.root", "DIR"))
	}
	return errors.Join(errs...)
}

func (c *Config) validateUpstreams(bad func(string, string, ...any), check func(string, error)) {
	const key = "upstreams"
	if len(c.Upstreams) == 0 {
		check(key, required(key, "HOST:PORT[,HOST:PORT...]").Err)
		return
	}
	if len(c.Upstreams) > transfer.MaxUpstreams {
		bad(key, "%d upstreams: at most %d", len(c.Upstreams), transfer.MaxUpstreams)
	}
	seen := map[string]bool{}
	for _, u := range c.Upstreams {
		if err := checkUpstream(u); err != nil {
			check(key, err)
			continue
		}
		if seen[u] {
			bad(key, "%q is listed twice", u)
		}
		seen[u] = true
		if c.Role == RoleRelay && sameEndpoint(c.Peer.Listen, u) {
			bad(key, "%q is this relay's own peer.listen (%s): a relay cannot be its own upstream", u, c.Peer.Listen)
		}
	}
}

// required is the error for a key that has no value and needs one.
func required(key, placeholder string) *Error {
	o := optionByKey(key)
	return &Error{Key: key, Err: fmt.Errorf("required: give --%s %s, $%s, or %q in the --config file", o.flag, placeholder, o.env(), key)}
}

func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > maxNameLen:
		return fmt.Errorf("%d bytes: at most %d", len(s), maxNameLen)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%q has a control character", s)
	}
	return nil
}

// checkCongestion checks the shape of a congestion control name (the
// kernel's names are short lower-case words); whether the kernel has it is
// for the node to find.
func checkCongestion(s string) error {
	if len(s) > 15 {
		return fmt.Errorf("%q: longer than the kernel's 15 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("%q: want a name such as bbr, cubic or reno", s)
		}
	}
	return nil
}

// splitAddr splits HOST:PORT and checks the port is a number in [lo, 65535].
func splitAddr(s string, lo int) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not HOST:PORT", s)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < lo || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not a number from %d to 65535", s, p, lo)
	}
	return host, port, nil
}

func checkListen(s string) error {
	_, _, err := splitAddr(s, 0)
	return err
}

func checkUpstream(s string) error {
	host, _, err := splitAddr(s, 1)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// sameEndpoint reports whether dialing up reaches the listener on listen of
// this host: the same port, and the same host, or a wildcard listener and
// a loopback or wildcard host.
func sameEndpoint(listen, up string) bool {
	lh, lp, err1 := splitAddr(listen, 0)
	uh, up2, err2 := splitAddr(up, 1)
	if err1 != nil || err2 != nil || lp != up2 {
		return false
	}
	if lh == uh {
		return true
	}
	if !isWildcard(lh) {
		return false
	}
	if uh == "localhost" || isWildcard(uh) {
		return true
	}
	a, err := netip.ParseAddr(uh)
	return err == nil && a.IsLoopback()
}

func isWildcard(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
