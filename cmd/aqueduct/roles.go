package main

import (
	"context"
	"os"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/roles"
)

// The roles' usage texts.
var roleUsage = map[conf.Role]struct{ synopsis, about string }{
	conf.RoleOrigin: {"--root DIR [flags]", `
Serves the content directory DIR over HTTP (players, browsers, curl) and over
the peer protocol (relays and edges of the cluster). Nothing outside DIR is
ever served.`},
	conf.RoleRelay: {"--upstream HOST:PORT[,HOST:PORT...] [flags]", `
A proxy node: serves peers (edges, other relays) with objects fetched from
its upstreams (the origin or other relays) over many connections, verified
block by block, and cached on disk within a budget.`},
	conf.RoleEdge: {"--upstream HOST:PORT[,...] [flags]", `
Serves players over HTTP (ranges, HEAD, ETag, CORS: ffplay, VLC, mpv, hls.js,
curl and aria2c work unmodified). Every object is fetched over many
connections spread over the upstreams, verified block by block and streamed
in order.`},
}

const configNote = `
Every flag is also a key of the --config file and an environment variable
(see "aqueduct config example"); flags override the environment, which
overrides the file. The admin endpoint (--admin) serves /healthz, /readyz
and /metrics.`

// roleCommand returns the command that runs a node of role: flags, file and
// environment to a configuration, then the node.
func roleCommand(role conf.Role) func(ctx context.Context, args []string) error {
	return func(ctx context.Context, args []string) error {
		u := roleUsage[role]
		fs := newFlagSet(string(role), u.synopsis, u.about+"\n"+configNote)
		flags := conf.NewFlags(fs.FlagSet, role)
		if err := parse(fs, args); err != nil {
			return err
		}
		cfg, err := conf.Load(role, flags, os.LookupEnv)
		if err != nil {
			return configError(fs, err)
		}
		if err := cfg.LoadKey(os.LookupEnv); err != nil {
			return err
		}
		n, err := roles.New(cfg, node.Options{})
		if err != nil {
			return err
		}
		return n.Run(ctx)
	}
}
