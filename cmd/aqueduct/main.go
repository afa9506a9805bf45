// Command aqueduct is the single binary of the Aqueduct video CDN. Each role
// (origin, relay, edge) and tool (config, keygen, status, demo, lab) is a
// subcommand; run "aqueduct help" for the list and "aqueduct ROLE --help"
// for its flags. The command only parses, wires and runs: configuration is
// package internal/conf, the node package internal/node, the roles
// internal/roles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
)

// command is one subcommand. run parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"origin", "serve a content directory over HTTP and the peer protocol", roleCommand(conf.RoleOrigin)},
		{"relay", "proxy node: fetch from upstreams, cache, serve peers", roleCommand(conf.RoleRelay)},
		{"edge", "serve players over HTTP, fetching over many connections and paths", roleCommand(conf.RoleEdge)},
		{"config", "write an example configuration file, or check one", runConfig},
		{"keygen", "print a new cluster key", runKeygen},
		{"status", "print a running node's congestion estimates and connections", runStatus},
		{"demo", "run origin, two relays and an edge on loopback with sample content", runDemo},
		{"lab", "WAN testbed: run experiments over emulated links (root)", runLab},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:])
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "aqueduct %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "aqueduct: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Aqueduct: a TCP-based content delivery network for video.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: aqueduct COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "aqueduct COMMAND --help" for a command's flags.`)
}
