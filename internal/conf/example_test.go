package conf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite examples/aqueduct.yml from conf.Example")

// The example of each role loads, validates and is the role's defaults
// (with placeholders for the keys that have none); the every-key example
// does too for every role.
func TestExample_loads(t *testing.T) {
	for _, r := range append([]Role{""}, Roles...) {
		var b bytes.Buffer
		if err := Example(&b, r); err != nil {
			t.Fatal(err)
		}
		for _, role := range Roles {
			if r != "" && role != r {
				continue
			}
			c, err := load(t, role, b.String(), nil)
			if err != nil {
				t.Errorf("example %q as %s: %v\n%s", r, role, err, b.String())
				continue
			}
			want := Default(role)
			want.KeyFile = "cluster.key"
			switch role {
			case RoleOrigin:
				want.Origin.Root = "/srv/video"
			case RoleRelay:
				want.Upstreams = c.Upstreams
			case RoleEdge:
				want.Upstreams = []string{"relay1.example.net:7071", "relay2.example.net:7071"}
			}
			if len(c.Upstreams) == 0 && role != RoleOrigin {
				t.Errorf("example %q as %s: no placeholder upstreams", r, role)
			}
			if got, w := dump(t, c), dump(t, want); got != w {
				t.Errorf("example %q as %s: got\n%s\nwant\n%s", r, role, got, w)
			}
		}
		// Every key the example is for appears in it, with its flag and
		// environment variable.
		for i := range options {
			o := &options[i]
			if r != "" && !o.uses(r) {
				if strings.Contains(b.String(), "--"+o.flag+",") {
					t.Errorf("example %q has %s, which the role does not use", r, o.key)
				}
				continue
			}
			if !strings.Contains(b.String(), "# flag --"+o.flag+", environment $"+o.env()+"\n") {
				t.Errorf("example %q: no comment for %s", r, o.key)
			}
		}
	}
}

// examples/aqueduct.yml is the every-key example, kept current: run
// go test ./internal/conf -run TestExample_file -update after changing a key.
func TestExample_file(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "aqueduct.yml")
	var b bytes.Buffer
	if err := Example(&b, ""); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("%s is not what conf.Example writes; run: go test ./internal/conf -run TestExample_file -update", path)
	}
}
