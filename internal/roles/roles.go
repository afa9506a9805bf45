// Package roles builds a node of any role from its configuration: the one
// path from a conf.Config to a node ready to run, which the command and
// the demo share. The roles themselves are its subpackages origin, relay
// and edge, each a Mount function over package internal/node.
package roles

import (
	"fmt"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/roles/edge"
	"github.com/aqueduct-cdn/aqueduct/internal/roles/origin"
	"github.com/aqueduct-cdn/aqueduct/internal/roles/relay"
)

// Mount returns the function that makes a node of role.
func Mount(role conf.Role) (func(*node.Node) error, error) {
	switch role {
	case conf.RoleOrigin:
		return origin.Mount, nil
	case conf.RoleRelay:
		return relay.Mount, nil
	case conf.RoleEdge:
		return edge.Mount, nil
	}
	return nil, fmt.Errorf("roles: unknown role %q", role)
}

// New builds the node cfg describes, with its role mounted; run it with
// Run. cfg must have passed Validate and have its Key set. On error,
// everything New opened is closed again.
func New(cfg conf.Config, opts node.Options) (*node.Node, error) {
	mount, err := Mount(cfg.Role)
	if err != nil {
		return nil, err
	}
	n, err := node.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := mount(n); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}
