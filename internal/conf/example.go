package conf

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Placeholders the example file gives keys that have no default.
var placeholders = map[string]map[Role]string{
	"key_file":    {RoleOrigin: "cluster.key", RoleRelay: "cluster.key", RoleEdge: "cluster.key"},
	"upstreams":   {RoleRelay: "origin.example.net:7070", RoleEdge: "relay1.example.net:7071,relay2.example.net:7071"},
	"origin.root": {RoleOrigin: "/srv/video"},
}

// Example writes a configuration file with every key, each with a comment
// (what it does, its flag and environment variable) and its default value.
// With a role, the file configures a node of that role and holds the keys
// it uses. With role "", it holds every key of every role, the role line
// and the keys whose default depends on the role commented out, so that it
// serves any role named on the command line (keys the role does not use
// are ignored). Keys without a default get a placeholder to replace.
func Example(w io.Writer, role Role) error {
	bw := bufio.NewWriter(w)
	ex := exampleWriter{w: bw, role: role}
	ex.header()
	ex.keys()
	return bw.Flush()
}

// Write writes c as a configuration file: the keys of its role with their
// values, no comments. It is what "aqueduct config check --print" shows.
func (c *Config) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "role: %s\n", c.Role)
	section := ""
	for i := range options {
		o := &options[i]
		if !o.uses(c.Role) {
			continue
		}
		sec, name := splitKey(o.key)
		indent := ""
		if sec != "" {
			if sec != section {
				fmt.Fprintf(bw, "%s:\n", sec)
			}
			indent = "  "
		}
		section = sec
		fmt.Fprintf(bw, "%s%s: %s\n", indent, name, yamlValue(o, o.field(c).String()))
	}
	return bw.Flush()
}

type exampleWriter struct {
	w    *bufio.Writer
	role Role
}

func (ex *exampleWriter) header() {
	w := ex.w
	if ex.role != "" {
		fmt.Fprintf(w, "# Aqueduct: configuration of %s %s node, with every key it uses and its default.\n", article(ex.role), ex.role)
		fmt.Fprintf(w, "#   aqueduct %s --config FILE [flags]\n", ex.role)
	} else {
		fmt.Fprintln(w, "# Aqueduct: every key of a node's configuration file, with its default.")
		fmt.Fprintln(w, "# One file per node; the command names the role:")
		fmt.Fprintln(w, "#   aqueduct origin|relay|edge --config FILE [flags]")
		fmt.Fprintln(w, "# A key the role does not use is ignored (the node logs which). Keys whose")
		fmt.Fprintln(w, "# default depends on the role are commented out here: uncomment to set them.")
		fmt.Fprintln(w, `# "aqueduct config example ROLE" writes the file of one role.`)
	}
	fmt.Fprintln(w, "#")
	fmt.Fprintln(w, "# Each value is taken from, in order: the built-in default, this file, the")
	fmt.Fprintln(w, "# environment variable named in its comment, then the flag named there.")
	fmt.Fprintln(w, `# Sizes take units (512MiB, 1GiB, 1GB); durations too (30s, 2m). "aqueduct`)
	fmt.Fprintln(w, `# config check FILE" checks a file.`)
	fmt.Fprintln(w)
	if ex.role != "" {
		fmt.Fprintf(w, "role: %s\n", ex.role)
	} else {
		fmt.Fprintln(w, "# The node's role: origin, relay or edge (the command names it too).")
		fmt.Fprintln(w, "# role: edge")
	}
}

func (ex *exampleWriter) keys() {
	w := ex.w
	section := ""
	for i := range options {
		o := &options[i]
		if ex.role != "" && !o.uses(ex.role) {
			continue
		}
		sec, name := splitKey(o.key)
		indent := ""
		if sec != section {
			fmt.Fprintln(w)
			if sec != "" {
				fmt.Fprintf(w, "%s:\n", sec)
			}
		}
		if sec != "" {
			indent = "  "
		}
		section = sec
		if sec == "" {
			fmt.Fprintln(w)
		}
		val, perRole := ex.value(o)
		help := o.help
		if ex.role == "" && len(o.roles) < len(Roles) {
			help += " (" + roleNames(o.roles) + ")"
		}
		for _, line := range wrap(help, 76-len(indent)) {
			fmt.Fprintf(w, "%s# %s\n", indent, line)
		}
		fmt.Fprintf(w, "%s# flag --%s, environment $%s\n", indent, o.flag, o.env())
		if perRole != "" {
			fmt.Fprintf(w, "%s# default: %s\n", indent, perRole)
			fmt.Fprintf(w, "%s# %s: %s\n", indent, name, val)
			continue
		}
		fmt.Fprintf(w, "%s%s: %s\n", indent, name, val)
	}
}

// value is what the example gives o: its default for the example's role
// (or placeholder), and, for the every-role file, the defaults per role
// when they differ.
func (ex *exampleWriter) value(o *option) (val, perRole string) {
	roles := o.roles
	if ex.role != "" {
		roles = []Role{ex.role}
	}
	if p, ok := placeholders[o.key][roles[len(roles)-1]]; ok {
		// A value to replace, not a default: one is enough.
		return yamlValue(o, p), ""
	}
	vals := make([]string, len(roles))
	same := true
	for i, r := range roles {
		d := Default(r)
		vals[i] = o.field(&d).String()
		same = same && vals[i] == vals[0]
	}
	if same {
		return yamlValue(o, vals[0]), ""
	}
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = fmt.Sprintf("%s %s", r, yamlValue(o, vals[i]))
	}
	return yamlValue(o, vals[len(vals)-1]), strings.Join(parts, ", ")
}

// yamlValue renders a value's text as YAML: strings quoted, lists in flow
// style, numbers, booleans, sizes and durations plain.
func yamlValue(o *option, s string) string {
	var scratch Config
	switch o.field(&scratch).(type) {
	case stringValue:
		return strconv.Quote(s)
	case stringsValue:
		if s == "" {
			return "[]"
		}
		items := strings.Split(s, ",")
		for i, it := range items {
			items[i] = strconv.Quote(it)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return s
}

func splitKey(key string) (section, name string) {
	if sec, name, ok := strings.Cut(key, "."); ok {
		return sec, name
	}
	return "", key
}

func roleNames(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// wrap breaks text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

func article(r Role) string {
	if r == RoleOrigin || r == RoleEdge {
		return "an"
	}
	return "a"
}
