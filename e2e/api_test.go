package e2e

import (
	"context"
	"go/importer"
	"go/token"
	"go/types"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// publicPackages is what a Go user may import (README.md, "Using Aqueduct
// as a library"); everything else is under internal/, or a command.
var publicPackages = []string{"congestion", "object", "peer", "peer/peertest", "transfer", "wire"}

const module = "github.com/aqueduct-cdn/aqueduct"

// TestPublicAPI checks the public surface: the importable packages are
// those README.md names, and no exported declaration of theirs (function,
// method, field, variable, constant) names a type from an internal package,
// which a user could not name or build.
func TestPublicAPI(t *testing.T) {
	out, err := exec.CommandContext(context.Background(), "go", "list", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var public []string
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
		if strings.HasPrefix(rel, "internal/") || strings.Contains(rel, "/internal/") ||
			strings.HasPrefix(rel, "cmd/") || rel == "e2e" {
			continue
		}
		public = append(public, rel)
	}
	if !slices.Equal(public, publicPackages) {
		t.Errorf("importable packages %q, want %q: a new one must be named in README.md and here, or go under internal/", public, publicPackages)
	}

	imp := importer.ForCompiler(token.NewFileSet(), "source", nil)
	for _, rel := range publicPackages {
		pkg, err := imp.Import(module + "/" + rel)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		c := apiChecker{t: t}
		for _, name := range pkg.Scope().Names() {
			obj := pkg.Scope().Lookup(name)
			if !obj.Exported() {
				continue
			}
			where := rel + "." + name
			if tn, ok := obj.(*types.TypeName); ok {
				c.typeDecl(where, tn)
				continue
			}
			c.check(where, obj.Type())
		}
	}
}

type apiChecker struct {
	t    *testing.T
	seen map[types.Type]bool
}

// typeDecl checks an exported type: what it is made of, and its exported
// methods.
func (c *apiChecker) typeDecl(where string, tn *types.TypeName) {
	t := tn.Type()
	c.check(where, types.Unalias(t).Underlying())
	ms := types.NewMethodSet(types.NewPointer(t))
	for m := range ms.Methods() {
		if m.Obj().Exported() {
			c.check(where+"."+m.Obj().Name(), m.Type())
		}
	}
}

// check reports every internal type that t names.
func (c *apiChecker) check(where string, t types.Type) {
	if c.seen == nil {
		c.seen = map[types.Type]bool{}
	}
	if c.seen[t] {
		return
	}
	c.seen[t] = true
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		if p := t.Obj().Pkg(); p != nil && strings.Contains(p.Path(), "/internal/") {
			c.t.Errorf("%s names %s, an internal type", where, t)
		}
		for a := range t.TypeArgs().Types() {
			c.check(where, a)
		}
	case *types.Pointer:
		c.check(where, t.Elem())
	case *types.Slice:
		c.check(where, t.Elem())
	case *types.Array:
		c.check(where, t.Elem())
	case *types.Map:
		c.check(where, t.Key())
		c.check(where, t.Elem())
	case *types.Chan:
		c.check(where, t.Elem())
	case *types.Signature:
		for v := range t.Params().Variables() {
			c.check(where, v.Type())
		}
		for v := range t.Results().Variables() {
			c.check(where, v.Type())
		}
	case *types.Struct:
		for f := range t.Fields() {
			if f.Exported() {
				c.check(where+"."+f.Name(), f.Type())
			}
		}
	case *types.Interface:
		for m := range t.Methods() {
			c.check(where+"."+m.Name(), m.Type())
		}
	}
}
