package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// refusalBound is how long an edge whose upstreams all refuse it may take
// to answer a request. The engine gives up opening an object after 15 s
// (transfer.Config.OpenTimeout) at the latest.
const refusalBound = 20 * time.Second

// handshakeFailed matches what a peer server logs when a connection fails
// its handshake.
func handshakeFailed(s string) bool {
	m := logAttrs(s)["msg"]
	return m == "peer refused: wrong cluster key" || m == "peer handshake failed"
}

// TestWrongKeyRefused starts nodes whose key differs from the origin's and
// checks that a request through them gets a 5xx and no object bytes within
// a bounded time, and that the nodes involved log the refusal.
func TestWrongKeyRefused(t *testing.T) {
	ct := content(t)
	want := ct.read(t, "mix/c.bin")

	t.Run("edge-to-origin", func(t *testing.T) {
		o := startOrigin(t, ct.Root)
		e := startEdge(t, "edge-wrong-key", []string{o.peerAddr}, "--key-file", otherKeyFile)
		status, body, took := timedGet(t, "http://"+e.httpAddr+"/mix/c.bin")
		if status != http.StatusBadGateway {
			t.Errorf("status %d, want 502", status)
		}
		checkNoObjectBytes(t, body, want, took)
		// The edge checks the origin's proof first, refuses it with
		// ERROR(AUTH) and closes: both ends log that the keys differ.
		// TestForgedAuthRawClient makes the origin itself refuse an AUTH.
		t.Logf("edge: %s", e.waitLog(t, 5*time.Second, "record about the origin's key", func(s string) bool {
			return strings.Contains(s, "does not hold our cluster key") && strings.Contains(s, o.peerAddr)
		}))
		t.Logf("origin: %s", o.waitLog(t, 5*time.Second, "wrong-key record", hasMsg("peer refused: wrong cluster key")))
	})

	t.Run("relay-to-origin", func(t *testing.T) {
		// The relay and its edge share a key the origin does not know: the
		// edge reaches the relay, the relay is refused by the origin.
		o := startOrigin(t, ct.Root)
		r := startRelay(t, "relay-wrong-key", []string{o.peerAddr}, "--key-file", otherKeyFile)
		e := startEdge(t, "edge", []string{r.peerAddr}, "--key-file", otherKeyFile)
		status, body, took := timedGet(t, "http://"+e.httpAddr+"/mix/c.bin")
		if status != http.StatusBadGateway && status != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 502 or 503 (the relay answers UNAVAILABLE)", status)
		}
		checkNoObjectBytes(t, body, want, took)
		t.Logf("relay: %s", r.waitLog(t, 5*time.Second, "record about the origin's key", func(s string) bool {
			return strings.Contains(s, "does not hold our cluster key") && strings.Contains(s, o.peerAddr)
		}))
		t.Logf("origin: %s", o.waitLog(t, 5*time.Second, "wrong-key record", hasMsg("peer refused: wrong cluster key")))
	})
}

func timedGet(t *testing.T, url string) (int, []byte, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refusalBound+10*time.Second)
	defer cancel()
	start := time.Now()
	r, err := doRequest(ctx, http.MethodGet, url, nil)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("GET %s: %v after %v", url, err, took)
	}
	t.Logf("GET %s: %d %q in %v", url, r.status, bytes.TrimSpace(r.body), took.Round(time.Millisecond))
	return r.status, r.body, took
}

func checkNoObjectBytes(t *testing.T, body, object []byte, took time.Duration) {
	t.Helper()
	if took > refusalBound {
		t.Errorf("took %v, more than %v", took, refusalBound)
	}
	// A refusal carries a one-line reason, never the object.
	if len(body) > 200 || bytes.Contains(body, object[:16]) {
		t.Errorf("response body of %d bytes may hold object bytes: %q", len(body), body[:min(len(body), 200)])
	}
}

// TestForgedAuthRawClient speaks the peer protocol by hand to the origin
// and to a relay: preface, HELLO, then a forged AUTH followed at once by
// OPEN and READ (the protocol lets a client pipeline requests behind
// AUTH). The server must answer ERROR(AUTH), close the connection, send no
// OBJECT, HASHES or DATA, and log the refusal. A client that skips AUTH
// and sends OPEN must get nothing either.
func TestForgedAuthRawClient(t *testing.T) {
	ct := content(t)
	// At Debug: a failed handshake that is not a wrong key (here, no AUTH)
	// is logged only there, since anyone can cause one.
	o := startOrigin(t, ct.Root, "--log-level", "debug")
	r := startRelay(t, "relay1", []string{o.peerAddr}, "--log-level", "debug")
	head := ct.read(t, "mix/c.bin")[:64]

	for _, target := range []*proc{o, r} {
		for _, forge := range []bool{true, false} {
			name := target.name + "/forged-auth"
			if !forge {
				name = target.name + "/no-auth"
			}
			t.Run(name, func(t *testing.T) {
				frames, raw, local := rawSession(t, target.peerAddr, forge, "mix/c.bin")
				for _, f := range frames {
					switch f := f.(type) {
					case wire.Ready, wire.Object, wire.Hashes, wire.Data:
						t.Errorf("server sent %T", f)
					case wire.Error:
						t.Logf("server sent ERROR(request %d, %v, %q)", f.Request, f.Code, f.Message)
						if forge && f.Code != wire.CodeAuth {
							t.Errorf("ERROR code %v, want %v", f.Code, wire.CodeAuth)
						}
					}
				}
				if bytes.Contains(raw, head[:16]) {
					t.Error("the server's bytes contain the object's first bytes")
				}
				// The server's record of this connection, found by the
				// client's address.
				want := handshakeFailed
				if forge {
					want = hasMsg("peer refused: wrong cluster key")
				}
				t.Logf("%s: %s", target.name, target.waitLog(t, 5*time.Second, "refusal record", func(s string) bool {
					return want(s) && logAttrs(s)["peer"] == local
				}))
			})
		}
	}
}

// rawSession runs a hand-made client session against addr and returns the
// frames the server sent after CHALLENGE (and all its bytes), having
// waited for it to close the connection, and the client's address.
func rawSession(t *testing.T, addr string, forgeAuth bool, path string) ([]wire.Frame, []byte, string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	hello := wire.Hello{MinVersion: wire.Version1, MaxVersion: wire.Version1, MaxFrame: wire.DefaultMaxFrame, Name: "forger"}
	rand.Read(hello.Nonce[:])
	if _, err := nc.Write(hello.Append([]byte(wire.Preface))); err != nil {
		t.Fatal(err)
	}
	ch, err := readFrame(nc, wire.HandshakeMaxPayload)
	if err != nil {
		t.Fatalf("reading CHALLENGE: %v", err)
	}
	if _, ok := ch.(wire.Challenge); !ok {
		t.Fatalf("server sent %T, want CHALLENGE", ch)
	}
	var b []byte
	if forgeAuth {
		var a wire.Auth
		rand.Read(a.MAC[:])
		b = a.Append(b)
	}
	b = wire.Open{Request: 1, Handle: 1, Path: path}.Append(b)
	b = wire.GetHashes{Request: 2, Handle: 1, First: 0, Count: 1}.Append(b)
	b = wire.Read{Request: 3, Handle: 1, Offset: 0, Length: 64 << 10}.Append(b)
	if _, err := nc.Write(b); err != nil {
		t.Logf("writing the requests: %v (the server may have closed already)", err)
	}
	raw, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("the server did not close the connection: %v (after %d bytes)", err, len(raw))
	}
	var frames []wire.Frame
	for rest := raw; len(rest) > 0; {
		f, n, err := wire.ParseFrame(rest, wire.MaxMaxFrame)
		if err != nil {
			t.Errorf("cannot parse the server's bytes: %v (%d bytes left)", err, len(rest))
			break
		}
		frames = append(frames, f)
		rest = rest[n:]
	}
	return frames, raw, nc.LocalAddr().String()
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func readFrame(r io.Reader, max uint32) (wire.Frame, error) {
	hdr := make([]byte, wire.HeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	h, err := wire.ParseHeader(hdr, max)
	if err != nil {
		return nil, err
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	return wire.ParsePayload(h, payload)
}
