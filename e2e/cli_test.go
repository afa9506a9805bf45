package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

// waitExit waits for a process that should end on its own.
func waitExit(t *testing.T, p *proc, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v; stdout:\n%s\nstderr:\n%s", p.name, timeout, p.stdout.tail(20), p.stderr.tail(20))
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestMissingKeyRefusesToStart runs each keyed role without a key (the
// environment holds none either): it must exit at once, with a failure
// status and a message that names "aqueduct keygen".
func TestMissingKeyRefusesToStart(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"origin", "--root", root, "--http", "127.0.0.1:0", "--peer", "127.0.0.1:0"},
		{"relay", "--upstream", "127.0.0.1:9", "--peer", "127.0.0.1:0", "--cache-dir", filepath.Join(root, "cache")},
		{"edge", "--upstream", "127.0.0.1:9", "--http", "127.0.0.1:0"},
	} {
		t.Run(args[0], func(t *testing.T) {
			p := startProc(t, args[0], args...)
			waitExit(t, p, 10*time.Second)
			if exitCode(p.err) == 0 {
				t.Errorf("exit status 0, want a failure")
			}
			out := p.stderr.String()
			if !strings.Contains(out, "aqueduct keygen") {
				t.Errorf("stderr does not mention \"aqueduct keygen\":\n%s", out)
			}
			if strings.Contains(out, "listening") {
				t.Errorf("started listening without a key:\n%s", out)
			}
		})
	}
}

// commandNames are the subcommands "aqueduct help" lists.
var commandNames = []string{"origin", "relay", "edge", "config", "keygen", "demo", "lab"}

// TestHelpExitsZero runs "aqueduct help" and "aqueduct CMD --help" (and
// -h) for every role and tool: exit status 0 and a usage text.
func TestHelpExitsZero(t *testing.T) {
	for _, cmd := range commandNames {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(cmd+flag, func(t *testing.T) {
				p := startProc(t, cmd, cmd, flag)
				waitExit(t, p, 10*time.Second)
				if c := exitCode(p.err); c != 0 {
					t.Errorf("exit status %d, want 0; stderr:\n%s", c, p.stderr.String())
				}
				out := p.stdout.String() + p.stderr.String()
				if !strings.Contains(out, "Usage: aqueduct "+cmd) {
					t.Errorf("no \"Usage: aqueduct %s\" in the output:\n%s", cmd, out)
				}
			})
		}
	}
	t.Run("help", func(t *testing.T) {
		p := startProc(t, "help", "help")
		waitExit(t, p, 10*time.Second)
		if c := exitCode(p.err); c != 0 {
			t.Errorf("exit status %d, want 0", c)
		}
		out := p.stdout.String() + p.stderr.String()
		for _, cmd := range commandNames {
			if !strings.Contains(out, "  "+cmd+" ") {
				t.Errorf("\"aqueduct help\" does not list %s:\n%s", cmd, out)
			}
		}
	})
}

// TestKeygen checks that keygen prints a key the roles accept, and a new
// one each time.
func TestKeygen(t *testing.T) {
	var keys []string
	for range 2 {
		p := startProc(t, "keygen", "keygen")
		waitExit(t, p, 10*time.Second)
		if c := exitCode(p.err); c != 0 {
			t.Fatalf("exit status %d; stderr:\n%s", c, p.stderr.String())
		}
		s := strings.TrimSpace(p.stdout.String())
		if _, err := peer.ParseKey(s); err != nil {
			t.Fatalf("keygen printed %q: %v", s, err)
		}
		keys = append(keys, s)
	}
	if keys[0] == keys[1] {
		t.Fatal("two keygen runs printed the same key")
	}
}

// TestDemoOnce runs "aqueduct demo --once" with a 16 MiB test file: it
// must fetch the file directly and through the edge, report that both
// digests match, and exit 0.
func TestDemoOnce(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "demo", "demo", "--once", "--large-size", "16MiB", "--dir", dir, "--edge-http", "127.0.0.1:0")
	waitExit(t, p, 60*time.Second)
	out := p.stdout.String()
	if c := exitCode(p.err); c != 0 {
		t.Fatalf("exit status %d; stdout:\n%s\nstderr:\n%s", c, out, p.stderr.String())
	}
	var fetches []string
	for _, l := range p.stdout.Lines() {
		if strings.Contains(l, "sha256") && (strings.Contains(l, "direct from the origin") || strings.Contains(l, "through relays and edge")) {
			fetches = append(fetches, l)
		}
	}
	if len(fetches) != 2 {
		t.Fatalf("want 2 fetch lines, got %d; stdout:\n%s", len(fetches), out)
	}
	for _, l := range fetches {
		if !strings.HasSuffix(strings.TrimSpace(l), "matches") {
			t.Errorf("fetch line does not end in \"matches\": %s", l)
		}
	}
	if strings.Contains(out, "DIFFERS") || strings.Contains(out, "failed") {
		t.Errorf("demo output reports a problem:\n%s", out)
	}
	t.Logf("demo output:\n%s", strings.Join(fetches, "\n"))
}
