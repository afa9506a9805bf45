package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Grace periods.
const (
	stopGrace    = 5 * time.Second
	setupTimeout = 2 * time.Minute
	maxLogBytes  = 8 << 20
)

// Run builds the experiment's testbed, runs every case the given number of
// times under every congestion control, and writes results.json,
// results.md and plot.svg to the results folder, rewriting them after each
// run so that an interrupted experiment keeps what it measured. A failing
// run is recorded and the experiment goes on. The testbed is removed
// however Run ends; if ctx is cancelled Run stops the current run, writes
// the results so far, and returns ctx's error. Before anything else, Run
// checks that every program the experiment's commands run is installed
// (Experiment.Tools), and returns a MissingToolError for each one that is
// not.
func Run(ctx context.Context, e *Experiment, opt RunOptions) (*Results, error) {
	log := discardLogger(opt.Logger)
	e, err := prepare(e, opt)
	if err != nil {
		return nil, err
	}
	if err := checkTools(e, exec.LookPath); err != nil {
		return nil, err
	}
	if err := Preflight(); err != nil {
		return nil, err
	}
	out := opt.Out
	if out == "" {
		out = filepath.Join("lab-results", e.Name)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	_ = os.RemoveAll(filepath.Join(out, "logs"))
	bin := opt.Aqueduct
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}

	id := opt.ID
	if id == "" {
		id = randomID()
	}
	dir, err := os.MkdirTemp("", Prefix+id+"-"+e.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if !opt.Keep {
		defer os.RemoveAll(dir)
	}
	contentDir := filepath.Join(dir, "content")
	if err := os.MkdirAll(contentDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	sums := map[string][32]byte{}
	for _, kv := range e.Content {
		log.Info("lab: writing content", "file", kv.Key, "size", kv.Value.String())
		sum, err := writeContent(filepath.Join(contentDir, kv.Key), kv.Key, int64(kv.Value))
		if err != nil {
			return nil, err
		}
		sums[kv.Key] = sum
	}

	top, err := e.Topology()
	if err != nil {
		return nil, err
	}
	seed := opt.Seed
	if seed == 0 {
		seed = e.Seed
	}
	tbc := TestbedConfig{Topology: top, ID: id, Congestion: e.Congestion[0], Seed: seed, Logger: log}
	if opt.Capture {
		tbc.CaptureDir = filepath.Join(out, "pcap")
	}
	tb, err := Build(ctx, tbc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := tb.Close(); err != nil {
			log.Error("lab: teardown", "err", err)
		}
	}()
	log.Info("lab: testbed up", "id", tb.ID(), "hosts", len(top.Hosts), "links", len(top.Links), "seed", tb.Seed(), "workdir", dir)

	size, _ := e.Content.Get(e.Measure.File)
	res := &Results{
		Experiment: e.Name, Title: e.Title, Description: e.Description, Notes: e.Notes, Quick: opt.Quick,
		Started: time.Now(), Machine: machine(), Seed: tb.Seed(),
		File: e.Measure.File, FileBytes: int64(size), Repeat: e.Repeat, Timeout: e.Timeout.String(),
		Congestion: e.Congestion, Baseline: e.Compare.Baseline,
	}
	for _, c := range e.Cases {
		res.Cases = append(res.Cases, c.Name)
		if len(c.Model) > 1 && res.Model == nil {
			res.Model = &ModelInfo{MSS: ModelMSS, Assumptions: modelAssumptions}
		}
	}
	for _, l := range top.Links {
		info := LinkInfo{A: l.A, B: l.B, Forward: l.AB.String(), Reverse: l.BA.String()}
		for _, c := range l.Changes {
			info.Changes = append(info.Changes, LinkChangeInfo{At: c.At.String(), Forward: c.AB.String(), Reverse: c.BA.String()})
		}
		res.Links = append(res.Links, info)
	}
	r := &runner{
		e: e, tb: tb, log: log, out: out, res: res, sums: sums,
		env: cmdEnv{exp: e, plan: tb.plan, Aqueduct: bin, Dir: dir, Content: contentDir, Size: int64(size), File: e.Measure.File},
	}
	total, done := len(e.Congestion)*e.Repeat*len(e.Cases), 0
	var runErr error
loop:
	for _, cc := range e.Congestion {
		if err := tb.SetCongestion(ctx, cc); err != nil {
			runErr = err
			break
		}
		for rep := 1; rep <= e.Repeat; rep++ {
			for _, c := range e.Cases {
				if err := ctx.Err(); err != nil {
					runErr = err
					break loop
				}
				done++
				log.Info("lab: run", "n", fmt.Sprintf("%d/%d", done, total), "congestion", cc, "case", c.Name, "rep", rep)
				rr := r.run(ctx, cc, c, rep)
				if ctx.Err() != nil && !rr.OK {
					runErr = ctx.Err()
					break loop // an interrupted run is not a result
				}
				res.Runs = append(res.Runs, rr)
				if rr.OK {
					log.Info("lab: done", "congestion", cc, "case", c.Name, "rep", rep, "mbps", fmt.Sprintf("%.2f", rr.Mbps),
						"seconds", fmt.Sprintf("%.1f", rr.Seconds), "partial", rr.Partial)
				} else {
					log.Warn("lab: run failed", "congestion", cc, "case", c.Name, "rep", rep, "err", rr.Error)
				}
				if err := tb.Err(); err != nil {
					runErr = fmt.Errorf("lab: emulator failed: %w", err)
					break loop
				}
				res.Finished = time.Now()
				res.summarize(e)
				if err := res.writeFiles(out); err != nil {
					return res, err
				}
			}
		}
	}
	if runErr != nil {
		res.Aborted = runErr.Error()
	}
	res.Finished = time.Now()
	res.summarize(e)
	if err := res.writeFiles(out); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

type runner struct {
	e    *Experiment
	tb   *Testbed
	log  *slog.Logger
	out  string
	res  *Results
	sums map[string][32]byte
	env  cmdEnv
}

// run performs one repetition of one case and never panics on a failing
// command: whatever goes wrong becomes the result's error.
func (r *runner) run(ctx context.Context, cc string, c Case, rep int) (rr RunResult) {
	rr = RunResult{Congestion: cc, Case: c.Name, Rep: rep, Load: [2]float64{loadAvg(), 0}}
	defer func() { rr.Load[1] = loadAvg() }()
	tag := fmt.Sprintf("%s-%s-%d", cc, slug(c.Name), rep)
	scratch := filepath.Join(r.env.Dir, "runs", tag)
	logs := filepath.Join("logs", cc, slug(c.Name), strconv.Itoa(rep))
	rr.Logs = logs
	for _, d := range []string{scratch, filepath.Join(r.out, logs)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			rr.Error = err.Error()
			return rr
		}
	}
	defer os.RemoveAll(scratch) // downloads are large
	env := r.env
	env.Scratch, env.Key = scratch, filepath.Join(scratch, "cluster.key")
	env.Out = filepath.Join(scratch, "out", r.e.Measure.File)
	env.OutDir, env.OutName = filepath.Dir(env.Out), filepath.Base(env.Out)
	env.CC, env.Case, env.Rep = cc, c.Name, rep
	if err := os.MkdirAll(env.OutDir, 0o755); err != nil {
		rr.Error = err.Error()
		return rr
	}
	fail := func(format string, args ...any) RunResult {
		rr.Error = fmt.Sprintf(format, args...)
		return rr
	}

	// MPTCP counters count from here: services open their MPTCP
	// connections, and the kernel their subflows, before the client runs.
	startHosts := r.hostCounters(ctx)

	// One-shot setup commands.
	for i, cmd := range slices.Concat(r.e.Setup, c.Setup) {
		if err := r.oneShot(ctx, &env, cmd, fmt.Sprintf("setup-%d", i+1), logs); err != nil {
			return fail("setup: %v", err)
		}
	}

	// Services, in order, each ready before the next starts.
	var procs []*Proc
	defer func() {
		for _, p := range slices.Backward(procs) {
			p.Stop(stopGrace)
		}
	}()
	for _, s := range c.Services {
		p, err := r.startService(ctx, &env, s, logs)
		if p != nil {
			procs = append(procs, p)
		}
		if err != nil {
			return fail("service %s on %s: %v", s.Name, s.Host, err)
		}
	}

	// The measured client.
	env.Host = c.Client.Host
	cmdline, err := env.render(c.Client.Run)
	if err != nil {
		return fail("client: %v", err)
	}
	logf, err := os.Create(filepath.Join(r.out, logs, "client.log"))
	if err != nil {
		return fail("%v", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "# host %s: %s\n", c.Client.Host, cmdline)
	r.tb.ResetMaxLate()
	before, beforeHosts := r.tb.LinkStats(), r.hostCounters(ctx)
	start := time.Now()
	client, err := r.tb.Start(c.Client.Host, ProcSpec{Command: cmdline, Dir: scratch, Output: &cappedWriter{w: logf, left: maxLogBytes}})
	if err != nil {
		return fail("client: %v", err)
	}
	endChanges := r.changeLinks(start, logs)
	tctx, cancel := context.WithTimeout(ctx, time.Duration(r.e.Timeout))
	werr := client.Wait(tctx)
	cancel()
	elapsed := time.Since(start)
	rr.LinkChanges = endChanges()
	switch {
	case ctx.Err() != nil:
		client.Stop(time.Second)
		return fail("interrupted")
	case werr != nil && errors.Is(werr, context.DeadlineExceeded):
		client.Stop(2 * time.Second)
		rr.Partial = true
		elapsed = time.Duration(r.e.Timeout)
	case werr != nil:
		rr.Seconds = elapsed.Seconds()
		logPath := filepath.Join(logs, "client.log")
		return fail("client exited: %v (see %s)%s", werr, logPath, logTail(filepath.Join(r.out, logPath)))
	}
	rr.Seconds = elapsed.Seconds()
	rr.Links = linkDeltas(before, r.tb.LinkStats())
	afterHosts := r.hostCounters(ctx)
	rr.Hosts = subCounters(afterHosts, beforeHosts)
	for h, c := range rr.Hosts {
		c.MPTCP = subCounts(afterHosts[h].MPTCP, startHosts[h].MPTCP)
		rr.Hosts[h] = c
	}
	for i, p := range procs {
		select {
		case <-p.Done():
			logPath := filepath.Join(logs, c.Services[i].Name+".log")
			return fail("service %s exited during the run: %v (see %s)%s", c.Services[i].Name, p.Err(), logPath, logTail(filepath.Join(r.out, logPath)))
		default:
		}
	}

	// What did the client get?
	st, err := os.Stat(env.Out)
	if err != nil {
		return fail("client wrote no %s: %v", env.Out, err)
	}
	want := r.env.Size
	if rr.Partial {
		// Count the bytes actually written, for clients that write
		// segments into a sparse file.
		rr.Bytes = min(st.Size(), st.Sys().(*syscall.Stat_t).Blocks*512, want)
		rr.Mbps = float64(rr.Bytes) * 8 / elapsed.Seconds() / 1e6
		rr.OK = rr.Bytes > 0
		if !rr.OK {
			rr.Error = "nothing received before the time limit"
		}
		return rr
	}
	if st.Size() != want {
		return fail("client wrote %d bytes, want %d", st.Size(), want)
	}
	if r.e.Measure.Verify == nil || *r.e.Measure.Verify {
		sum, err := fileSHA256(env.Out)
		if err != nil {
			return fail("verify: %v", err)
		}
		if sum != r.sums[r.e.Measure.File] {
			return fail("download differs from %s (SHA-256 mismatch)", r.e.Measure.File)
		}
	}
	rr.Bytes = want
	rr.Mbps = float64(want) * 8 / elapsed.Seconds() / 1e6
	rr.OK = true
	return rr
}

// oneShot runs a setup command to completion.
func (r *runner) oneShot(ctx context.Context, env *cmdEnv, cmd Command, name, logs string) error {
	env.Host = cmd.Host
	line, err := env.render(cmd.Run)
	if err != nil {
		return err
	}
	logPath := filepath.Join(logs, name+".log")
	f, err := os.Create(filepath.Join(r.out, logPath))
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "# host %s: %s\n", cmd.Host, line)
	p, err := r.tb.Start(cmd.Host, ProcSpec{Command: line, Dir: env.Scratch, Output: &cappedWriter{w: f, left: maxLogBytes}})
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := p.Wait(tctx); err != nil {
		p.Stop(time.Second)
		return fmt.Errorf("%q on %s: %w (see %s)%s", line, cmd.Host, err, logPath, logTail(filepath.Join(r.out, logPath)))
	}
	return nil
}

// startService starts a service and waits until it is ready. It returns
// the process, if it started, so that the caller stops it.
func (r *runner) startService(ctx context.Context, env *cmdEnv, s Service, logs string) (*Proc, error) {
	env.Host = s.Host
	line, err := env.render(s.Run)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(logs, s.Name+".log")
	f, err := os.Create(filepath.Join(r.out, logPath))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "# host %s: %s\n", s.Host, line)
	spec := ProcSpec{Command: line, Dir: env.Scratch, Output: &cappedWriter{w: f, left: maxLogBytes}}
	if s.Ready.Log != "" {
		spec.Ready = regexp.MustCompile(s.Ready.Log) // validated
	}
	p, err := r.tb.Start(s.Host, spec)
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() { <-p.Done(); f.Close() }()
	var tcpAddr string
	if s.Ready.TCP != "" {
		if tcpAddr, err = env.render(s.Ready.TCP); err != nil {
			return p, err
		}
		if strings.HasPrefix(tcpAddr, ":") {
			tcpAddr = "127.0.0.1" + tcpAddr
		}
	}
	deadline := time.Now().Add(time.Duration(s.Ready.Timeout))
	for tick := time.NewTicker(100 * time.Millisecond); ; {
		select {
		case <-p.Done():
			tick.Stop()
			return p, fmt.Errorf("exited before it was ready: %v (see %s)%s", p.Err(), logPath, logTail(filepath.Join(r.out, logPath)))
		case <-ctx.Done():
			tick.Stop()
			return p, ctx.Err()
		case <-tick.C:
		}
		ready := true
		if spec.Ready != nil {
			select {
			case <-p.Ready():
			default:
				ready = false
			}
		}
		if ready && tcpAddr != "" {
			dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			c, err := r.tb.Dial(dctx, s.Host, "tcp", tcpAddr)
			cancel()
			if err != nil {
				ready = false
			} else {
				c.Close()
			}
		}
		if ready {
			tick.Stop()
			return p, nil
		}
		if time.Now().After(deadline) {
			tick.Stop()
			return p, fmt.Errorf("not ready after %v (see %s)%s", s.Ready.Timeout, logPath, logTail(filepath.Join(r.out, logPath)))
		}
	}
}

// changeLinks applies the topology's scheduled link changes, each its At
// after start, until the returned function is called. That function stops
// the schedule, restores every link's own configuration, so that each run
// starts from it, and returns a line per change applied ("link a–b: rate
// 100 Mbit/s → 50 Mbit/s at 10.0s"), which also go to the log and to
// LOGS/links.log.
func (r *runner) changeLinks(start time.Time, logs string) (end func() []string) {
	evs := r.tb.Topology().schedule()
	if len(evs) == 0 {
		return func() []string { return nil }
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var lines []string
	go func() {
		defer close(done)
		timer := time.NewTimer(0)
		defer timer.Stop()
		<-timer.C
		for _, ev := range evs {
			timer.Reset(time.Until(start.Add(ev.At)))
			select {
			case <-stop:
				return
			case <-timer.C:
			}
			l := r.tb.Topology().Links[ev.link]
			ab, ba := r.tb.links[ev.link].AB.Config(), r.tb.links[ev.link].BA.Config()
			line := describeChange(l.A, l.B, ab, ba, ev.AB, ev.BA, time.Since(start))
			if err := r.tb.setLink(ev.link, ev.AB, ev.BA); err != nil {
				line = fmt.Sprintf("link %s–%s: change at %v failed: %v", l.A, l.B, ev.At, err) // validated: not expected
			}
			r.log.Info("lab: "+line, "scheduled", ev.At.String())
			lines = append(lines, line)
		}
	}()
	return func() []string {
		close(stop)
		<-done
		for i, l := range r.tb.Topology().Links {
			if len(l.Changes) > 0 {
				if err := r.tb.setLink(i, l.AB, l.BA); err != nil {
					r.log.Error("lab: restore link", "link", l.A+"–"+l.B, "err", err)
				}
			}
		}
		if len(lines) > 0 {
			_ = os.WriteFile(filepath.Join(r.out, logs, "links.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		}
		return lines
	}
}

func (r *runner) hostCounters(ctx context.Context) map[string]HostCounters {
	m := map[string]HostCounters{}
	for _, h := range r.tb.Topology().Hosts {
		if c, err := r.tb.Counters(ctx, h.Name); err == nil {
			m[h.Name] = c
		}
	}
	return m
}

func subCounters(after, before map[string]HostCounters) map[string]HostCounters {
	out := map[string]HostCounters{}
	for h, a := range after {
		b := before[h]
		out[h] = HostCounters{TCPOutSegs: a.TCPOutSegs - b.TCPOutSegs, TCPRetransSegs: a.TCPRetransSegs - b.TCPRetransSegs, TxDropped: a.TxDropped - b.TxDropped}
	}
	return out
}

// subCounts returns the counters that grew from before to after, by how
// much.
func subCounts(after, before map[string]uint64) map[string]uint64 {
	var out map[string]uint64
	for k, a := range after {
		if b := before[k]; a > b {
			if out == nil {
				out = map[string]uint64{}
			}
			out[k] = a - b
		}
	}
	return out
}

func linkDeltas(before, after []LinkStats) []LinkDelta {
	var out []LinkDelta
	for i := range after {
		out = append(out, LinkDelta{Link: after[i].A + "–" + after[i].B, AB: after[i].AB.Sub(before[i].AB), BA: after[i].BA.Sub(before[i].BA)})
	}
	return out
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func machine() Machine {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return Machine{Kernel: unix.ByteSliceToString(u.Release[:]), CPUs: runtime.NumCPU(), Go: runtime.Version()}
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(slugRE.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
