package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// Experiment is one experiment file: a topology, the cases to compare on
// it, and how to measure them. docs/lab.md documents every key.
type Experiment struct {
	Name        string               `yaml:"name"`
	Title       string               `yaml:"title"`
	Description string               `yaml:"description"`
	Repeat      int                  `yaml:"repeat"`
	Timeout     Duration             `yaml:"timeout"`
	Congestion  []string             `yaml:"congestion"`
	Seed        uint64               `yaml:"seed"`
	Content     OrderedMap[Size]     `yaml:"content"`
	Measure     Measure              `yaml:"measure"`
	Vars        OrderedMap[string]   `yaml:"vars"`
	Hosts       OrderedMap[HostSpec] `yaml:"hosts"`
	Links       []LinkSpec           `yaml:"links"`
	Setup       []Command            `yaml:"setup"`
	Cases       []Case               `yaml:"cases"`
	Compare     Compare              `yaml:"compare"`
	Quick       *Quick               `yaml:"quick"`
	Notes       string               `yaml:"notes"`
}

// Measure says what every case's client must produce.
type Measure struct {
	// File is the content file every client downloads to {{.Out}}.
	File string `yaml:"file"`
	// Verify compares the download with the original by SHA-256 (default
	// true); false checks the size only.
	Verify *bool `yaml:"verify"`
}

// Compare asks the report for each case's goodput relative to a baseline
// case, under the same congestion control.
type Compare struct {
	Baseline string `yaml:"baseline"`
}

// HostSpec configures one host (network namespace).
type HostSpec struct {
	// Congestion pins this host's congestion control, overriding the
	// experiment's list.
	Congestion string `yaml:"congestion"`
	// MPTCP sets the kernel path manager's limits and endpoints.
	MPTCP *MPTCPSpec `yaml:"mptcp"`
	// SourceRouting sends traffic from each address out of its own link;
	// see Host.SourceRouting.
	SourceRouting bool `yaml:"source_routing"`
	// Sysctl sets further net.* sysctls in the host's namespace.
	Sysctl OrderedMap[string] `yaml:"sysctl"`
}

// MPTCPSpec is a host's MPTCP configuration (ip mptcp limits / endpoint).
type MPTCPSpec struct {
	Subflows        int `yaml:"subflows"`
	AddAddrAccepted int `yaml:"add_addr_accepted"`
	// Endpoints adds an endpoint on each of the host's addresses with these
	// flags ("subflow", "signal", "subflow backup", …); empty adds none.
	Endpoints string `yaml:"endpoints"`
}

// LinkSpec is a link in YAML. The properties apply to both directions;
// Forward (first host to second) and Reverse override them per direction.
type LinkSpec struct {
	Between []string `yaml:"between"`
	DirSpec `yaml:",inline"`
	Forward *DirSpec `yaml:"forward"`
	Reverse *DirSpec `yaml:"reverse"`
	// Changes change the link's properties during each run, At after the
	// client starts, in increasing At.
	Changes []ChangeSpec `yaml:"changes"`
}

// ChangeSpec is one scheduled change of a link. Its properties override
// those in effect just before it (the link's own, then earlier changes'),
// in both directions, and Forward and Reverse per direction; a property it
// does not set stays as it was.
type ChangeSpec struct {
	At      Duration `yaml:"at"`
	DirSpec `yaml:",inline"`
	Forward *DirSpec `yaml:"forward"`
	Reverse *DirSpec `yaml:"reverse"`
}

// dirs returns the forward and reverse properties of a link or change
// whose own are d, forward and reverse, over base properties fwd and rev.
func dirs(d DirSpec, forward, reverse *DirSpec, fwd, rev DirSpec) (DirSpec, DirSpec) {
	fwd, rev = d.over(fwd), d.over(rev)
	if forward != nil {
		fwd = forward.over(fwd)
	}
	if reverse != nil {
		rev = reverse.over(rev)
	}
	return fwd, rev
}

// DirSpec is one direction's properties; unset fields inherit.
type DirSpec struct {
	Rate   *Rate     `yaml:"rate"`
	Delay  *Duration `yaml:"delay"`
	Jitter *Duration `yaml:"jitter"`
	Queue  *Size     `yaml:"queue"`
	Loss   *LossSpec `yaml:"loss"`
}

func (d DirSpec) over(base DirSpec) DirSpec {
	if d.Rate == nil {
		d.Rate = base.Rate
	}
	if d.Delay == nil {
		d.Delay = base.Delay
	}
	if d.Jitter == nil {
		d.Jitter = base.Jitter
	}
	if d.Queue == nil {
		d.Queue = base.Queue
	}
	if d.Loss == nil {
		d.Loss = base.Loss
	}
	return d
}

func (d DirSpec) config() linkem.Config {
	var c linkem.Config
	if d.Rate != nil {
		c.Rate = linkem.Rate(*d.Rate)
	}
	if d.Delay != nil {
		c.Delay = time.Duration(*d.Delay)
	}
	if d.Jitter != nil {
		c.Jitter = time.Duration(*d.Jitter)
	}
	if d.Queue != nil {
		c.QueueBytes = int(*d.Queue)
	}
	if d.Loss != nil {
		c.Loss = d.Loss.Loss
	}
	return c
}

// Command is a shell command run on a host. In YAML it is a string (run on
// the first host) or {host: …, run: …}.
type Command struct {
	Host string `yaml:"host"`
	Run  string `yaml:"run"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Command) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Run = n.Value
		return nil
	}
	type plain Command
	return decodeStrict(n, (*plain)(c))
}

// Case is one alternative compared in an experiment.
type Case struct {
	Name     string    `yaml:"name"`
	Setup    []Command `yaml:"setup"`
	Services []Service `yaml:"services"`
	Client   Command   `yaml:"client"`
	// Model is the data path, sender first (for instance [a, b, c] for a
	// chain through b), for which the report shows the throughput
	// predicted by seed 002's equations (1)–(3).
	Model []string `yaml:"model"`
	// Paper is a reference throughput in Mbit/s reported beside the
	// measurement (for instance the paper's figure).
	Paper float64 `yaml:"paper"`
}

// Service is a background process a case needs, started before the client
// in the order given and stopped after it.
type Service struct {
	Name  string `yaml:"name"`
	Host  string `yaml:"host"`
	Run   string `yaml:"run"`
	Ready Ready  `yaml:"ready"`
}

// Ready says when a service is ready. With neither TCP nor Log set it is
// ready once started.
type Ready struct {
	// TCP is an address to connect to from the service's host: "HOST:PORT",
	// or ":PORT" for 127.0.0.1.
	TCP string `yaml:"tcp"`
	// Log is a regular expression matched against each output line.
	Log     string   `yaml:"log"`
	Timeout Duration `yaml:"timeout"`
}

// Quick overrides parts of an experiment for --quick (CI) runs.
type Quick struct {
	Repeat     int              `yaml:"repeat"`
	Timeout    Duration         `yaml:"timeout"`
	Congestion []string         `yaml:"congestion"`
	Content    OrderedMap[Size] `yaml:"content"`
}

// Defaults.
const (
	DefaultRepeat       = 1
	DefaultTimeout      = 10 * time.Minute
	DefaultReadyTimeout = 20 * time.Second
	DefaultCongestion   = "cubic"
	maxHostName         = 10 // "aql-" + host + link index fits IFNAMSIZ
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
var expNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// LoadExperiment reads and validates an experiment file.
func LoadExperiment(path string) (*Experiment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	e, err := ParseExperiment(b)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", path, err)
	}
	return e, nil
}

// ParseExperiment parses and validates an experiment.
func ParseExperiment(b []byte) (*Experiment, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var e Experiment
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	e.setDefaults()
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

func (e *Experiment) setDefaults() {
	if e.Repeat == 0 {
		e.Repeat = DefaultRepeat
	}
	if e.Timeout == 0 {
		e.Timeout = Duration(DefaultTimeout)
	}
	if len(e.Congestion) == 0 {
		e.Congestion = []string{DefaultCongestion}
	}
	if e.Title == "" {
		e.Title = e.Name
	}
	for i := range e.Cases {
		for j := range e.Cases[i].Services {
			s := &e.Cases[i].Services[j]
			if s.Name == "" {
				s.Name = fmt.Sprintf("%s-%d", s.Host, j+1)
			}
			if s.Ready.Timeout == 0 {
				s.Ready.Timeout = Duration(DefaultReadyTimeout)
			}
		}
	}
	first := ""
	if len(e.Hosts) > 0 {
		first = e.Hosts[0].Key
	}
	for i := range e.Setup {
		if e.Setup[i].Host == "" {
			e.Setup[i].Host = first
		}
	}
	for i := range e.Cases {
		for j := range e.Cases[i].Setup {
			if e.Cases[i].Setup[j].Host == "" {
				e.Cases[i].Setup[j].Host = first
			}
		}
	}
}

// ApplyQuick applies the experiment's quick overrides.
func (e *Experiment) ApplyQuick() {
	q := e.Quick
	if q == nil {
		return
	}
	if q.Repeat > 0 {
		e.Repeat = q.Repeat
	}
	if q.Timeout > 0 {
		e.Timeout = q.Timeout
	}
	if len(q.Congestion) > 0 {
		e.Congestion = q.Congestion
	}
	for _, kv := range q.Content {
		e.Content.Set(kv.Key, kv.Value)
	}
}

// prepare applies the options to a copy of e and validates the result.
func prepare(e *Experiment, opt RunOptions) (*Experiment, error) {
	c := *e
	c.Content = slices.Clone(e.Content)
	c.Vars = slices.Clone(e.Vars)
	if opt.Quick {
		c.ApplyQuick()
	}
	if len(opt.Congestion) > 0 {
		c.Congestion = opt.Congestion
	}
	if opt.Repeat > 0 {
		c.Repeat = opt.Repeat
	}
	for k, v := range opt.Vars {
		c.SetVar(k, v)
	}
	if len(opt.Cases) > 0 {
		c.Cases = nil
		for _, name := range opt.Cases {
			i := slices.IndexFunc(e.Cases, func(x Case) bool { return x.Name == name })
			if i < 0 {
				return nil, fmt.Errorf("lab: no case %q in %s", name, e.Name)
			}
			c.Cases = append(c.Cases, e.Cases[i])
		}
		if !slices.ContainsFunc(c.Cases, func(x Case) bool { return x.Name == c.Compare.Baseline }) {
			c.Compare.Baseline = "" // not run: nothing to compare with
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", e.Name, err)
	}
	return &c, nil
}

// Validate checks names, references and values.
func (e *Experiment) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !expNameRE.MatchString(e.Name) {
		bad("name %q: want lower-case letters, digits and dashes", e.Name)
	}
	if e.Repeat < 1 {
		bad("repeat %d < 1", e.Repeat)
	}
	for _, cc := range e.Congestion {
		if !ccRE.MatchString(cc) {
			bad("congestion %q: not an algorithm name", cc)
		}
	}
	if _, err := e.Topology(); err != nil {
		errs = append(errs, err)
	}
	for i, l := range e.Links {
		if n := len(l.Changes); n > 0 && l.Changes[n-1].At >= e.Timeout {
			bad("links[%d].changes[%d]: at %v is not within the timeout %v", i, n-1, l.Changes[n-1].At, e.Timeout)
		}
	}
	if len(e.Content) == 0 {
		bad("content: no files")
	}
	for _, kv := range e.Content {
		if !fileNameRE.MatchString(kv.Key) {
			bad("content %q: want a plain file name", kv.Key)
		}
	}
	if _, ok := e.Content.Get(e.Measure.File); !ok {
		bad("measure.file %q is not in content", e.Measure.File)
	}
	hostOK := func(where, h string) {
		if _, ok := e.Hosts.Get(h); !ok {
			bad("%s: unknown host %q", where, h)
		}
	}
	for i, c := range e.Setup {
		hostOK(fmt.Sprintf("setup[%d]", i), c.Host)
	}
	if len(e.Cases) == 0 {
		bad("cases: none")
	}
	seen := map[string]bool{}
	for _, c := range e.Cases {
		where := fmt.Sprintf("case %q", c.Name)
		if c.Name == "" || seen[c.Name] {
			bad("%s: cases need distinct, non-empty names", where)
		}
		seen[c.Name] = true
		for i, s := range c.Setup {
			hostOK(fmt.Sprintf("%s setup[%d]", where, i), s.Host)
		}
		svc := map[string]bool{}
		for _, s := range c.Services {
			hostOK(where+" service "+s.Name, s.Host)
			if svc[s.Name] || !nameRE.MatchString(strings.ReplaceAll(s.Name, "-", "")) {
				bad("%s: service name %q: want distinct lower-case names", where, s.Name)
			}
			svc[s.Name] = true
			if s.Run == "" {
				bad("%s service %s: empty run", where, s.Name)
			}
			if s.Ready.Log != "" {
				if _, err := regexp.Compile(s.Ready.Log); err != nil {
					bad("%s service %s: ready.log: %v", where, s.Name, err)
				}
			}
		}
		hostOK(where+" client", c.Client.Host)
		if c.Client.Run == "" {
			bad("%s: client.run is empty", where)
		}
		if len(c.Model) == 1 {
			bad("%s: model needs a path of at least two hosts", where)
		}
		for i := 1; i < len(c.Model); i++ {
			if _, ok := e.linkBetween(c.Model[i-1], c.Model[i]); !ok {
				bad("%s: model: no link between %s and %s", where, c.Model[i-1], c.Model[i])
			}
		}
	}
	if b := e.Compare.Baseline; b != "" && !seen[b] {
		bad("compare.baseline %q is not a case", b)
	}
	if err := e.checkTemplates(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var (
	ccRE       = regexp.MustCompile(`^[a-z0-9_]+$`)
	fileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Topology returns the experiment's hosts and links in testbed form.
func (e *Experiment) Topology() (Topology, error) {
	var t Topology
	for _, kv := range e.Hosts {
		t.Hosts = append(t.Hosts, Host{
			Name: kv.Key, Congestion: kv.Value.Congestion, MPTCP: kv.Value.MPTCP, Sysctl: kv.Value.Sysctl,
			SourceRouting: kv.Value.SourceRouting,
		})
	}
	for i, l := range e.Links {
		if len(l.Between) != 2 {
			return t, fmt.Errorf("links[%d]: between needs two hosts", i)
		}
		fwd, rev := dirs(l.DirSpec, l.Forward, l.Reverse, DirSpec{}, DirSpec{})
		tl := Link{A: l.Between[0], B: l.Between[1], AB: fwd.config(), BA: rev.config()}
		for _, c := range l.Changes {
			fwd, rev = dirs(c.DirSpec, c.Forward, c.Reverse, fwd, rev)
			tl.Changes = append(tl.Changes, LinkChange{At: time.Duration(c.At), AB: fwd.config(), BA: rev.config()})
		}
		t.Links = append(t.Links, tl)
	}
	return t, t.Validate()
}

func (e *Experiment) linkBetween(a, b string) (Link, bool) {
	t, _ := e.Topology()
	for _, l := range t.Links {
		switch {
		case l.A == a && l.B == b:
			return l, true
		case l.A == b && l.B == a:
			return Link{A: a, B: b, AB: l.BA, BA: l.AB}, true
		}
	}
	return Link{}, false
}

// checkTemplates renders every command with dummy values, so that a typo
// fails before any namespace exists.
func (e *Experiment) checkTemplates() error {
	t, err := e.Topology()
	if err != nil {
		return nil // reported already
	}
	p, err := newPlan(t)
	if err != nil {
		return nil
	}
	env := placeholderEnv(e, p)
	var errs []error
	check := func(where, s string) {
		if _, err := env.render(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	for i, c := range e.Setup {
		check(fmt.Sprintf("setup[%d]", i), c.Run)
	}
	for _, c := range e.Cases {
		env.Case = c.Name
		for i, s := range c.Setup {
			check(fmt.Sprintf("case %q setup[%d]", c.Name, i), s.Run)
		}
		for _, s := range c.Services {
			check(fmt.Sprintf("case %q service %s", c.Name, s.Name), s.Run)
			if s.Ready.TCP != "" {
				check(fmt.Sprintf("case %q service %s ready.tcp", c.Name, s.Name), s.Ready.TCP)
			}
		}
		check(fmt.Sprintf("case %q client", c.Name), c.Client.Run)
	}
	return errors.Join(errs...)
}

// placeholderEnv is a template environment with made-up paths, for
// rendering an experiment's commands before anything exists.
func placeholderEnv(e *Experiment, p *plan) *cmdEnv {
	return &cmdEnv{exp: e, plan: p, Aqueduct: aqueductWord, Dir: "/d", Content: "/d/content", Scratch: "/d/run",
		Key: "/d/run/cluster.key", Out: "/d/run/out", OutDir: "/d/run", OutName: "out", CC: "cubic"}
}

// cmdEnv is what command templates see. Fields are exported for the
// template; docs/lab.md lists them.
type cmdEnv struct {
	exp  *Experiment
	plan *plan

	Aqueduct string // the aqueduct binary
	Dir      string // the experiment's work directory
	Content  string // directory holding the content files
	Scratch  string // a fresh directory for this run
	Key      string // Scratch/cluster.key
	Out      string // the file the client must write
	OutDir   string // Out's directory
	OutName  string // Out's base name
	Host     string // the host the command runs on
	CC       string // the congestion control of this run
	Case     string // the case's name
	Rep      int    // the repetition, from 1
	Size     int64  // the measured file's size in bytes
	File     string // the measured file's name
}

// render expands a command template.
func (env *cmdEnv) render(s string) (string, error) {
	return env.renderDepth(s, 0)
}

func (env *cmdEnv) renderDepth(s string, depth int) (string, error) {
	if depth > 4 {
		return "", errors.New("vars nest too deeply")
	}
	funcs := template.FuncMap{
		// addr HOST [PEER]: HOST's address on its link to PEER, or on its
		// first link.
		"addr": func(host string, peer ...string) (string, error) {
			if len(peer) > 1 {
				return "", errors.New("addr takes a host and at most one peer")
			}
			p := ""
			if len(peer) == 1 {
				p = peer[0]
			}
			a, err := env.plan.addr(host, p)
			if err != nil {
				return "", err
			}
			return a.String(), nil
		},
		// dev HOST PEER: the name of HOST's device on its link to PEER.
		"dev": func(host, peer string) (string, error) {
			for _, ifc := range env.plan.ifaces[host] {
				if ifc.peer == peer {
					return ifc.dev, nil
				}
			}
			return "", fmt.Errorf("dev: no link between %s and %s", host, peer)
		},
		// var NAME: the experiment variable NAME, itself expanded.
		"var": func(name string) (string, error) {
			v, ok := env.exp.Vars.Get(name)
			if !ok {
				return "", fmt.Errorf("no var %q", name)
			}
			return env.renderDepth(v, depth+1)
		},
	}
	t, err := template.New("cmd").Option("missingkey=error").Funcs(funcs).Parse(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, env); err != nil {
		return "", err
	}
	return b.String(), nil
}

// SetVar overrides an experiment variable (aqueduct lab run --set).
func (e *Experiment) SetVar(name, value string) { e.Vars.Set(name, value) }

// OrderedMap is a YAML mapping that keeps its keys' order.
type OrderedMap[V any] []KV[V]

// KV is one entry of an OrderedMap.
type KV[V any] struct {
	Key   string
	Value V
}

// Get returns the value for key.
func (m OrderedMap[V]) Get(key string) (V, bool) {
	for _, kv := range m {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	var zero V
	return zero, false
}

// Set replaces key's value, or appends it.
func (m *OrderedMap[V]) Set(key string, v V) {
	for i := range *m {
		if (*m)[i].Key == key {
			(*m)[i].Value = v
			return
		}
	}
	*m = append(*m, KV[V]{key, v})
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *OrderedMap[V]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return yamlErr(n, errors.New("want a mapping"))
	}
	*m = (*m)[:0]
	for i := 0; i < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if _, dup := m.Get(k.Value); dup {
			return yamlErr(k, fmt.Errorf("duplicate key %q", k.Value))
		}
		var v V
		if vn.Kind == yaml.MappingNode && reflect.TypeFor[V]().Kind() == reflect.Struct {
			if err := decodeStrict(vn, &v); err != nil {
				return err
			}
		} else if err := vn.Decode(&v); err != nil {
			return err
		}
		*m = append(*m, KV[V]{k.Value, v})
	}
	return nil
}

// yamlKeys returns the YAML keys of the struct v points to, inlined
// structs included.
func yamlKeys(v any) map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if slices.Contains(strings.Split(opts, ","), "inline") {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			keys[name] = true
		}
	}
	walk(reflect.TypeOf(v).Elem())
	return keys
}
