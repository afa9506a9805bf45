package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/demo"
	"github.com/aqueduct-cdn/aqueduct/internal/randfile"
	"github.com/aqueduct-cdn/aqueduct/peer"
)

// Set by TestMain.
var (
	aqueductBin  string // the binary under test
	keyFile      string // the cluster key of every test cluster
	otherKeyFile string // a different key, for the refusal tests
	workDir      string // scratch directory removed when the tests end
)

// Timeouts. Loopback is fast, so these are generous upper bounds meant to
// turn a hang into a failure, not to measure anything.
const (
	startTimeout    = 15 * time.Second // a role logs that it listens
	stopGrace       = 3 * time.Second  // SIGTERM before SIGKILL at cleanup
	transferTimeout = 90 * time.Second // one large download
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "aqueduct-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	workDir = dir
	if err := setup(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setup:", err)
		return 1
	}
	return m.Run()
}

// setup builds the binary and makes two cluster keys with it.
func setup(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	aqueductBin = filepath.Join(dir, "aqueduct")
	build := exec.CommandContext(ctx, "go", "build", "-o", aqueductBin, "./cmd/aqueduct")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/aqueduct: %w\n%s", err, out)
	}
	keyFile = filepath.Join(dir, "cluster.key")
	otherKeyFile = filepath.Join(dir, "other.key")
	for _, f := range []string{keyFile, otherKeyFile} {
		cmd := exec.CommandContext(ctx, aqueductBin, "keygen")
		cmd.Env = childEnv()
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("aqueduct keygen: %w", err)
		}
		if err := os.WriteFile(f, out, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// moduleRoot finds the directory of go.mod from the package directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// childEnv is the environment of every subprocess: ours without AQUEDUCT_*
// variables (the cluster key and configuration keys: each test says what a
// node gets) and without proxies (curl, aria2c and ffprobe honour them, and
// all traffic must stay on loopback).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AQUEDUCT_") || strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func loadKey(t testing.TB, file string) peer.Key {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k, err := peer.ParseKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// needTool fails the test if a command-line tool is missing: CI installs
// them (.ci/run), so a missing one is a broken environment, not a reason to
// skip.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH (install the Debian package %q; .ci/run does): %v", name, pkg, err)
	}
	return p
}

// ---- Content ----

// Content is the shared content directory every test origin serves. It is
// written once, on first use, and only read afterwards.
type Content struct {
	Root    string
	Outside string            // a directory beside Root, reached only through a symlink
	Sums    map[string]string // SHA-256 (hex) of each generated file, by path relative to Root
	Sizes   map[string]int64
}

// Generated objects: relative path, size and generator seed. Sizes that are
// not multiples of the 256 KiB block size end in a short block.
var generated = []struct {
	path string
	size int64
	seed uint64
}{
	{"large.bin", 256 << 20, 1},
	{"ranges.bin", 3<<20 + 12345, 2},
	{"mix/a.bin", 16<<20 + 1, 3},
	{"mix/b.bin", 4 << 20, 4},
	{"mix/c.bin", 1<<20 + 777, 5},
	{"corrupt.bin", 32 << 20, 6},
}

// Markers written into fixture files that hostile paths try to reach; a
// response body containing one means a path check failed.
const (
	markerInside  = "E2E-MARKER-inside-etc-passwd"
	markerGit     = "E2E-MARKER-dot-git-config"
	markerWin     = "E2E-MARKER-windows-win-ini"
	markerB       = "E2E-MARKER-file-b"
	markerOutside = "E2E-MARKER-outside-the-root"
)

var sharedContent = sync.OnceValues(func() (*Content, error) {
	c := &Content{
		Root:    filepath.Join(workDir, "content"),
		Outside: filepath.Join(workDir, "outside"),
		Sums:    map[string]string{},
		Sizes:   map[string]int64{},
	}
	for _, g := range generated {
		sum, err := writeRandom(filepath.Join(c.Root, filepath.FromSlash(g.path)), g.size, g.seed)
		if err != nil {
			return nil, err
		}
		c.Sums[g.path], c.Sizes[g.path] = sum, g.size
	}
	if err := demo.WriteSample(c.Root); err != nil {
		return nil, err
	}
	files := map[string]string{
		"etc/passwd":         markerInside + "\n",
		".git/config":        markerGit + "\n",
		"C:/Windows/win.ini": markerWin + "\n",
		"b":                  markerB + "\n",
		"a/inside.txt":       "a\n",
	}
	for p, s := range files {
		if err := writeFile(filepath.Join(c.Root, filepath.FromSlash(p)), s); err != nil {
			return nil, err
		}
	}
	if err := writeFile(filepath.Join(c.Outside, "secret.txt"), markerOutside+"\n"); err != nil {
		return nil, err
	}
	for link, target := range map[string]string{
		"link-passwd":  "/etc/passwd",
		"link-outside": c.Outside,
		"link-secret":  filepath.Join(c.Outside, "secret.txt"),
	} {
		if err := os.Symlink(target, filepath.Join(c.Root, link)); err != nil {
			return nil, err
		}
	}
	return c, nil
})

func content(t testing.TB) *Content {
	t.Helper()
	c, err := sharedContent()
	if err != nil {
		t.Fatalf("preparing content: %v", err)
	}
	return c
}

// read returns a content file's bytes (use it for the small ones).
func (c *Content) read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(path, s string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// writeRandom writes size deterministic pseudo-random bytes (ChaCha8 from
// seed) to path and returns their SHA-256 in hex.
func writeRandom(path string, size int64, seed uint64) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "aqueduct-e2e")
	sum, err := randfile.Write(path, s, size)
	return hex.EncodeToString(sum[:]), err
}

// ---- Subprocesses ----

// lineLog collects a process's output line by line and lets tests wait
// for a line.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced when a line arrives
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = append(l.partial[:0], l.partial[i+1:]...)
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// flush ends the last line if the process did not.
func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.lines = append(l.lines, string(l.partial))
		l.partial = nil
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func (l *lineLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *lineLog) String() string { return strings.Join(l.Lines(), "\n") }

// matching returns the lines for which match is true.
func (l *lineLog) matching(match func(string) bool) []string {
	var out []string
	for _, s := range l.Lines() {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (l *lineLog) tail(n int) string {
	ls := l.Lines()
	if len(ls) > n {
		ls = append([]string{fmt.Sprintf("[... %d lines before]", len(ls)-n)}, ls[len(ls)-n:]...)
	}
	return strings.Join(ls, "\n")
}

// waitFor waits up to timeout for a line for which match is true, and
// returns it. It gives up early when stop closes (the process exited) and
// no line matches.
func (l *lineLog) waitFor(timeout time.Duration, stop <-chan struct{}, match func(string) bool) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		l.mu.Lock()
		lines, changed := l.lines[seen:], l.changed
		seen = len(l.lines)
		l.mu.Unlock()
		for _, s := range lines {
			if match(s) {
				return s, true
			}
		}
		select {
		case <-changed:
		case <-stop:
			l.flush()
			for _, s := range l.Lines()[seen:] {
				if match(s) {
					return s, true
				}
			}
			return "", false
		case <-deadline.C:
			return "", false
		}
	}
}

// hasMsg matches slog text lines whose msg is msg.
func hasMsg(msg string) func(string) bool {
	return func(s string) bool { return logAttrs(s)["msg"] == msg }
}

// logAttrs parses a slog text line (key=value pairs, values quoted when
// they need it) into a map.
func logAttrs(line string) map[string]string {
	m := map[string]string{}
	s := line
	for {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return m
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			i := 1
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				val, s = s, ""
			} else {
				q := s[:i+1]
				s = s[i+1:]
				if u, err := strconv.Unquote(q); err == nil {
					val = u
				} else {
					val = q
				}
			}
		} else if sp := strings.IndexByte(s, ' '); sp >= 0 {
			val, s = s[:sp], s[sp:]
		} else {
			val, s = s, ""
		}
		m[key] = val
	}
}

// proc is a running aqueduct subprocess.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *lineLog
	stderr *lineLog // the slog records
	exited chan struct{}
	err    error // what Wait returned; read it after exited is closed

	httpAddr, peerAddr, adminAddr string // from the "listening" record
}

// startProc runs the binary with args. The process is stopped (SIGTERM,
// then SIGKILL) when the test ends, and its log is shown if the test
// failed.
func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, nil, args...)
}

// startProcEnv is startProc with extra environment variables (KEY=VALUE).
func startProcEnv(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: newLineLog(), stderr: newLineLog(), exited: make(chan struct{})}
	p.cmd = exec.Command(aqueductBin, args...)
	p.cmd.Env = append(childEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.stdout.flush()
		p.stderr.flush()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.stop(stopGrace); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("--- %s (pid %d) log, last lines:\n%s", name, p.cmd.Process.Pid, p.stderr.tail(40))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, and SIGKILL if the process has not exited after
// grace.
func (p *proc) stop(grace time.Duration) error {
	if !p.running() {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	return p.kill()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() error {
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) still running 10 s after SIGKILL", p.name, p.pid())
	}
}

// waitLog waits for a log line matching match.
func (p *proc) waitLog(t testing.TB, timeout time.Duration, what string, match func(string) bool) string {
	t.Helper()
	s, ok := p.stderr.waitFor(timeout, p.exited, match)
	if !ok {
		state := "still running"
		if !p.running() {
			state = fmt.Sprintf("exited: %v", p.err)
		}
		t.Fatalf("%s: no %s within %v (%s); log:\n%s", p.name, what, timeout, state, p.stderr.tail(40))
	}
	return s
}

// listening waits for the role's "listening" record and returns its
// attributes.
func (p *proc) listening(t testing.TB, msg string) map[string]string {
	t.Helper()
	return logAttrs(p.waitLog(t, startTimeout, fmt.Sprintf("%q record", msg), hasMsg(msg)))
}

// startOrigin runs an origin over root with the cluster key; extra flags
// come last and so override the defaults.
func startOrigin(t testing.TB, root string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"origin", "--root", root, "--http", "127.0.0.1:0", "--peer", "127.0.0.1:0",
		"--admin", "127.0.0.1:0", "--key-file", keyFile, "--name", "origin"}, extra...)
	p := startProc(t, "origin", args...)
	a := p.listening(t, "origin listening")
	p.httpAddr, p.peerAddr, p.adminAddr = a["http"], a["peer"], a["admin"]
	if p.httpAddr == "" || p.peerAddr == "" {
		t.Fatalf("origin: no http or peer address in its listening record: %v", a)
	}
	return p
}

// startRelay runs a relay with a cache in the test's temporary directory.
func startRelay(t testing.TB, name string, upstreams []string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"relay", "--upstream", strings.Join(upstreams, ","), "--peer", "127.0.0.1:0",
		"--admin", "127.0.0.1:0", "--cache-dir", t.TempDir(), "--key-file", keyFile, "--name", name}, extra...)
	p := startProc(t, name, args...)
	a := p.listening(t, "relay listening")
	p.peerAddr, p.adminAddr = a["peer"], a["admin"]
	if p.peerAddr == "" {
		t.Fatalf("%s: no peer address in its listening record", name)
	}
	return p
}

// startEdge runs an edge with 8 connections over upstreams.
func startEdge(t testing.TB, name string, upstreams []string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"edge", "--upstream", strings.Join(upstreams, ","), "--http", "127.0.0.1:0",
		"--admin", "127.0.0.1:0", "--conns", "8", "--key-file", keyFile, "--name", name}, extra...)
	p := startProc(t, name, args...)
	a := p.listening(t, "edge listening")
	p.httpAddr, p.adminAddr = a["http"], a["admin"]
	if p.httpAddr == "" {
		t.Fatalf("%s: no http address in its listening record", name)
	}
	return p
}

// cluster is an origin over the shared content, two relays fetching from
// it and an edge with 8 connections over both relays.
type cluster struct {
	content *Content
	origin  *proc
	relays  []*proc
	edge    *proc
}

func startCluster(t testing.TB, edgeExtra ...string) *cluster {
	t.Helper()
	c := &cluster{content: content(t)}
	c.origin = startOrigin(t, c.content.Root)
	for i := range 2 {
		c.relays = append(c.relays, startRelay(t, fmt.Sprintf("relay%d", i+1), []string{c.origin.peerAddr}))
	}
	c.edge = startEdge(t, "edge", []string{c.relays[0].peerAddr, c.relays[1].peerAddr}, edgeExtra...)
	return c
}

func (c *cluster) edgeURL(path string) string   { return "http://" + c.edge.httpAddr + path }
func (c *cluster) originURL(path string) string { return "http://" + c.origin.httpAddr + path }

// ---- HTTP ----

// client talks to the origin and the edge: no proxy, no transparent gzip.
var client = &http.Client{Transport: &http.Transport{
	Proxy:                 nil,
	DisableCompression:    true,
	MaxIdleConnsPerHost:   64,
	ResponseHeaderTimeout: 30 * time.Second,
}}

// fetchSum downloads url with GET and returns the status, the body's length
// and its SHA-256 in hex.
func fetchSum(ctx context.Context, url string) (int, int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return resp.StatusCode, n, "", fmt.Errorf("after %d bytes: %w", n, err)
	}
	return resp.StatusCode, n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkDownload fetches url and fails unless it gives 200 and exactly the
// content of the generated file rel.
func checkDownload(t *testing.T, url string, c *Content, rel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	start := time.Now()
	status, n, sum, err := fetchSum(ctx, url)
	d := time.Since(start)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if status != http.StatusOK || n != c.Sizes[rel] || sum != c.Sums[rel] {
		t.Fatalf("GET %s: status %d, %d bytes, sha256 %s; want 200, %d bytes, sha256 %s",
			url, status, n, sum, c.Sizes[rel], c.Sums[rel])
	}
	t.Logf("GET %s: %d bytes in %v (%.0f MB/s), sha256 matches", url, n, d.Round(time.Millisecond), float64(n)/d.Seconds()/1e6)
}
