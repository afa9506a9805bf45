package congestion

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackPair returns both ends of a TCP connection on loopback.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// A budget's fixed rate holds a sending connection to it: through
// SO_MAX_PACING_RATE where the socket takes it, and through Grant where
// it does not (as on MPTCP).
func TestBudget_pacesASender(t *testing.T) {
	const rate = 4 << 20 // bytes per second
	for _, kernel := range []bool{true, false} {
		name := map[bool]string{true: "kernel pacing", false: "user-space pacing"}[kernel]
		t.Run(name, func(t *testing.T) {
			rc, sc := loopbackPair(t)
			m := New(Config{Budget: Budget{Rate: rate}})
			defer m.Close()
			var refused atomic.Bool
			if !kernel {
				m.setPacing = func(net.Conn, uint64) error {
					refused.Store(true)
					return errors.New("operation not supported")
				}
			}
			f := m.Open(sc.RemoteAddr().String())
			defer f.Close()
			if err := f.Watch(sc, Send); err != nil {
				t.Fatal(err)
			}
			var got atomic.Int64
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := rc.Read(buf)
					got.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			chunk := make([]byte, 32<<10)
			// Let the first division reach the socket before measuring.
			for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				m.mu.Lock()
				p := f.pacing
				m.mu.Unlock()
				if p != paceUnknown {
					break
				}
			}
			start, from := time.Now(), got.Load()
			go func() {
				for ctx.Err() == nil {
					if err := f.Grant(ctx, len(chunk)); err != nil {
						return
					}
					sc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
					if _, err := sc.Write(chunk); err != nil && !errors.Is(err, context.DeadlineExceeded) {
						var ne net.Error
						if !errors.As(err, &ne) || !ne.Timeout() {
							return
						}
					}
				}
			}()
			<-ctx.Done()
			measured := float64(got.Load()-from) / time.Since(start).Seconds()
			t.Logf("%s: %.2f MB/s under a budget of %.2f MB/s", name, measured/1e6, float64(rate)/1e6)
			if measured > rate*1.3 || measured < rate*0.6 {
				t.Errorf("sent %.0f B/s under a budget of %d B/s", measured, rate)
			}
			if refused.Load() == kernel {
				t.Errorf("kernel pacing refused = %v, want %v", refused.Load(), !kernel)
			}
		})
	}
}

// Request is Grant with a callback; a withdrawn request is never called.
func TestRequest(t *testing.T) {
	m := New(Config{Budget: Budget{Rate: 1 << 20}})
	defer m.Close()
	f := m.Open("192.0.2.1:1")
	called := make(chan struct{}, 8)
	// The bucket starts with a burst; these go at once.
	f.Request(64<<10, func() { called <- struct{}{} })
	select {
	case <-called:
	case <-time.After(time.Second):
		t.Fatal("a request within the burst was not granted")
	}
	// This one owes a second of budget; the next waits behind it.
	f.Request(1<<20, func() { called <- struct{}{} })
	<-called
	cancel := f.Request(1<<10, func() { called <- struct{}{} })
	if !cancel() {
		t.Fatal("a pending request could not be withdrawn")
	}
	select {
	case <-called:
		t.Fatal("a withdrawn request was granted")
	case <-time.After(1500 * time.Millisecond):
	}
	// Without a budget everything goes at once.
	m.SetBudget(f.Macroflow(), Budget{})
	ctx, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	if err := f.Grant(ctx, 100<<20); err != nil {
		t.Fatalf("Grant without a budget: %v", err)
	}
}

// Grant gives up with the context and the bytes it held back go to the
// next in line; closing the flow releases its waiters.
func TestGrant_cancelAndClose(t *testing.T) {
	m := New(Config{Budget: Budget{Rate: 1 << 20}})
	defer m.Close()
	f := m.Open("192.0.2.1:1")
	if err := f.Grant(context.Background(), 4<<20); err != nil { // in debt for 4 s
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stop()
	if err := f.Grant(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Grant in debt = %v, want the context's deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Grant(context.Background(), 1) }()
	time.Sleep(20 * time.Millisecond)
	f.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Grant released by Close = %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a closed flow's Grant still waits")
	}
}
