package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// ProcSpec describes a process to run inside a host's namespace.
type ProcSpec struct {
	// Command is run by /bin/sh -c.
	Command string
	// Dir is the working directory; empty means the lab's.
	Dir string
	// Env is added to the lab's own environment.
	Env []string
	// Output receives standard output and standard error; nil discards.
	Output io.Writer
	// Ready, if set, makes Proc.Ready close once a line of output matches.
	Ready *regexp.Regexp
}

// Proc is a process started by Testbed.Start. It runs in its own process
// group, so that stopping it stops whatever it started, and it is killed
// if the lab process dies.
type Proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error // set before done closes
	ready    chan struct{}
	stopOnce sync.Once
}

// Start starts spec in host's namespace.
func (tb *Testbed) Start(host string, spec ProcSpec) (*Proc, error) {
	cmd := exec.Command("/bin/sh", "-c", spec.Command)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A grandchild that keeps the output pipe open must not hold up Wait.
	cmd.WaitDelay = 2 * time.Second
	p := &Proc{cmd: cmd, done: make(chan struct{}), ready: make(chan struct{})}
	out := spec.Output
	if out == nil {
		out = io.Discard
	}
	if spec.Ready != nil {
		out = &lineWatcher{w: out, re: spec.Ready, ready: p.ready}
	}
	// The same writer for both: exec calls it from one goroutine at a time.
	cmd.Stdout, cmd.Stderr = out, out
	trace("start", "host", host, "cmd", spec.Command)
	if err := tb.Do(host, cmd.Start); err != nil {
		return nil, fmt.Errorf("lab: start on %s: %w", host, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process ID, which is also its process group ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Ready is closed when a line of output has matched ProcSpec.Ready.
func (p *Proc) Ready() <-chan struct{} { return p.ready }

// Err returns how the process exited; call it after Done is closed.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("lab: process still running")
	}
}

// Wait waits for the process to exit, or for ctx.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the process to exit. Whatever the group still holds after the
// leader exits is killed too. Stop is idempotent.
func (p *Proc) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// lineWatcher passes output through and closes ready at the first line
// that matches re. It buffers at most one line of maxLine bytes.
type lineWatcher struct {
	w       io.Writer
	re      *regexp.Regexp
	ready   chan struct{}
	matched bool
	line    []byte
}

const maxLine = 64 << 10

func (l *lineWatcher) Write(b []byte) (int, error) {
	if !l.matched {
		rest := b
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if len(l.line)+len(rest) <= maxLine {
					l.line = append(l.line, rest...)
				}
				break
			}
			if len(l.line)+i <= maxLine {
				l.line = append(l.line, rest[:i]...)
			}
			if l.re.Match(l.line) {
				l.matched = true
				close(l.ready)
				l.line = nil
				break
			}
			l.line = l.line[:0]
			rest = rest[i+1:]
		}
	}
	return l.w.Write(b)
}
