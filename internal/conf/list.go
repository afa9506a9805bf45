package conf

import (
	"fmt"
	"net"
	"strings"
)

// AddrList is a comma-separated list of HOST:PORT addresses.
type AddrList []string

// String implements flag.Value.
func (l *AddrList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value; it may be called more than once.
func (l *AddrList) Set(v string) error {
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || port == "" {
			return fmt.Errorf("conf: %q is not HOST:PORT", a)
		}
		_ = host
		*l = append(*l, a)
	}
	return nil
}

// StringList is a comma-separated list of words.
type StringList []string

// String implements flag.Value.
func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *StringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
