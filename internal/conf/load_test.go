package conf

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

// load writes file (if not empty) and loads role's configuration from it,
// env and args.
func load(t *testing.T, role Role, file string, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs, role)
	if file != "" {
		name := filepath.Join(t.TempDir(), "node.yml")
		if err := os.WriteFile(name, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", name}, args...)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return Load(role, f, lookup)
}

func TestLoad_layers(t *testing.T) {
	file := `
role: edge
name: edge-file
upstreams: [a.example:7071, "b.example:7071"]
transfer:
  conns: 12
  window: 8MiB
http:
  write_timeout: 1m
  allow_origins:
    - https://player.example
`
	env := map[string]string{"AQUEDUCT_TRANSFER_CONNS": "14", "AQUEDUCT_NAME": "edge-env"}
	c, err := load(t, RoleEdge, file, env, "--name", "edge-flag", "--memory", "1GiB")
	if err != nil {
		t.Fatal(err)
	}
	want := Default(RoleEdge)
	want.Name = "edge-flag"                                     // flag over env over file
	want.Transfer.Conns = 14                                    // env over file
	want.Transfer.Window = 8 << 20                              // file
	want.Transfer.Memory = 1 << 30                              // flag
	want.HTTP.WriteTimeout = time.Minute                        // file
	want.HTTP.AllowOrigins = []string{"https://player.example"} // file, as a sequence
	want.Upstreams = []string{"a.example:7071", "b.example:7071"}
	if got, w := dump(t, c), dump(t, want); got != w {
		t.Errorf("got:\n%s\nwant:\n%s", got, w)
	}
	for key, src := range map[string]string{
		"name": "--name", "transfer.conns": "$AQUEDUCT_TRANSFER_CONNS", "transfer.memory": "--memory",
		"transfer.pipeline": "",
	} {
		if got := c.Source(key); got != src {
			t.Errorf("Source(%s) = %q, want %q", key, got, src)
		}
	}
	if got := c.Source("transfer.window"); !strings.HasSuffix(got, "node.yml:7") {
		t.Errorf("Source(transfer.window) = %q, want node.yml:7", got)
	}
}

func dump(t *testing.T, c Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLoad_lists(t *testing.T) {
	file := "upstreams: [a.example:7071, b.example:7071]\n"
	// A flag replaces the file's list; the flag given again appends.
	c, err := load(t, RoleEdge, file, nil, "--upstream", "c.example:1", "--upstream", "d.example:2,e.example:3")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Upstreams, " "); got != "c.example:1 d.example:2 e.example:3" {
		t.Errorf("upstreams %q", got)
	}
	// The environment replaces the file's list too; a scalar is a
	// comma-separated list.
	c, err = load(t, RoleEdge, "upstreams: a.example:1, b.example:2\n", map[string]string{"AQUEDUCT_UPSTREAMS": "x.example:9"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Upstreams, " "); got != "x.example:9" {
		t.Errorf("upstreams %q", got)
	}
}

// Every mistake names its key, and a file's its line.
func TestLoad_errors(t *testing.T) {
	tests := []struct {
		name string
		role Role
		file string
		env  map[string]string
		args []string
		want []string // substrings of the error
	}{
		{"wrong type", RoleEdge, "upstreams: [a:1]\ntransfer:\n  conns: lots\n", nil, nil,
			[]string{`node.yml:3: transfer.conns: "lots" is not a whole number`}},
		{"wrong type bool", RoleEdge, "upstreams: [a:1]\npeer:\n  mptcp: maybe\n", nil, nil,
			[]string{`node.yml:3: peer.mptcp: "maybe" is not true or false`}},
		{"bad size", RoleRelay, "upstreams: [a:1]\ncache: {size: big}\n", nil, nil,
			[]string{`node.yml:2: cache.size: `, `"big" is not a size`}},
		{"unknown key", RoleEdge, "upstreams: [a:1]\ntransfer:\n  con: 3\n", nil, nil,
			[]string{`node.yml:3: transfer.con: unknown key (did you mean transfer.conns?)`}},
		{"flag name in the file", RoleEdge, "upstreams: [a:1]\ncache-dir: /x\n", nil, nil,
			[]string{`node.yml:2: cache-dir: unknown key (did you mean cache.dir?)`}},
		{"key out of its section", RoleEdge, "upstreams: [a:1]\nconns: 3\n", nil, nil,
			[]string{`node.yml:2: conns: unknown key (did you mean transfer.conns?)`}},
		{"section as a value", RoleEdge, "upstreams: [a:1]\ntransfer: 3\n", nil, nil,
			[]string{`node.yml:2: transfer: a section`}},
		{"mapping as a value", RoleEdge, "upstreams: [a:1]\nname: {a: b}\n", nil, nil,
			[]string{`node.yml:2: name: want a value, not a mapping`}},
		{"list for a scalar", RoleEdge, "upstreams: [a:1]\nname: [a, b]\n", nil, nil,
			[]string{`node.yml:2: name: want one value, not a list`}},
		{"twice", RoleEdge, "upstreams: [a:1]\nname: a\nname: b\n", nil, nil,
			[]string{`node.yml:3: name: given twice (first on line 2)`}},
		{"not a mapping", RoleEdge, "- a\n- b\n", nil, nil, []string{`node.yml:1: (top): want a mapping`}},
		{"yaml syntax", RoleEdge, "name: [unclosed\n", nil, nil, []string{`node.yml`, `yaml`}},
		{"role mismatch", RoleEdge, "role: relay\n", nil, nil, []string{`role: the file is for a relay; this is the edge command`}},
		{"unknown role", RoleEdge, "role: mirror\n", nil, nil, []string{`node.yml:1: role: unknown role "mirror"`}},
		{"env", RoleEdge, "", map[string]string{"AQUEDUCT_UPSTREAMS": "a:1", "AQUEDUCT_TRANSFER_PIPELINE": "deep"}, nil,
			[]string{`transfer.pipeline: "deep" is not a whole number (from $AQUEDUCT_TRANSFER_PIPELINE)`}},
		{"missing upstream", RoleEdge, "", nil, nil,
			[]string{`upstreams: required: give --upstream HOST:PORT[,HOST:PORT...], $AQUEDUCT_UPSTREAMS, or "upstreams" in the --config file`}},
		{"missing root", RoleOrigin, "", nil, nil, []string{`origin.root: required: give --root DIR`}},
		{"port out of range", RoleEdge, "", nil, []string{"--upstream", "127.0.0.1:99999"},
			[]string{`upstreams: "127.0.0.1:99999": port "99999" is not a number from 1 to 65535 (from --upstream)`}},
		{"no host", RoleEdge, "", nil, []string{"--upstream", ":7071"}, []string{`upstreams: ":7071" has no host`}},
		{"not host:port", RoleEdge, "upstreams: [relay1]\n", nil, nil, []string{`node.yml:1: upstreams: "relay1" is not HOST:PORT`}},
		{"listed twice", RoleEdge, "", nil, []string{"--upstream", "a:1,a:1"}, []string{`"a:1" is listed twice`}},
		{"self", RoleRelay, "", nil, []string{"--upstream", "127.0.0.1:7071"},
			[]string{`upstreams: "127.0.0.1:7071" is this relay's own peer.listen (:7071)`}},
		{"self by name", RoleRelay, "", nil, []string{"--upstream", "10.0.0.1:9", "--peer", "10.0.0.1:9"},
			[]string{`a relay cannot be its own upstream`}},
		{"same address twice", RoleEdge, "", nil, []string{"--upstream", "a:1", "--admin", ":8081"},
			[]string{`http.listen: ":8081" is also admin.listen`}},
		{"ranges", RoleEdge, "", nil,
			[]string{"--upstream", "a:1", "--conns", "0", "--pipeline", "5000", "--window", "1KiB", "--memory", "2MiB", "--cache-size", "1"},
			[]string{"transfer.conns: 0: want 1 to 1024", "transfer.pipeline: 5000: want 1 to 64",
				"transfer.window: 1KiB: want at least 64KiB", "cache.size: 1: want at least 1MiB"}},
		{"window over memory", RoleEdge, "", nil, []string{"--upstream", "a:1", "--window", "64MiB", "--memory", "32MiB"},
			[]string{"transfer.window: 64MiB is more than transfer.memory (32MiB)"}},
		{"log", RoleOrigin, "origin: {root: /x}\nlog: {level: loud, format: xml}\n", nil, nil,
			[]string{`node.yml:2: log.level: "loud": want debug`, `log.format: "xml": want text or json`}},
		{"name", RoleOrigin, "", nil, []string{"--root", "/x", "--name", "a\nb"}, []string{`name: "a\nb" has a control character`}},
		{"congestion", RoleOrigin, "", nil, []string{"--root", "/x", "--congestion", "BBR!"}, []string{`peer.congestion: "BBR!": want a name`}},
		{"write timeout", RoleEdge, "", nil, []string{"--upstream", "a:1", "--write-timeout", "0s"}, []string{`http.write_timeout: 0s: must be positive`}},
		{"adapt headroom", RoleEdge, "", nil, []string{"--upstream", "a:1", "--adapt-headroom", "1.5"}, []string{`http.adapt_headroom: 1.5: want more than 0 and at most 1`}},
		{"adapt headroom not a number", RoleEdge, "upstreams: [a:1]\nhttp: {adapt_headroom: most}\n", nil, nil,
			[]string{`node.yml:2: http.adapt_headroom: "most" is not a number`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.role, tc.file, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("accepted; want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) && tc.name != "yaml syntax" {
				t.Errorf("error %q is not a *conf.Error", err)
			}
		})
	}
}

// A bad flag value is refused by the flag set, naming the flag.
func TestFlags_badValue(t *testing.T) {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	NewFlags(fs, RoleEdge)
	err := fs.Parse([]string{"--conns", "many"})
	if err == nil || !strings.Contains(err.Error(), `invalid value "many" for flag -conns: "many" is not a whole number`) {
		t.Fatalf("Parse: %v", err)
	}
}

// Each role has the flags of its keys, no others, and shows its defaults.
func TestFlags_perRole(t *testing.T) {
	for _, tc := range []struct {
		role     Role
		has, not []string
		defaults []string
	}{
		{RoleOrigin, []string{"root", "http", "peer", "no-index", "admin", "access-log", "config"}, []string{"upstream", "conns", "cache-dir"},
			[]string{"-http HOST:PORT", "(default :8080)", "(default 127.0.0.1:9070)", "-root DIR", "-no-index\n"}},
		{RoleRelay, []string{"upstream", "peer", "conns", "window", "cache-dir"}, []string{"http", "root", "allow-origins"},
			[]string{"-window SIZE", "(default 1MiB)", "(default :7071)", "-upstream HOST:PORT[,...]"}},
		{RoleEdge, []string{"upstream", "http", "conns", "window", "write-timeout", "pprof"}, []string{"peer", "root"},
			[]string{"(default 32MiB)", "-write-timeout DURATION", "(default 30s)", "(default bbr)", "-conns N", "-config FILE"}},
	} {
		fs := flag.NewFlagSet(string(tc.role), flag.ContinueOnError)
		var out bytes.Buffer
		fs.SetOutput(&out)
		NewFlags(fs, tc.role)
		for _, f := range tc.has {
			if fs.Lookup(f) == nil {
				t.Errorf("%s: no --%s", tc.role, f)
			}
		}
		for _, f := range tc.not {
			if fs.Lookup(f) != nil {
				t.Errorf("%s: has --%s", tc.role, f)
			}
		}
		PrintDefaults(&out, fs)
		for _, d := range tc.defaults {
			if !strings.Contains(out.String(), d) {
				t.Errorf("%s: usage does not show %s:\n%s", tc.role, d, out.String())
			}
		}
		if strings.Contains(out.String(), "PANIC") || strings.Contains(out.String(), "(default false)") {
			t.Errorf("%s: usage:\n%s", tc.role, out.String())
		}
	}
}

// Every option has a flag, an environment variable and a field, distinct
// from the others'.
func TestOptions_unique(t *testing.T) {
	seen := map[string]string{}
	for i := range options {
		o := &options[i]
		for _, name := range []string{"key " + o.key, "flag " + o.flag, "env " + o.env()} {
			if other, dup := seen[name]; dup {
				t.Errorf("%s used by %s and %s", name, other, o.key)
			}
			seen[name] = o.key
		}
		var c Config
		v := o.field(&c)
		def := v.String()
		sample := map[string]string{"conf.intValue": "7", "conf.boolValue": "true", "conf.sizeValue": "3MiB",
			"conf.durationValue": "7s", "conf.stringValue": "x", "conf.stringsValue": "x"}
		var s string
		switch v.(type) {
		case intValue:
			s = sample["conf.intValue"]
		case boolValue:
			s = sample["conf.boolValue"]
		case sizeValue:
			s = sample["conf.sizeValue"]
		case durationValue:
			s = sample["conf.durationValue"]
		case floatValue:
			s = "0.5"
		case stringValue, stringsValue:
			s = "x"
		default:
			t.Fatalf("%s: value type %T", o.key, v)
		}
		if err := v.Set(s); err != nil || v.String() == def {
			t.Errorf("%s: Set(%q) = %v, then String() = %q", o.key, s, err, v.String())
		}
	}
}

func TestDefault_valid(t *testing.T) {
	for _, r := range Roles {
		c := Default(r)
		c.Upstreams = []string{"upstream.example:7070"}
		c.Origin.Root = "/srv"
		if err := c.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", r, err)
		}
	}
}

// A file meant for another role, as the every-key example is, loads: the
// keys the role does not use are ignored and listed.
func TestLoad_unusedKeys(t *testing.T) {
	c, err := load(t, RoleOrigin, "origin: {root: /srv}\ncache: {size: 2GiB}\nupstreams: [a:1]\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Unused(), " "); got != "cache.size upstreams" {
		t.Errorf("Unused() = %q", got)
	}
}

// "role:" in the file names the role when the command does not.
func TestLoad_roleFromFile(t *testing.T) {
	c, err := load(t, "", "role: relay\nupstreams: [a:1]\n", nil)
	if err != nil || c.Role != RoleRelay || c.Transfer.Window != 1<<20 {
		t.Fatalf("%v, role %q, window %v", err, c.Role, c.Transfer.Window)
	}
	if _, err := load(t, "", "upstreams: [a:1]\n", nil); err == nil || !strings.Contains(err.Error(), "role: unknown") {
		t.Fatalf("no role: %v", err)
	}
}

// A null value keeps the default; an empty file sets nothing.
func TestLoad_nullAndEmpty(t *testing.T) {
	c, err := load(t, RoleEdge, "upstreams: [a:1]\ntransfer:\n  conns:\n", nil)
	if err != nil || c.Transfer.Conns != Default(RoleEdge).Transfer.Conns {
		t.Fatalf("%v, conns %d", err, c.Transfer.Conns)
	}
	if _, err := load(t, RoleEdge, "# nothing\n", nil, "--upstream", "a:1"); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	noEnv := func(string) (string, bool) { return "", false }
	c := Default(RoleEdge)
	if err := c.LoadKey(noEnv); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "aqueduct keygen") {
		t.Fatalf("LoadKey with nothing = %v, want ErrNoKey saying how to make one", err)
	}
	key := "aqk1-" + strings.Repeat("A", 43)
	env := func(k string) (string, bool) { return key, k == KeyEnv }
	if err := c.LoadKey(env); err != nil {
		t.Fatalf("from $%s: %v", KeyEnv, err)
	}
	c.KeyFile = filepath.Join(dir, "k")
	if err := c.LoadKey(env); err == nil {
		t.Fatal("a missing key file was accepted (the file wins over the environment)")
	}
	os.WriteFile(c.KeyFile, []byte("garbage"), 0o600)
	if err := c.LoadKey(env); err == nil || !strings.Contains(err.Error(), c.KeyFile) {
		t.Fatalf("bad key file: %v, want an error naming the file", err)
	}
}

// $AQUEDUCT_KEY overrides a key_file from the configuration file (the
// environment over the file), not one from a flag.
func TestLoadKey_precedence(t *testing.T) {
	dir := t.TempDir()
	k1, _ := peer.GenerateKey()
	k2, _ := peer.GenerateKey()
	fileKey, envKey := k1.Encode(), k2.Encode()
	keyFile := filepath.Join(dir, "k")
	os.WriteFile(keyFile, []byte(fileKey), 0o600)
	env := map[string]string{KeyEnv: envKey, "AQUEDUCT_UPSTREAMS": "a:1"}
	for _, tc := range []struct {
		name string
		file string
		args []string
		want string
	}{
		{"file's key_file, env key", "key_file: " + keyFile + "\n", nil, envKey},
		{"file's missing key_file, env key", "key_file: /nonexistent\n", nil, envKey},
		{"flag's key_file, env key", "", []string{"--key-file", keyFile}, fileKey},
	} {
		c, err := load(t, RoleEdge, tc.file, env, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.LoadKey(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Key.Encode() != tc.want {
			t.Errorf("%s: got the other key", tc.name)
		}
	}
}
