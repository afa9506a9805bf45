package linkem

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// End is one end of a link: a non-blocking file descriptor that delivers
// one packet per read and takes one packet per write, such as a TUN device
// from OpenTUN or one end of a SOCK_SEQPACKET socket pair. An *os.File
// qualifies. The descriptor must stay open until Run returns.
type End = syscall.Conn

// Options tunes the driver; the zero value is ready to use.
type Options struct {
	// Name labels log lines and errors, for instance "a–b →".
	Name string
	// Logger receives rare events (the first write error, thread setup
	// failures). Nil discards them.
	Logger *slog.Logger
	// RealTime runs the forwarder's two threads under SCHED_FIFO, so that
	// ordinary processes competing for the CPUs cannot delay packets. It
	// needs CAP_SYS_NICE; without it the threads run normally and a
	// warning is logged.
	RealTime bool
	// Capture, if set, receives every delivered packet's first CaptureSnap
	// bytes in pcap format (see capture.go); Run writes the file header.
	// Packets the writer cannot keep up with are not captured
	// (Stats.CaptureDrops).
	Capture io.Writer
	// LineBytes, if larger than the initial Config needs, is the size of
	// the delay line, so that SetConfig may later raise the rate, the delay
	// or the queue: SetConfig refuses a Config whose delay line would not
	// fit (Config.LineBytes). Zero sizes it for the initial Config.
	LineBytes int
}

// RealTimePriority is the SCHED_FIFO priority of forwarder threads with
// Options.RealTime: low among real-time threads, above every ordinary one.
const RealTimePriority = 10

// maxSleep bounds a forwarder thread's sleep while a packet waits, and
// maxIdle its wait for packets. Go's runtime takes the processor (P) away
// from a thread whose system call lasts over 10 ms, and the thread must
// then get one back through the scheduler, whose other threads a busy
// machine may stall: a forwarder thread that never blocks that long keeps
// its P. They also bound how long cancellation takes. Each idle thread
// wakes about 110 times a second.
const (
	maxSleep = 5 * time.Millisecond
	maxIdle  = 9 * time.Millisecond
)

// Forwarder runs one direction of a link: it reads packets from one end,
// decides their fate with a Pipe, and writes the survivors to the other end
// at their release times. Reading and releasing each run on a locked OS
// thread that makes raw system calls (read, poll, clock_nanosleep, write),
// so that no packet waits for Go's scheduler or poller.
type Forwarder struct {
	pipe *Pipe // the reader thread's only
	src  End
	dst  End
	opt  Options
	log  *slog.Logger

	clock   monoClock
	wall    time.Time // wall-clock time at the clock's epoch, for captures
	line    *ring     // lock-free: the reader pushes, the releaser pops
	cap     *capRing  // nil without Options.Capture
	wakeFD  int       // eventfd: the line went from empty to non-empty
	stopFD  int       // eventfd: stop
	stopped atomic.Bool
	c       counters
	ran     atomic.Bool

	// SetConfig publishes a new Config in pending; the reader thread
	// takes it before the next packet it admits (pipe is its own).
	setMu   sync.Mutex // serialises SetConfig
	cfg     atomic.Pointer[Config]
	pending atomic.Pointer[Config]
}

// NewForwarder returns a Forwarder from src to dst for cfg. It allocates the
// delay line, whose size follows from cfg (see the package documentation).
func NewForwarder(cfg Config, src, dst End, opt Options) (*Forwarder, error) {
	p, err := NewPipe(cfg)
	if err != nil {
		return nil, err
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{
		pipe: p, src: src, dst: dst, opt: opt,
		log:  log.With("link", opt.Name),
		line: newRing(max(cfg.LineBytes(), opt.LineBytes)),
	}
	initial := p.Config() // a copy: the Pipe's own changes on the reader thread
	f.cfg.Store(&initial)
	if opt.Capture != nil {
		f.cap = newCapRing()
	}
	return f, nil
}

// Config returns the Forwarder's configuration: the one it was built with,
// or the last SetConfig's. It is safe to call at any time.
func (f *Forwarder) Config() Config { return *f.cfg.Load() }

// SetConfig changes the direction's configuration while it runs (or before).
// It is safe to call at any time, from any goroutine. The change applies
// to every packet read after it; packets already admitted keep their
// release times, and queued bytes drain at the old rate before later ones
// are served at the new one (Pipe.SetConfig gives the details). cfg.Seed
// is ignored: the random source goes on. SetConfig returns an error,
// changing nothing, if cfg is invalid or needs a larger delay line than the
// Forwarder has (see Options.LineBytes).
func (f *Forwarder) SetConfig(cfg Config) error {
	if err := f.checkConfig(cfg); err != nil {
		return err
	}
	f.setMu.Lock()
	defer f.setMu.Unlock()
	cfg.Seed = f.Config().Seed
	f.cfg.Store(&cfg)
	f.pending.Store(&cfg)
	return nil
}

// checkConfig reports whether the Forwarder can take cfg.
func (f *Forwarder) checkConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("linkem: %s: %w", f.opt.Name, err)
	}
	if need, have := cfg.LineBytes(), len(f.line.buf); need > have {
		return fmt.Errorf("linkem: %s: %v needs a delay line of %d bytes, and this one has %d (Options.LineBytes)", f.opt.Name, cfg, need, have)
	}
	return nil
}

// Stats returns the counters so far. It is safe to call at any time.
func (f *Forwarder) Stats() Stats {
	s := f.c.snapshot()
	if f.cap != nil {
		s.CaptureDrops = f.cap.dropped.Load()
	}
	return s
}

// ResetMaxLate restarts Stats.MaxLate from zero, so that it reports the
// worst lateness since this call (the other counters only ever grow; use
// Stats.Sub for an interval). It is safe to call at any time.
func (f *Forwarder) ResetMaxLate() { f.c.maxLate.Store(0) }

// Run forwards until ctx is done, which is not an error, or until an end
// fails. It may be called once. On return both threads have ended and
// packets still in flight are discarded.
func (f *Forwarder) Run(ctx context.Context) error {
	if f.ran.Swap(true) {
		return errors.New("linkem: Forwarder.Run called twice")
	}
	srcFD, err := rawFD(f.src)
	if err != nil {
		return fmt.Errorf("linkem: %s: source: %w", f.opt.Name, err)
	}
	dstFD, err := rawFD(f.dst)
	if err != nil {
		return fmt.Errorf("linkem: %s: destination: %w", f.opt.Name, err)
	}
	if f.wakeFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("linkem: eventfd: %w", err)
	}
	defer unix.Close(f.wakeFD)
	if f.stopFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("linkem: eventfd: %w", err)
	}
	defer unix.Close(f.stopFD)
	f.clock = newMonoClock()
	f.wall = time.Now().Add(-f.clock.now())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		f.stopped.Store(true)
		signalFD(f.stopFD)
	})
	defer stop()

	var wg sync.WaitGroup
	var readErr, releaseErr, capErr error
	stopCapture := make(chan struct{})
	var capWG sync.WaitGroup
	if f.cap != nil {
		capWG.Go(func() { capErr = f.cap.run(f.opt.Capture, stopCapture) })
	}
	wg.Go(func() {
		defer cancel()
		readErr = f.read(srcFD)
	})
	wg.Go(func() {
		defer cancel()
		releaseErr = f.release(dstFD)
	})
	wg.Wait()
	close(stopCapture)
	capWG.Wait()
	if capErr != nil {
		f.log.Warn("linkem: capture failed", "err", capErr)
	}
	// Both threads have ended, so nobody touches the descriptors any more.
	runtime.KeepAlive(f.src)
	runtime.KeepAlive(f.dst)
	return errors.Join(readErr, releaseErr)
}

// read runs on its own locked thread, which it never unlocks: the thread,
// with its tuned scheduling, ends with the goroutine.
func (f *Forwarder) read(fd int) error {
	runtime.LockOSThread()
	if err := prepareThread(f.opt.RealTime); err != nil {
		warnOnce(f.log, err)
	}
	buf := make([]byte, MaxPacketSize+1) // one spare byte reveals oversized packets
	pfds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(f.stopFD), Events: unix.POLLIN}}
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EAGAIN:
			if _, err := unix.Poll(pfds, int(maxIdle/time.Millisecond)); err != nil && err != unix.EINTR {
				return fmt.Errorf("linkem: %s: poll: %w", f.opt.Name, err)
			}
			if pfds[1].Revents != 0 {
				return nil
			}
			if pfds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 && pfds[0].Revents&unix.POLLIN == 0 {
				if f.stopped.Load() {
					return nil
				}
				return fmt.Errorf("linkem: %s: source closed (poll events %#x)", f.opt.Name, pfds[0].Revents)
			}
			continue
		case err == unix.EINTR:
			continue
		case err != nil:
			if f.stopped.Load() {
				return nil
			}
			return fmt.Errorf("linkem: %s: read: %w", f.opt.Name, err)
		case n == 0:
			if f.stopped.Load() {
				return nil
			}
			return fmt.Errorf("linkem: %s: source closed", f.opt.Name)
		}
		f.admit(buf[:n])
	}
}

// admit handles one packet read at the current time.
func (f *Forwarder) admit(p []byte) {
	n := len(p)
	now := f.clock.now()
	f.c.packets.Add(1)
	f.c.bytes.Add(uint64(n))
	if f.pending.Load() != nil {
		if cfg := f.pending.Swap(nil); cfg != nil {
			// Validated by SetConfig. Applying it at the first packet after
			// the call is the same as applying it at the call: what was
			// admitted before keeps its schedule either way.
			_ = f.pipe.SetConfig(now, *cfg)
		}
	}
	if n > MaxPacketSize {
		f.c.overflowPackets.Add(1)
		return
	}
	at, v := f.pipe.Admit(now, n)
	switch v {
	case DropLoss:
		f.c.lostPackets.Add(1)
		f.c.lostBytes.Add(uint64(n))
	case DropQueue:
		f.c.queueDropPackets.Add(1)
		f.c.queueDrops.Add(uint64(n))
	case Deliver:
		wasEmpty := f.line.len() == 0
		if !f.line.push(at, p) {
			f.c.overflowPackets.Add(1)
		} else if wasEmpty {
			// The releaser may be waiting for a packet. It re-reads the
			// line after every pop, so one that saw the line non-empty
			// here needs no signal.
			signalFD(f.wakeFD)
		}
	}
}

// release writes packets out at their release times, on its own locked
// thread (see read).
func (f *Forwarder) release(fd int) error {
	runtime.LockOSThread()
	if err := prepareThread(f.opt.RealTime); err != nil {
		warnOnce(f.log, err)
	}
	idle := []unix.PollFd{{Fd: int32(f.wakeFD), Events: unix.POLLIN}, {Fd: int32(f.stopFD), Events: unix.POLLIN}}
	loggedWriteErr := false
	for {
		p, at, ok := f.line.front()
		if !ok {
			// Wait for a packet. A push between the check above and this
			// poll leaves the eventfd readable, so no wake-up is lost.
			if _, err := unix.Poll(idle, int(maxIdle/time.Millisecond)); err != nil && err != unix.EINTR {
				return fmt.Errorf("linkem: %s: poll: %w", f.opt.Name, err)
			}
			if idle[1].Revents != 0 {
				return nil
			}
			if idle[0].Revents != 0 {
				drainFD(f.wakeFD)
			}
			continue
		}
		now := f.clock.now()
		if at > now {
			if f.stopped.Load() {
				return nil
			}
			// Packets leave in order, so none that arrives meanwhile can be
			// due before this one: sleep without watching for arrivals.
			f.clock.sleepUntil(min(at, now+maxSleep))
			continue
		}
		err := writePacket(fd, p)
		if err == nil && f.cap != nil {
			// Before pop: after it the reader may overwrite p's bytes.
			f.cap.put(f.wall.UnixNano()+int64(now), p)
		}
		f.line.pop()
		switch {
		case err == nil:
			f.c.released(len(p), now-at)
		case err == unix.EBADF:
			if f.stopped.Load() {
				return nil
			}
			return fmt.Errorf("linkem: %s: write: %w", f.opt.Name, err)
		default:
			// A destination may refuse a packet (a TUN device that is down
			// answers EIO); count it and carry on.
			f.c.writeErrors.Add(1)
			if !loggedWriteErr {
				loggedWriteErr = true
				f.log.Warn("linkem: write failed; counting further failures silently", "err", err)
			}
		}
	}
}

var threadWarned atomic.Bool

// warnOnce logs, once per process, that forwarder threads run without the
// scheduling they asked for.
func warnOnce(log *slog.Logger, err error) {
	if !threadWarned.Swap(true) {
		log.Warn("linkem: forwarder threads run with default scheduling; packets may be released late on a busy machine", "err", err)
	}
}

// writePacket writes p to a non-blocking descriptor, waiting up to 15 ms
// for room if it is full.
func writePacket(fd int, p []byte) error {
	for range 3 {
		_, err := unix.Write(fd, p)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, int(maxSleep/time.Millisecond))
			continue
		}
		return err
	}
	return unix.EAGAIN
}

func signalFD(fd int) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(fd, one[:])
}

func drainFD(fd int) {
	var b [8]byte
	_, _ = unix.Read(fd, b[:])
}

// rawFD returns c's descriptor and makes sure it is non-blocking.
func rawFD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return 0, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return 0, err
	}
	return fd, nil
}

// Link runs both directions of a link between two ends.
type Link struct {
	AB, BA *Forwarder // a→b and b→a
}

// NewLink returns a Link that carries packets read from a to b with
// configuration ab, and from b to a with ba.
func NewLink(ab, ba Config, a, b End, opt Options) (*Link, error) {
	name := opt.Name
	opt.Name = name + " →"
	fab, err := NewForwarder(ab, a, b, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Name, err)
	}
	opt.Name = name + " ←"
	fba, err := NewForwarder(ba, b, a, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Name, err)
	}
	return &Link{AB: fab, BA: fba}, nil
}

// Set changes both directions' configurations while the link runs (see
// Forwarder.SetConfig): ab for packets from a to b, ba for the reverse. It
// checks both before changing either, so on error neither changes.
func (l *Link) Set(ab, ba Config) error {
	if err := errors.Join(l.AB.checkConfig(ab), l.BA.checkConfig(ba)); err != nil {
		return err
	}
	return errors.Join(l.AB.SetConfig(ab), l.BA.SetConfig(ba))
}

// Run runs both directions until ctx is done or one of them fails; see
// Forwarder.Run.
func (l *Link) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var errAB, errBA error
	wg.Go(func() { defer cancel(); errAB = l.AB.Run(ctx) })
	wg.Go(func() { defer cancel(); errBA = l.BA.Run(ctx) })
	wg.Wait()
	return errors.Join(errAB, errBA)
}
