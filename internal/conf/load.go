package conf

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a mistake in a configuration: the key, where its value came from
// and what is wrong with it.
type Error struct {
	Source string // "FILE:LINE", "--flag", "$VAR", or "" for a default or a missing value
	Key    string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Source == "":
		return fmt.Sprintf("%s: %v", e.Key, e.Err)
	case strings.HasPrefix(e.Source, "--"), strings.HasPrefix(e.Source, "$"):
		return fmt.Sprintf("%s: %v (from %s)", e.Key, e.Err, e.Source)
	}
	return fmt.Sprintf("%s: %s: %v", e.Source, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Flags is the command-line layer of a configuration: a flag for every key
// that one role uses, and --config. Make it with [NewFlags] before the flag
// set parses; [Load] applies what the command line set, last.
type Flags struct {
	role   Role
	config string
	set    []setting // in command-line order
}

type setting struct {
	opt *option
	val string
}

// NewFlags registers on fs the flags of role's keys, each with its help and
// the role's default, and --config.
func NewFlags(fs *flag.FlagSet, role Role) *Flags {
	f := &Flags{role: role}
	fs.StringVar(&f.config, "config", "", "YAML configuration `FILE` (write one with \"aqueduct config example\"); flags override it")
	def := Default(role)
	for i := range options {
		o := &options[i]
		if !o.uses(role) {
			continue
		}
		fs.Var(&flagValue{f: f, opt: o, def: o.field(&def).String()}, o.flag, o.help)
	}
	return f
}

// PrintDefaults writes the flags of fs with their help and defaults, as
// flag.FlagSet.PrintDefaults does, with each key's placeholder (HOST:PORT,
// SIZE, N...) where the flag package would write "value".
func PrintDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if fv, ok := f.Value.(*flagValue); ok {
			name = fv.opt.arg()
		}
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		if len(line) <= 4 { // a one-letter flag: usage on the same line
			line += "\t"
		} else {
			line += "\n    \t"
		}
		line += strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" {
			if _, ok := f.Value.(*flagValue); ok || name == "" {
				line += fmt.Sprintf(" (default %s)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			}
		}
		fmt.Fprintln(w, line)
	})
}

// ConfigFile is the file --config named, or "".
func (f *Flags) ConfigFile() string { return f.config }

// flagValue records a flag's value for Load instead of setting a field.
type flagValue struct {
	f   *Flags
	opt *option
	def string
}

func (v *flagValue) Set(s string) error {
	// Check the value now, so that the flag set reports a bad one with the
	// flag's name and usage.
	var scratch Config
	if err := v.opt.field(&scratch).Set(s); err != nil {
		return err
	}
	v.f.set = append(v.f.set, setting{v.opt, s})
	return nil
}

func (v *flagValue) String() string {
	if v == nil || v.opt == nil || v.def == "false" {
		return "" // the flag package's test for a zero default
	}
	return v.def
}

func (v *flagValue) IsBoolFlag() bool {
	if v == nil || v.opt == nil {
		return false
	}
	var scratch Config
	_, ok := v.opt.field(&scratch).(boolValue)
	return ok
}

// Load builds the configuration of a node of role, in layers: the role's
// defaults, then the file named by --config, then the environment
// (env, usually os.LookupEnv; nil for none), then the flags; then it
// validates the result. Every mistake found is reported, each as an
// [*Error] naming its key; they are joined with errors.Join.
//
// role may be empty when a file is given: the file's role key names it
// (aqueduct config check). A file whose role differs from role is refused.
func Load(role Role, f *Flags, env func(string) (string, bool)) (Config, error) {
	var file *yaml.Node
	if f != nil && f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return Config{}, fmt.Errorf("conf: %w", err)
		}
		var fileRole Role
		if file, fileRole, err = parseFile(f.config, data); err != nil {
			return Config{}, err
		}
		switch {
		case fileRole != "" && role != "" && fileRole != role:
			return Config{}, &Error{Source: f.config, Key: roleKey,
				Err: fmt.Errorf("the file is for a %s; this is the %s command", fileRole, role)}
		case role == "":
			role = fileRole
		}
	}
	if role == "" {
		return Config{}, &Error{Key: roleKey, Err: errors.New(`unknown: name it with "role:" in the file or with --role`)}
	}
	c := Default(role)
	var errs []error
	if file != nil {
		errs = append(errs, c.applyFile(f.config, file)...)
	}
	if env != nil {
		errs = append(errs, c.applyEnv(env)...)
	}
	if f != nil {
		errs = append(errs, c.applyFlags(f)...)
	}
	// Validate too: a value that did not parse kept its default, and the
	// user hears of every mistake at once.
	return c, errors.Join(append(errs, c.Validate())...)
}

// LoadFile is Load with no flags: the role's defaults, the file, then the
// environment (env; nil for none), validated.
func LoadFile(role Role, file string, env func(string) (string, bool)) (Config, error) {
	return Load(role, &Flags{role: role, config: file}, env)
}

// parseFile parses a configuration file into its top mapping and reads its
// role key.
func parseFile(name string, data []byte) (*yaml.Node, Role, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, "", fmt.Errorf("conf: %s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, "", nil // an empty file sets nothing
	}
	top := resolve(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		return nil, "", &Error{Source: fmt.Sprintf("%s:%d", name, top.Line), Key: "(top)", Err: errors.New("want a mapping of keys, such as \"name: edge1\"")}
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], resolve(top.Content[i+1])
		if k.Value != roleKey {
			continue
		}
		r, err := ParseRole(v.Value)
		if err != nil {
			return nil, "", &Error{Source: fmt.Sprintf("%s:%d", name, v.Line), Key: roleKey, Err: err}
		}
		return top, r, nil
	}
	return top, "", nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// applyFile sets the keys of a parsed file, walking its mappings.
func (c *Config) applyFile(name string, top *yaml.Node) []error {
	var errs []error
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		seen := map[string]int{}
		for i := 0; i+1 < len(m.Content); i += 2 {
			kn, vn := m.Content[i], resolve(m.Content[i+1])
			at := fmt.Sprintf("%s:%d", name, kn.Line)
			key := kn.Value
			if prefix != "" {
				key = prefix + "." + kn.Value
			}
			fail := func(err error) { errs = append(errs, &Error{Source: at, Key: key, Err: err}) }
			if kn.Kind != yaml.ScalarNode {
				fail(errors.New("a key must be a plain word"))
				continue
			}
			if line, dup := seen[kn.Value]; dup {
				fail(fmt.Errorf("given twice (first on line %d)", line))
				continue
			}
			seen[kn.Value] = kn.Line
			if key == roleKey {
				continue // read by parseFile
			}
			o := optionByKey(key)
			if o == nil {
				if isSection(key) {
					if vn.Kind != yaml.MappingNode {
						fail(fmt.Errorf("a section: want keys under it, such as %s", sectionExample(key)))
						continue
					}
					walk(key, vn)
					continue
				}
				fail(unknownKey(key))
				continue
			}
			if !o.uses(c.Role) {
				c.unused = append(c.unused, key)
				continue
			}
			if err := c.setNode(o, vn); err != nil {
				fail(err)
				continue
			}
			c.setFrom(key, fmt.Sprintf("%s:%d", name, vn.Line))
		}
	}
	walk("", top)
	return errs
}

// setNode sets an option from a file's value node.
func (c *Config) setNode(o *option, n *yaml.Node) error {
	v := o.field(c)
	lv, isList := v.(listValue)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil // "key:" with no value keeps the default
	case n.Kind == yaml.MappingNode:
		return errors.New("want a value, not a mapping")
	case n.Kind == yaml.SequenceNode && !isList:
		return errors.New("want one value, not a list")
	case n.Kind == yaml.SequenceNode:
		lv.reset()
		for _, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a list of plain values", item.Line)
			}
			if err := lv.Set(item.Value); err != nil {
				return err
			}
		}
		return nil
	}
	if isList {
		lv.reset()
	}
	return v.Set(n.Value)
}

// applyEnv sets the keys whose environment variables are set.
func (c *Config) applyEnv(env func(string) (string, bool)) []error {
	var errs []error
	for i := range options {
		o := &options[i]
		if !o.uses(c.Role) {
			continue
		}
		s, ok := env(o.env())
		if !ok {
			continue
		}
		v := o.field(c)
		if lv, ok := v.(listValue); ok {
			lv.reset()
		}
		if err := v.Set(s); err != nil {
			errs = append(errs, &Error{Source: "$" + o.env(), Key: o.key, Err: err})
			continue
		}
		c.setFrom(o.key, "$"+o.env())
	}
	return errs
}

// applyFlags sets what the command line set, in its order. A list flag
// replaces the list of the layers below at its first use and appends after.
func (c *Config) applyFlags(f *Flags) []error {
	var errs []error
	started := map[*option]bool{}
	for _, s := range f.set {
		v := s.opt.field(c)
		if lv, ok := v.(listValue); ok && !started[s.opt] {
			lv.reset()
			started[s.opt] = true
		}
		if err := v.Set(s.val); err != nil {
			errs = append(errs, &Error{Source: "--" + s.opt.flag, Key: s.opt.key, Err: err})
			continue
		}
		c.setFrom(s.opt.key, "--"+s.opt.flag)
	}
	return errs
}

// unknownKey explains a key that is none, suggesting the nearest.
func unknownKey(key string) error {
	best, dist := "", 4
	for i := range options {
		o := &options[i]
		for _, cand := range []string{o.key, o.flag} {
			if d := editDistance(key, cand); d < dist {
				best, dist = o.key, d
			}
		}
		// The last part alone, as in "conns:" at the top for transfer.conns.
		if _, last, ok := strings.Cut(o.key, "."); ok && key == last {
			best, dist = o.key, 0
		}
	}
	if best != "" {
		return fmt.Errorf("unknown key (did you mean %s?)", best)
	}
	return errors.New(`unknown key (see "aqueduct config example" for every key)`)
}

func sectionExample(section string) string {
	for i := range options {
		if rest, ok := strings.CutPrefix(options[i].key, section+"."); ok {
			return strconv.Quote(rest + ": ...")
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keysOf lists the keys role uses, in the order of the example file.
func keysOf(role Role) []string {
	var out []string
	for i := range options {
		if options[i].uses(role) {
			out = append(out, options[i].key)
		}
	}
	return slices.Clip(out)
}
