package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/internal/clusterkey"
	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// common holds the flags every role has.
type common struct {
	keyFile   string
	logLevel  string
	logFormat string
	name      string
	mptcp     bool
	cc        string
}

func newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: aqueduct %s %s\n\n", name, synopsis)
		fmt.Fprintln(w, strings.TrimSpace(about))
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

func (c *common) register(fs *flag.FlagSet, role string, keyed bool) {
	if keyed {
		fs.StringVar(&c.keyFile, "key-file", "", "file holding the cluster key (else $"+clusterkey.EnvVar+"); make one with \"aqueduct keygen\"")
		fs.StringVar(&c.name, "name", role, "this node's name, shown in its peers' logs")
		fs.BoolVar(&c.mptcp, "mptcp", true, "use MPTCP for peer links where the kernel offers it")
		fs.StringVar(&c.cc, "congestion", "bbr", `congestion control of peer links (Linux TCP_CONGESTION: bbr, cubic, reno...); "" keeps the kernel's default`)
	}
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
}

// parse parses args; a mistake has been reported to the user when it
// returns errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "aqueduct %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func (c *common) logger() (*slog.Logger, error) {
	return conf.NewLogger(os.Stderr, c.logFormat, c.logLevel)
}

// setup parses a keyed role's flags, checks that the required ones were
// given (ok), and returns its logger and peer settings.
func (c *common) setup(fs *flag.FlagSet, args []string, ok func() bool) (*slog.Logger, peer.Config, error) {
	if err := parse(fs, args); err != nil {
		return nil, peer.Config{}, err
	}
	if !ok() {
		fs.Usage()
		return nil, peer.Config{}, errUsage
	}
	log, err := c.logger()
	if err != nil {
		return nil, peer.Config{}, err
	}
	pc, err := c.peerConfig(log)
	return log, pc, err
}

// peerConfig loads the key and returns the peer settings.
func (c *common) peerConfig(log *slog.Logger) (peer.Config, error) {
	key, err := clusterkey.Load(c.keyFile)
	if err != nil {
		return peer.Config{}, err
	}
	return peer.Config{Key: key, Name: c.name, MPTCP: c.mptcp, Congestion: c.cc, Logger: log}, nil
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
