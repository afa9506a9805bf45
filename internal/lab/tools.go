package lab

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// An experiment's commands run programs that the lab does not ship (curl,
// aria2c, mptcpize, …). Run checks that each is installed before it builds
// anything, so that a missing one fails the experiment at once, with the
// Debian package that provides it, instead of failing every run of a case
// with "not found" in a log that is deleted with the test's temporary
// directory.

// MissingToolError reports a program that an experiment's commands run and
// that is not installed (not in PATH).
type MissingToolError struct {
	Experiment string
	Tool       string
	// Package is the Debian package that provides Tool, or empty if the
	// lab does not know it.
	Package string
}

func (e *MissingToolError) Error() string {
	s := fmt.Sprintf("lab: experiment %s runs %s, which is not installed", e.Experiment, e.Tool)
	if e.Package != "" {
		s += fmt.Sprintf(" (Debian package %q)", e.Package)
	}
	return s
}

// toolPackages maps programs that experiments commonly run to the Debian
// packages that provide them.
var toolPackages = map[string]string{
	"curl": "curl", "wget": "wget", "aria2c": "aria2", "mptcpize": "mptcpize",
	"ip": "iproute2", "ss": "iproute2", "tc": "iproute2", "nstat": "iproute2", "bridge": "iproute2",
	"nft": "nftables", "iptables": "iptables", "ping": "iputils-ping", "ethtool": "ethtool",
	"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "ffplay": "ffmpeg", "mpv": "mpv",
	"iperf3": "iperf3", "iperf": "iperf", "nc": "netcat-openbsd", "socat": "socat",
	"tcpdump": "tcpdump", "tshark": "tshark", "h2load": "nghttp2-client", "nghttp": "nghttp2-client",
	"ab": "apache2-utils", "openssl": "openssl", "jq": "jq", "python3": "python3", "bash": "bash",
	"sysctl": "procps", "ps": "procps", "pkill": "procps", "grep": "grep", "sed": "sed", "awk": "mawk",
	"gzip": "gzip", "xz": "xz-utils", "zstd": "zstd", "tar": "tar",
	"setsid": "util-linux", "taskset": "util-linux", "flock": "util-linux",
	"cat": "coreutils", "cp": "coreutils", "dd": "coreutils", "env": "coreutils", "head": "coreutils",
	"tail": "coreutils", "ls": "coreutils", "mkdir": "coreutils", "mv": "coreutils", "rm": "coreutils",
	"nice": "coreutils", "nohup": "coreutils", "sleep": "coreutils", "stat": "coreutils", "tee": "coreutils",
	"timeout": "coreutils", "touch": "coreutils", "truncate": "coreutils", "wc": "coreutils", "seq": "coreutils",
	"sha256sum": "coreutils", "md5sum": "coreutils", "date": "coreutils", "sort": "coreutils", "yes": "coreutils",
}

// shellBuiltins are the POSIX shell's builtins and reserved words: /bin/sh
// runs them itself.
var shellBuiltins = map[string]bool{
	".": true, ":": true, "[": true, "alias": true, "bg": true, "break": true, "cd": true, "command": true,
	"continue": true, "echo": true, "eval": true, "exec": true, "exit": true, "export": true, "false": true,
	"fg": true, "getopts": true, "hash": true, "jobs": true, "kill": true, "local": true, "printf": true,
	"pwd": true, "read": true, "readonly": true, "return": true, "set": true, "shift": true, "test": true,
	"times": true, "trap": true, "true": true, "type": true, "ulimit": true, "umask": true, "unalias": true,
	"unset": true, "wait": true,
	"!": true, "{": true, "}": true, "if": true, "then": true, "else": true, "elif": true, "fi": true,
	"do": true, "done": true, "while": true, "until": true, "for": true, "case": true, "esac": true, "in": true,
}

// aqueductWord stands for {{.Aqueduct}} when an experiment's commands are
// rendered to find their tools: the lab runs that binary itself.
const aqueductWord = "aqueduct"

var assignmentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// commandTools returns the programs that a /bin/sh command line runs, in
// order and without repeats: the first word of each simple command (after
// variable assignments, shell keywords and the builtins exec and command),
// plus the program that a wrapper runs (env, nohup and setsid run the rest
// of their words; "mptcpize run X" runs X). Shell builtins and words that
// the shell expands ($…, `…`) or that name a file by its path are left
// out: the first runs in the shell, the others are the experiment's own.
func commandTools(line string) []string {
	var tools []string
	add := func(w string) {
		if w != "" && !shellBuiltins[w] && !strings.ContainsAny(w, "/$`*?") && !slices.Contains(tools, w) {
			tools = append(tools, w)
		}
	}
	for _, words := range simpleCommands(line) {
		for len(words) > 0 {
			w := words[0]
			switch {
			case assignmentRE.MatchString(w), w == "exec", w == "command", w == "!", w == "{", w == "(",
				w == "if", w == "then", w == "else", w == "elif", w == "do", w == "while", w == "until":
				words = words[1:]
				continue
			case w == "for" || w == "case":
				words = nil // their words are not commands
				continue
			}
			add(w)
			words = words[1:]
			switch w {
			case "env":
				for len(words) > 0 && (strings.HasPrefix(words[0], "-") || assignmentRE.MatchString(words[0])) {
					words = words[1:]
				}
			case "nohup", "setsid":
			case "mptcpize":
				if len(words) > 0 && words[0] == "run" {
					words = words[1:]
					for len(words) > 0 && strings.HasPrefix(words[0], "-") { // mptcpize run -d
						words = words[1:]
					}
					break
				}
				words = nil
			default:
				words = nil
			}
		}
	}
	return tools
}

// simpleCommands splits a /bin/sh command line into its simple commands'
// words: it honours single and double quotes and backslashes, splits at
// ; & | && || newlines and parentheses, drops comments, and drops
// redirections with their targets (2>&1, > FILE, <FILE). It does not expand
// anything.
func simpleCommands(line string) [][]string {
	var (
		cmds     [][]string
		words    []string
		word     strings.Builder
		inWord   bool
		skipNext bool // the next word is a redirection's target
	)
	endWord := func() {
		if !inWord {
			return
		}
		if skipNext {
			skipNext = false
		} else {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
		skipNext = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			if line[i] != '\n' {
				word.WriteByte(line[i])
				inWord = true
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				word.WriteByte(line[i])
			}
		case c == ' ' || c == '\t':
			endWord()
		case c == '#' && !inWord:
			for i < len(line) && line[i] != '\n' {
				i++
			}
			endCmd()
		case c == '$' && strings.HasPrefix(line[i:], "$(("):
			// Arithmetic runs nothing: skip to its end.
			j := strings.Index(line[i:], "))")
			if j < 0 {
				j = len(line) - i - 2
			}
			word.WriteString("$")
			inWord = true
			i += j + 1
		case c == ';' || c == '&' || c == '|' || c == '\n' || c == '(' || c == ')':
			endCmd()
		case c == '<' || c == '>':
			// A word of digits just before is the redirected descriptor.
			if inWord && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset()
				inWord = false
			}
			endWord()
			for i+1 < len(line) && strings.IndexByte("<>&|", line[i+1]) >= 0 {
				i++
			}
			skipNext = true
			// A target glued to the operator (>FILE, >&2) is read as the
			// next word and skipped.
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

// commandLines renders every command the experiment runs, setup, services
// and clients, with {{.Aqueduct}} as aqueductWord.
func (e *Experiment) commandLines() ([]string, error) {
	t, err := e.Topology()
	if err != nil {
		return nil, err
	}
	p, err := newPlan(t)
	if err != nil {
		return nil, err
	}
	env := placeholderEnv(e, p)
	var lines []string
	render := func(s string) error {
		line, err := env.render(s)
		if err != nil {
			return err
		}
		lines = append(lines, line)
		return nil
	}
	for _, c := range e.Setup {
		if err := render(c.Run); err != nil {
			return nil, err
		}
	}
	for _, c := range e.Cases {
		env.Case = c.Name
		for _, s := range c.Setup {
			if err := render(s.Run); err != nil {
				return nil, err
			}
		}
		for _, s := range c.Services {
			if err := render(s.Run); err != nil {
				return nil, err
			}
		}
		if err := render(c.Client.Run); err != nil {
			return nil, err
		}
	}
	return lines, nil
}

// Tools returns the programs that the experiment's commands run, besides
// the aqueduct binary and the shell's builtins, in order of first use.
func (e *Experiment) Tools() ([]string, error) {
	lines, err := e.commandLines()
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", e.Name, err)
	}
	var tools []string
	for _, l := range lines {
		for _, t := range commandTools(l) {
			if t != aqueductWord && !slices.Contains(tools, t) {
				tools = append(tools, t)
			}
		}
	}
	return tools, nil
}

// checkTools returns a MissingToolError for each of the experiment's tools
// that lookPath (exec.LookPath) cannot find, joined, or nil.
func checkTools(e *Experiment, lookPath func(string) (string, error)) error {
	tools, err := e.Tools()
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tools {
		if _, err := lookPath(t); err != nil {
			errs = append(errs, &MissingToolError{Experiment: e.Name, Tool: t, Package: toolPackages[t]})
		}
	}
	return errors.Join(errs...)
}
