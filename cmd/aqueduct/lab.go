package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
)

// runLab dispatches "aqueduct lab SUBCOMMAND". The work is in internal/lab.
func runLab(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		labUsage(os.Stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "run":
		return labRun(ctx, rest)
	case "check":
		return labCheck(rest)
	case "clean":
		return labClean(ctx, rest)
	case "bench":
		return labBench(ctx, rest)
	case "report":
		return labReport(rest)
	case "splice":
		return labSplice(ctx, rest)
	case "fileserver":
		return labFileServer(ctx, rest)
	case "udpsource":
		return labUDPSource(ctx, rest)
	case "udpsink":
		return labUDPSink(ctx, rest)
	}
	fmt.Fprintf(os.Stderr, "aqueduct lab: unknown subcommand %q\n\n", sub)
	labUsage(os.Stderr)
	return errUsage
}

func labUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: aqueduct lab SUBCOMMAND [flags]

A WAN testbed on one Linux machine: hosts are network namespaces, links are
TUN pairs joined by an emulator in this process (delay, jitter, rate with a
drop-tail queue, random and bursty loss). Experiments are YAML files (see
examples/lab and docs/lab.md). Needs root and /dev/net/tun.

Subcommands:
  run FILE...    set up, run, measure and tear down experiments; write
                 results.md, results.json and plot.svg per experiment
  check FILE...  validate experiment files (no root needed)
  clean          remove what a crashed lab left behind (namespaces, devices
                 and work directories named aql-*), and nothing else; what
                 a running lab holds stays unless --force
  bench          measure the forwarder: maximum packet rate and CPU per Mbit/s
  report DIR...  re-render results.md and plot.svg from a results folder's
                 results.json

Helpers that experiments run inside the testbed:
  splice         a plain TCP splitting relay (the proxy baseline)
  fileserver     a minimal HTTP file server, only to validate the testbed
  udpsource, udpsink
                 traffic for "bench"

Run "aqueduct lab SUBCOMMAND --help" for a subcommand's flags.
`)
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// labFlagSet returns a flag set whose errors become errUsage.
func labFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("aqueduct lab "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: aqueduct lab %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func labUsageErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

// labList collects a repeatable or comma-separated flag.
type labList []string

func (l *labList) String() string { return strings.Join(*l, ",") }
func (l *labList) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// labNames collects a repeatable flag whose values are names that may
// hold commas ("Aqueduct, kernel CC").
type labNames []string

func (l *labNames) String() string { return strings.Join(*l, "; ") }
func (l *labNames) Set(v string) error {
	if v = strings.TrimSpace(v); v != "" {
		*l = append(*l, v)
	}
	return nil
}

// labVars collects NAME=VALUE pairs.
type labVars map[string]string

func (v labVars) String() string { return "" }
func (v labVars) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	v[name] = value
	return nil
}

func labLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func labRun(ctx context.Context, args []string) error {
	fs := labFlagSet("run", "run [flags] FILE...")
	quick := fs.Bool("quick", false, "quick mode: apply each experiment's quick overrides (small sizes, one repetition), as CI does")
	out := fs.String("out", "lab-results", "results folder; each experiment writes to OUT/NAME")
	repeat := fs.Int("repeat", 0, "repetitions per case, overriding the file (0: the file's)")
	var cases labNames
	var ccs labList
	fs.Var(&cases, "case", "run only this case, named in full as in the file (repeatable)")
	fs.Var(&ccs, "congestion", "congestion controls to run, overriding the file (comma-separated)")
	vars := labVars{}
	fs.Var(vars, "set", "override an experiment variable: NAME=VALUE (repeatable)")
	seed := fs.Uint64("seed", 0, "seed for the links' random loss and jitter (0: the file's, or random)")
	keep := fs.Bool("keep", false, "keep the work directory (content, downloads) for inspection")
	capture := fs.Bool("pcap", false, "capture packet headers of every link direction to OUT/NAME/pcap (best with one --case and --repeat 1)")
	bin := fs.String("aqueduct", "", "aqueduct binary that experiments run (default: this one)")
	verbose := fs.Bool("v", false, "log every setup step")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return labUsageErr(err)
	}
	if len(files) == 0 {
		fmt.Fprintln(fs.Output(), "aqueduct lab run: no experiment file given")
		fs.Usage()
		return errUsage
	}
	var exps []*lab.Experiment
	for _, f := range files {
		e, err := lab.LoadExperiment(f)
		if err != nil {
			return err
		}
		exps = append(exps, e)
	}
	log := labLogger(*verbose)
	var failed []string
	for _, e := range exps {
		if ctx.Err() != nil {
			break
		}
		dir := filepath.Join(*out, e.Name)
		res, err := lab.Run(ctx, e, lab.RunOptions{
			Quick: *quick, Out: dir, Aqueduct: *bin, Cases: cases, Congestion: ccs, Repeat: *repeat,
			Vars: vars, Seed: *seed, Keep: *keep, Capture: *capture, Logger: log,
		})
		if res != nil {
			printSummary(os.Stdout, res, dir)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		for _, s := range res.Summaries {
			if s.OK < s.Runs {
				failed = append(failed, fmt.Sprintf("%s: %s/%s (%d of %d runs failed)", e.Name, s.Congestion, s.Case, s.Runs-s.OK, s.Runs))
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed runs:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

func printSummary(w io.Writer, res *lab.Results, dir string) {
	fmt.Fprintf(w, "\n%s — results in %s\n", res.Title, dir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "congestion\tcase\truns ok\tmean Mbit/s\tmin\tmax")
	for _, s := range res.Summaries {
		switch {
		case s.Runs == 0:
			fmt.Fprintf(tw, "%s\t%s\t0/0\tnot run\t\t\n", s.Congestion, s.Case)
			continue
		case s.OK == 0:
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\tfailed\t\t\n", s.Congestion, s.Case, s.OK, s.Runs)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.2f\t%.2f\t%.2f\n", s.Congestion, s.Case, s.OK, s.Runs, s.MeanMbps, s.MinMbps, s.MaxMbps)
	}
	tw.Flush()
}

func labCheck(args []string) error {
	fs := labFlagSet("check", "check FILE...")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return labUsageErr(err)
	}
	if len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	var errs []error
	for _, f := range files {
		e, err := lab.LoadExperiment(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Printf("%s: %s: %d hosts, %d links, %d cases × %v × %d runs\n", f, e.Name, len(e.Hosts), len(e.Links), len(e.Cases), e.Congestion, e.Repeat)
	}
	return errors.Join(errs...)
}

func labReport(args []string) error {
	fs := labFlagSet("report", "report DIR...")
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return labUsageErr(err)
	}
	if len(dirs) == 0 {
		fs.Usage()
		return errUsage
	}
	for _, d := range dirs {
		r, err := lab.LoadResults(filepath.Join(d, "results.json"))
		if err != nil {
			return err
		}
		if err := r.Render(d); err != nil {
			return err
		}
		fmt.Printf("%s: rendered results.md and plot.svg\n", d)
	}
	return nil
}

func labClean(ctx context.Context, args []string) error {
	fs := labFlagSet("clean", "clean [--prefix PREFIX] [--force]")
	prefix := fs.String("prefix", lab.Prefix, "remove only what is named PREFIX* (must start with "+lab.Prefix+")")
	force := fs.Bool("force", false, "also remove what a running lab still holds")
	if _, err := parseInterleaved(fs, args); err != nil {
		return labUsageErr(err)
	}
	c, err := lab.Clean(ctx, *prefix, *force)
	switch {
	case c.Empty() && len(c.InUse) == 0 && err == nil:
		fmt.Println("nothing to clean")
	case !c.Empty() || len(c.InUse) > 0:
		fmt.Printf("removed %s\n", c)
	}
	return err
}

func labBench(ctx context.Context, args []string) error {
	fs := labFlagSet("bench", "bench [--duration D] [--rates 50,100,200] [--json]")
	d := fs.Duration("duration", 4*time.Second, "length of each measurement")
	var rates labList
	fs.Var(&rates, "rates", "paced loads in Mbit/s for the CPU cost (default 50,100,200)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterleaved(fs, args); err != nil {
		return labUsageErr(err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg := lab.BenchConfig{Exe: exe, Args: []string{"lab"}, Duration: *d, Logger: labLogger(false)}
	for _, r := range rates {
		var v float64
		if _, err := fmt.Sscan(r, &v); err != nil || v <= 0 {
			return fmt.Errorf("--rates: %q is not a positive number", r)
		}
		cfg.Rates = append(cfg.Rates, v)
	}
	points, err := lab.Bench(ctx, cfg)
	if *asJSON {
		b, _ := json.MarshalIndent(points, "", "  ")
		fmt.Println(string(b))
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "load\tin pkt/s\tdelivered pkt/s\tdelivered Mbit/s\tforwarder CPU (cores)\tCPU µs/pkt\t% core per Mbit/s\tTUN tx drops\tmax lateness")
	for _, p := range points {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.1f\t%.2f\t%.2f\t%.4f\t%d\t%s\n", p.Label, p.InPPS, p.DeliveredPPS, p.DeliveredMbps,
			p.CPU, p.MicrosPerPk, p.CPUPerMbps, p.TxDropped, p.MaxLate)
	}
	tw.Flush()
	return err
}

func labSplice(ctx context.Context, args []string) error {
	fs := labFlagSet("splice", "splice --listen ADDR --to HOST:PORT")
	listen := fs.String("listen", ":8080", "address to accept connections on")
	to := fs.String("to", "", "address to relay each connection to")
	maxConns := fs.Int("max-conns", 256, "most connections at once")
	if _, err := parseInterleaved(fs, args); err != nil {
		return labUsageErr(err)
	}
	if *to == "" {
		fs.Usage()
		return errUsage
	}
	return lab.Splice(ctx, lab.SpliceConfig{Listen: *listen, To: *to, MaxConns: *maxConns, Logger: labLogger(false)})
}

func labFileServer(ctx context.Context, args []string) error {
	fs := labFlagSet("fileserver", "fileserver --root DIR [--listen ADDR]")
	root := fs.String("root", "", "directory to serve")
	listen := fs.String("listen", ":8080", "address to listen on")
	if _, err := parseInterleaved(fs, args); err != nil {
		return labUsageErr(err)
	}
	if *root == "" {
		fs.Usage()
		return errUsage
	}
	return lab.ServeFiles(ctx, *root, *listen, labLogger(false))
}

func labUDPSource(ctx context.Context, args []string) error {
	fs := labFlagSet("udpsource", "udpsource --to HOST:PORT [--size BYTES] [--mbps N] [--for D]")
	to := fs.String("to", "", "destination")
	size := fs.Int("size", 1500, "IP packet size in bytes")
	mbps := fs.Float64("mbps", 0, "rate in Mbit/s (0: as fast as possible)")
	d := fs.Duration("for", 4*time.Second, "how long to send")
	if _, err := parseInterleaved(fs, args); err != nil {
		return labUsageErr(err)
	}
	return lab.UDPSource(ctx, *to, *size, *mbps, *d)
}

func labUDPSink(ctx context.Context, args []string) error {
	fs := labFlagSet("udpsink", "udpsink --listen ADDR [--idle D] [--max D]")
	listen := fs.String("listen", ":9", "address to receive on")
	idle := fs.Duration("idle", time.Second, "stop after this long without a packet")
	maxD := fs.Duration("max", time.Minute, "stop after this long in any case")
	if _, err := parseInterleaved(fs, args); err != nil {
		return labUsageErr(err)
	}
	return lab.UDPSink(ctx, *listen, *idle, *maxD, bufio.NewWriter(os.Stdout))
}
