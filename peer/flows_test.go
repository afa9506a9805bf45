package peer

import (
	"context"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
)

// A server with Config.Flows registers each authenticated connection as a
// flow it sends on, in the macroflow of the client's host, for as long as
// the connection lasts; the CM samples what the connection sends.
func TestServer_flows(t *testing.T) {
	key := testKey(t)
	data := randomBytes(8<<20, 3)
	cm := congestion.New(congestion.Config{})
	defer cm.Close()
	h := &memHandler{objects: map[string][]byte{"v/a.mp4": data}}
	_, addr := startServer(t, Config{Key: key, Name: "srv", Flows: cm}, h)
	c := dial(t, addr, Config{Key: key, Name: "cli"})
	hd, _, err := c.Open(context.Background(), "v/a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := readSync(t, c, hd, 0, len(data)); err != nil {
			t.Fatal(err)
		}
	}
	// The sampler sees the bytes within a few of its intervals.
	var mf congestion.MacroflowStats
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s := cm.Snapshot(); len(s) == 1 && s[0].Known() && s[0].Goodput > 0 {
			mf = s[0]
			break
		}
	}
	if mf.Name != "127.0.0.1" || mf.Flows != 1 || mf.Goodput <= 0 || mf.RTT <= 0 {
		t.Fatalf("macroflows %+v, want one flow to 127.0.0.1 with a goodput and an RTT", cm.Snapshot())
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); len(cm.Snapshot()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the connection closed: %+v, want no flow", cm.Snapshot())
		}
	}
}
