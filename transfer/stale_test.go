package transfer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// A description past its ManifestTTL is served, marked stale, while no
// upstream can revalidate it (within StaleIfError); not when the feature is
// off, and not when an upstream says the object is gone.
func TestEngine_staleIfError(t *testing.T) {
	data := peertest.RandomBytes(300<<10, 9)
	open := func(t *testing.T, e *Engine, path string) (*Object, time.Duration, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		o, err := e.Open(ctx, path)
		return o, time.Since(start), err
	}
	const ttl = 100 * time.Millisecond
	for _, tc := range []struct {
		name      string
		staleIf   time.Duration
		down      func(f *fixture)
		wantStale bool
		wantCode  wire.Code // when not stale: the error's code, or 0 for any error
	}{
		{"upstream down", 0, func(f *fixture) { f.servers[0].Kill() }, true, 0},
		{"upstream down, off", -1, func(f *fixture) { f.servers[0].Kill() }, false, 0},
		{"object removed", 0, func(f *fixture) { f.servers[0].Handler.Remove("v.bin") }, false, wire.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 1, map[string][]byte{"v.bin": data})
			e := f.engine(t, Config{Conns: 1, ManifestTTL: ttl, StaleIfError: tc.staleIf})
			o, _, err := open(t, e, "v.bin")
			if err != nil {
				t.Fatal(err)
			}
			meta := o.Meta()
			if o.Stale() {
				t.Error("a fresh description is marked stale")
			}
			o.Close()
			tc.down(f)
			time.Sleep(2 * ttl)
			o, took, err := open(t, e, "v.bin")
			switch {
			case tc.wantStale && err != nil:
				t.Fatalf("open with the upstream down: %v after %v, want the stale description", err, took)
			case tc.wantStale:
				defer o.Close()
				if !o.Stale() || o.Meta() != meta {
					t.Errorf("stale %v, meta %+v; want stale, %+v", o.Stale(), o.Meta(), meta)
				}
				if took > staleWait+time.Second {
					t.Errorf("the stale open took %v", took)
				}
				if n := e.Stats().StaleOpens; n != 1 {
					t.Errorf("StaleOpens %d, want 1", n)
				}
			case err == nil:
				o.Close()
				t.Fatal("open succeeded; want an error")
			default:
				var pe *peer.Error
				if tc.wantCode != 0 && (!errors.As(err, &pe) || pe.Code != tc.wantCode) {
					t.Errorf("err %v, want code %v", err, tc.wantCode)
				}
				if n := e.Stats().StaleOpens; n != 0 {
					t.Errorf("StaleOpens %d, want 0", n)
				}
			}
		})
	}
}
