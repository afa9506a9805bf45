package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netnsDir is where "ip netns" keeps named namespaces.
const netnsDir = "/run/netns"

func nsPath(name string) string { return filepath.Join(netnsDir, name) }

// inNS runs fn on an OS thread that has entered the network namespace
// name, and waits for it. Sockets fn creates and processes it starts (from
// that goroutine) belong to the namespace. fn must not rely on other
// goroutines being in the namespace. The thread returns to the runtime
// after switching back; if switching back fails, it is discarded.
func inNS(name string, fn func() error) error {
	target, err := unix.Open(nsPath(name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lab: namespace %s: %w", name, err)
	}
	defer unix.Close(target)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: own namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: enter namespace %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread ends with this goroutine rather than
			// serve others from the wrong namespace.
			errc <- errors.Join(ferr, fmt.Errorf("lab: leave namespace %s: %w", name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// runCmd runs a short command and returns its error with its output.
func runCmd(ctx context.Context, stdin string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	trace("exec", "cmd", name+" "+strings.Join(args, " "), "stdin", stdin, "err", err)
	if err != nil {
		return fmt.Errorf("lab: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ipBatchIn runs ip commands, one per line, in namespace ns.
func ipBatchIn(ctx context.Context, ns, batch string) error {
	return runCmd(ctx, batch, "ip", "-n", ns, "-batch", "-")
}

func addNS(ctx context.Context, name string) error {
	return runCmd(ctx, "", "ip", "netns", "add", name)
}

// listNS returns the names of namespaces in /run/netns that start with
// prefix.
func listNS(prefix string) ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// nsPids returns the processes whose network namespace is name, other than
// this one. (Threads of this process visit namespaces through inNS.)
func nsPids(name string) ([]int, error) {
	var want unix.Stat_t
	if err := unix.Stat(nsPath(name), &want); err != nil {
		return nil, fmt.Errorf("lab: namespace %s: %w", name, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// deleteNS kills every process left in namespace name, then removes it.
func deleteNS(ctx context.Context, name string) error {
	if _, err := os.Stat(nsPath(name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for range 50 { // bounded: 50 rounds of 20 ms
		pids, err := nsPids(name)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return runCmd(ctx, "", "ip", "netns", "delete", name)
}

// writeSysctls sets sysctls (dotted keys) in namespace ns.
func writeSysctls(ns string, kvs OrderedMap[string]) error {
	return inNS(ns, func() error {
		var errs []error
		for _, kv := range kvs {
			p := "/proc/sys/" + strings.ReplaceAll(kv.Key, ".", "/")
			if err := os.WriteFile(p, []byte(kv.Value), 0); err != nil {
				errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", kv.Key, kv.Value, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("lab: namespace %s: %w", ns, err)
		}
		return nil
	})
}

// readSysctl reads a sysctl in the current namespace (ns "") or in ns.
func readSysctl(ns, key string) (string, error) {
	var v string
	read := func() error {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
		v = strings.TrimSpace(string(b))
		return err
	}
	var err error
	if ns == "" {
		err = read()
	} else {
		err = inNS(ns, read)
	}
	if err != nil {
		return "", fmt.Errorf("lab: sysctl %s: %w", key, err)
	}
	return v, nil
}
