package edge

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"

	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// newEdge serves the edge handler over an engine fetching from upstreams.
func newEdge(t *testing.T, key peer.Key, upstreams ...string) *httptest.Server {
	t.Helper()
	log := aqtest.Logger(t, slog.LevelInfo)
	e, err := transfer.New(transfer.Config{Upstreams: upstreams, Peer: peer.Config{Key: key}, Conns: 4, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(e, Options{Logger: log}))
	t.Cleanup(func() { srv.Close(); e.Close() })
	return srv
}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestEdge_HTTPSemantics(t *testing.T) {
	key, _ := peer.GenerateKey()
	data := peertest.RandomBytes(3<<20+17, 1)
	h := &peertest.Handler{}
	meta := h.Put("v/a.mp4", data)
	up := peertest.Start(t, peer.Config{Key: key}, h)
	srv := newEdge(t, key, up.Addr)
	url := srv.URL + "/v/a.mp4"

	resp, body := get(t, "GET", url, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET: %s, %d bytes", resp.Status, len(body))
	}
	if resp.Header.Get("ETag") != meta.ETag || resp.Header.Get("Accept-Ranges") != "bytes" ||
		resp.Header.Get("Last-Modified") != meta.ModTime.UTC().Format(http.TimeFormat) ||
		resp.Header.Get("Content-Type") != meta.ContentType {
		t.Fatalf("headers %v", resp.Header)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header")
	}

	resp, body = get(t, "HEAD", url, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %s, %d bytes, length %d", resp.Status, len(body), resp.ContentLength)
	}

	off := int64(object.DefaultBlockSize - 5)
	resp, body = get(t, "GET", url, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", off, off+9)})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[off:off+10]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", off, off+9, len(data)) {
		t.Fatalf("range across a block boundary: %s %q", resp.Status, resp.Header.Get("Content-Range"))
	}
	resp, _ = get(t, "GET", url, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data))})
	if resp.StatusCode != 416 {
		t.Fatalf("range past the end: %s", resp.Status)
	}
	resp, _ = get(t, "GET", url, map[string]string{"If-None-Match": meta.ETag})
	if resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %s", resp.Status)
	}
	resp, body = get(t, "GET", url, map[string]string{"Range": "bytes=0-3", "If-Range": `"other"`})
	if resp.StatusCode != 200 || len(body) != len(data) {
		t.Fatalf("If-Range with another tag: %s", resp.Status)
	}
}

func TestEdge_errors(t *testing.T) {
	key, _ := peer.GenerateKey()
	h := &peertest.Handler{}
	h.Put("a", []byte("x"))
	up := peertest.Start(t, peer.Config{Key: key}, h)
	srv := newEdge(t, key, up.Addr)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/missing.mp4", 404},
		{"GET", "/%2e%2e/etc/passwd", 400},
		{"GET", "/.git/config", 403},
		{"GET", "/a%00b", 400},
		{"GET", "/dir/", 404},
		{"POST", "/a", 405},
		{"GET", "/", 200},
	} {
		resp, body := get(t, tc.method, srv.URL+tc.path, nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %s (%s), want %d", tc.method, tc.path, resp.Status, body, tc.status)
		}
	}
	// Hostile request lines that a client library would clean go over a
	// raw connection.
	for _, p := range []string{"/../etc/passwd", "/a/../../etc/passwd", "//etc/passwd", "/a\\..\\b"} {
		status := rawGet(t, srv.Listener.Addr().String(), p)
		if status < 400 || status > 499 {
			t.Errorf("GET %s: status %d, want 4xx", p, status)
		}
	}
}

func rawGet(t *testing.T, addr, path string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	var proto string
	var status int
	fmt.Fscan(c, &proto, &status)
	return status
}

func TestEdge_unreachableIs502(t *testing.T) {
	key, _ := peer.GenerateKey()
	srv := newEdge(t, key, peertest.FreeAddr(t))
	start := time.Now()
	resp, _ := get(t, "GET", srv.URL+"/a", nil)
	if resp.StatusCode != 502 {
		t.Fatalf("status %s, want 502", resp.Status)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("took %v", d)
	}
}

// 64 one-byte ranges cost the blocks they touch, each fetched once: in one
// block, one block from upstream (each range fetched its block again
// before: 64 blocks, 16 MiB, for a 10 KB answer); spread over 8 blocks, 8.
// The parts are the object's bytes.
func TestEdge_multiRangeCostsTheBlocksTouched(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stride int64 // bytes between ranges
		blocks int64 // blocks the ranges touch
	}{
		{"one block", 3, 1},
		{"eight blocks", 32 << 10, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, _ := peer.GenerateKey()
			data := peertest.RandomBytes(4<<20, 3)
			h := &peertest.Handler{}
			meta := h.Put("v/a.bin", data)
			up := peertest.Start(t, peer.Config{Key: key}, h)
			srv := newEdge(t, key, up.Addr)
			var spec []string
			for i := range int64(64) {
				spec = append(spec, fmt.Sprintf("%d-%d", i*tc.stride, i*tc.stride))
			}
			before := h.BytesServed.Load()
			resp, body := get(t, "GET", srv.URL+"/v/a.bin", map[string]string{"Range": "bytes=" + strings.Join(spec, ",")})
			if resp.StatusCode != 206 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for i := range int64(64) {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				b, _ := io.ReadAll(p)
				if len(b) != 1 || b[0] != data[i*tc.stride] {
					t.Fatalf("part %d: %q, want %q", i, b, data[i*tc.stride:i*tc.stride+1])
				}
			}
			fetched := h.BytesServed.Load() - before
			if fetched > tc.blocks*meta.BlockSize {
				t.Errorf("64 one-byte ranges over %d blocks fetched %d bytes upstream, more than those blocks (%d)",
					tc.blocks, fetched, tc.blocks*meta.BlockSize)
			}
			t.Logf("%d-byte answer, %d bytes fetched upstream", len(body), fetched)
		})
	}
}
