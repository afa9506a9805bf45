package lab_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
	"github.com/aqueduct-cdn/aqueduct/internal/lab/labtest"
	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// The leak tests run TestLeakHelper in a child process that builds a
// testbed and then panics, fails, or is killed, and check what the child
// leaves behind.

const leakModeEnv, leakIDEnv = "AQL_LEAK_MODE", "AQL_LEAK_ID"

// TestLeakHelper is not a test on its own: it does what the parent test
// asks for in AQL_LEAK_MODE.
func TestLeakHelper(t *testing.T) {
	mode, id := os.Getenv(leakModeEnv), os.Getenv(leakIDEnv)
	if mode == "" {
		t.Skip("helper for the leak tests")
	}
	c := linkem.Config{Delay: time.Millisecond}
	tb := build(t, lab.TestbedConfig{Topology: twoHosts(c, c), ID: id})
	p, err := tb.Start("b", lab.ProcSpec{Command: "sleep 300"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	switch mode {
	case "panic":
		panic("helper panics with a testbed up")
	case "fail":
		t.Fatal("helper fails with a testbed up")
	case "kill":
		os.Stdout.WriteString("READY " + strconv.Itoa(p.Pid()) + "\n")
		time.Sleep(time.Minute) // until the parent kills us
	}
}

func runLeakHelper(t *testing.T, mode, id string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeakHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), leakModeEnv+"="+mode, leakIDEnv+"="+id)
	return cmd
}

func TestLeak_panicOrFailureLeavesNothing(t *testing.T) {
	labtest.RequireRoot(t)
	for _, mode := range []string{"panic", "fail"} {
		t.Run(mode, func(t *testing.T) {
			id := labtest.ID(t) // fails the test if anything is left behind
			out, err := runLeakHelper(t, mode, id).CombinedOutput()
			if err == nil {
				t.Fatalf("helper succeeded; want it to %s:\n%s", mode, out)
			}
			if !strings.Contains(string(out), "helper "+map[string]string{"panic": "panics", "fail": "fails"}[mode]) {
				t.Fatalf("helper did not reach the %s:\n%s", mode, out)
			}
		})
	}
}

func TestLeak_cleanAfterKill(t *testing.T) {
	labtest.RequireRoot(t)
	id := labtest.ID(t)
	prefix := lab.Prefix + id
	cmd := runLeakHelper(t, "kill", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var sleeper int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "READY" {
			sleeper, _ = strconv.Atoi(f[1])
			break
		}
	}
	if sleeper == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper never became ready")
	}
	cmd.Process.Kill() // no deferred function, no cleanup runs
	cmd.Wait()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	left, err := lab.Leftovers(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Namespaces) != 2 {
		t.Errorf("after a kill: %v; want the 2 namespaces left", left)
	}
	// The TUN devices went with the dead process's descriptors.
	for _, ns := range left.Namespaces {
		out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-o", "link", "show").CombinedOutput()
		if err != nil {
			t.Fatalf("ip -n %s link: %v: %s", ns, err, out)
		}
		if strings.Contains(string(out), lab.Prefix) {
			t.Errorf("namespace %s still has a TUN device after the kill:\n%s", ns, out)
		}
	}
	cleaned, err := lab.Clean(ctx, prefix, false)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	t.Logf("cleaned %v", cleaned)
	if len(cleaned.Namespaces) != 2 {
		t.Errorf("Clean removed %v, want the 2 namespaces", cleaned)
	}
	// The process left inside a namespace is gone too (Pdeathsig killed it
	// with the helper already; Clean kills whatever remains).
	if err := syscall.Kill(sleeper, 0); err == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(sleeper) + "/cmdline"); strings.Contains(string(b), "sleep") {
			t.Errorf("process %d in the namespace survived", sleeper)
		}
	}
}

func TestClean_touchesOnlyItsPrefix(t *testing.T) {
	labtest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := lab.Clean(ctx, "other-", false); err == nil {
		t.Error("Clean with a foreign prefix succeeded")
	}
	// A namespace that merely resembles ours is not a lab leftover, even
	// for the widest clean ("aqueduct lab clean", prefix "aql-"), which this
	// test only lists so as not to disturb a lab running beside it.
	other := "aqlx" + strconv.Itoa(os.Getpid())
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", other).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "delete", other).Run()
	left, err := lab.Leftovers(ctx, lab.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range left.Namespaces {
		if ns == other {
			t.Errorf("%s counted as a lab leftover", other)
		}
	}
	// A running testbed is in use: Clean leaves it alone.
	id := labtest.ID(t)
	c := linkem.Config{Delay: time.Millisecond}
	tb := build(t, lab.TestbedConfig{Topology: twoHosts(c, c), ID: id})
	cleaned, err := lab.Clean(ctx, lab.Prefix+id, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(cleaned.Namespaces) != 0 || len(cleaned.InUse) != 2 {
		t.Errorf("Clean of a running testbed: %v", cleaned)
	}
	if _, err := tb.Addr("a", "b"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a", "b"} {
		if _, err := os.Stat("/run/netns/" + tb.NS(h)); err != nil {
			t.Errorf("running testbed's namespace %s removed: %v", h, err)
		}
	}
	if _, err := os.Stat("/run/netns/" + other); err != nil {
		t.Errorf("Clean removed %s: %v", other, err)
	}
}
