package origin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const secret = "outside-the-root-secret"

// testOrigin is a content root and an origin HTTP server over it.
type testOrigin struct {
	srv  *httptest.Server
	dir  string
	logs *logBuffer
}

// newTestOrigin builds a content root with media files, dot-files, odd
// names and symbolic links inside and outside it, and serves it.
func newTestOrigin(t *testing.T, origins ...string) *testOrigin {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "content")
	files := map[string]string{
		"a.mp4":           "mp4 data 0123456789",
		"seg-1.m4s":       "m4s",
		"seg-1.ts":        "ts",
		"index.m3u8":      "#EXTM3U\n",
		"manifest.mpd":    "<MPD/>",
		"sub/b.mp4":       "sub file",
		"sub/deeper/c.ts": "deep",
		".git/config":     "[core] " + secret,
		".env":            "TOKEN=" + secret,
		"sub/.hidden.mp4": secret,
		`<b>&"x'.mp4`:     "odd name",
		"sp ace%41?#.mp4": "escaped name",
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	writeFile(t, filepath.Join(base, "secret.txt"), secret)
	links := map[string]string{
		"etc":        "/etc",
		"passwd":     "/etc/passwd",
		"rel-secret": "../secret.txt",
		"up":         "../..",
		"in.mp4":     "a.mp4",
		"sublink":    "sub",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{t: t}
	h := NewHTTPHandler(HTTPConfig{
		Root:         root,
		RootDir:      dir,
		AllowOrigins: origins,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		root.Close()
		logs.stop()
	})
	return &testOrigin{srv: srv, dir: dir, logs: logs}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// logBuffer keeps log output for assertions and copies it to t.Log.
type logBuffer struct {
	t       *testing.T
	mu      sync.Mutex
	buf     bytes.Buffer
	stopped bool
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.stopped {
		l.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}

// rawGet sends a request line exactly as given, with no client-side
// parsing or cleaning, and returns the status and body.
func (o *testOrigin) rawGet(t *testing.T, target string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", o.srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// do sends a request through net/http's client.
func (o *testOrigin) do(t *testing.T, method, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, o.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp, string(body)
}

// hostilePaths are the request targets of safepath's table plus symbolic
// links that leave the root. Each must get a 4xx. want is the exact status
// and reason where the request reaches the handler (0 and "": the Go server
// refuses the request line itself, which is fine).
var hostilePaths = []struct {
	target string
	status int
	msg    string
}{
	{"/../etc/passwd", 403, "403 forbidden: path leaves the content root"},
	{"/../../../../../../etc/passwd", 403, "403 forbidden: path leaves the content root"},
	{"/a/../../etc/passwd", 403, ""},
	{"/%2e%2e/etc/passwd", 400, "400 bad request: percent-encoded dot, slash or backslash"},
	{"/%2E%2e%2fetc", 400, ""},
	{"/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400, ""},
	{"/a/..%2fb", 400, ""},
	{"/sub%2fb.mp4", 400, ""},
	{"/..%5c..%5cwindows", 400, ""},
	{"/a\\..\\b", 400, ""},
	{"/a%00.mp4", 400, "400 bad request: control character in path"},
	{"/a%0d%0aSet-Cookie:%20x", 400, ""},
	{"//etc/passwd", 400, "400 bad request: empty path segment"},
	{"/sub//b.mp4", 400, ""},
	{"/C:/x", 400, "400 bad request: colon in path segment"},
	{"/./a.mp4", 400, ""},
	{"/.git/config", 403, "403 forbidden: dot-files are not served"},
	{"/.env", 403, ""},
	{"/sub/.hidden.mp4", 403, ""},
	{"/%c0%ae%c0%ae/etc/passwd", 400, ""},
	{"/a%zz", 0, ""},
	{"/a\x00.mp4", 0, ""},
	{"/passwd", 403, "403 forbidden: path leaves the content root"},
	{"/etc/passwd", 403, "403 forbidden: path leaves the content root"},
	{"/rel-secret", 403, ""},
	{"/up/etc/passwd", 403, ""},
	{"/etc/", 403, ""},
	{"/up/", 403, ""},
	{"http://origin.test/../etc/passwd", 403, ""},
	{"*", 400, ""},
}

func TestHTTP_hostilePaths(t *testing.T) {
	o := newTestOrigin(t)
	for _, tc := range hostilePaths {
		status, body := o.rawGet(t, tc.target)
		if status < 400 || status > 499 {
			t.Errorf("GET %q: status %d, want 4xx", tc.target, status)
		}
		if strings.Contains(body, "root:") || strings.Contains(body, secret) {
			t.Errorf("GET %q: leaked %q", tc.target, body)
		}
		if tc.status != 0 && status != tc.status {
			t.Errorf("GET %q: status %d, want %d (%q)", tc.target, status, tc.status, body)
		}
		if tc.msg != "" && strings.TrimSpace(body) != tc.msg {
			t.Errorf("GET %q: body %q, want %q", tc.target, body, tc.msg)
		}
	}
	if logs := o.logs.String(); !strings.Contains(logs, "level=INFO msg=\"request refused\"") ||
		!strings.Contains(logs, "reason=\"safepath: path leaves the content root\"") {
		t.Errorf("refusals not logged at Info:\n%s", logs)
	}
}

// TestHTTP_curl sends hostile paths with curl --path-as-is, which sends the
// path exactly as given instead of squashing "..".
func TestHTTP_curl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	o := newTestOrigin(t)
	for _, p := range []string{"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/passwd", "//etc/passwd", "/.git/config"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, curl, "--path-as-is", "-sS", "-w", "\n%{http_code}", o.srv.URL+p).Output()
		cancel()
		if err != nil {
			t.Fatalf("curl %s: %v", p, err)
		}
		i := strings.LastIndexByte(string(out), '\n')
		body, code := string(out[:i]), string(out[i+1:])
		if !strings.HasPrefix(code, "4") || strings.Contains(body, "root:") || strings.Contains(body, secret) {
			t.Errorf("curl %s: status %s, body %q", p, code, body)
		}
	}
	// The same client gets real files.
	out, err := exec.Command(curl, "-sS", "-r", "0-2", o.srv.URL+"/a.mp4").Output()
	if err != nil || string(out) != "mp4" {
		t.Fatalf("curl -r 0-2 /a.mp4: %q, %v", out, err)
	}
}

func TestHTTP_files(t *testing.T) {
	o := newTestOrigin(t)
	const full = "mp4 data 0123456789"
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		body   *string
		want   map[string]string
	}{
		{name: "get", path: "/a.mp4", status: 200, body: ptr(full), want: map[string]string{
			"Content-Type": "video/mp4", "Content-Length": "19", "Accept-Ranges": "bytes",
			"X-Content-Type-Options": "nosniff"}},
		{name: "head", method: "HEAD", path: "/a.mp4", status: 200, body: ptr(""), want: map[string]string{"Content-Length": "19"}},
		{name: "symlink inside root", path: "/in.mp4", status: 200, body: ptr(full)},
		{name: "symlinked dir", path: "/sublink/b.mp4", status: 200, body: ptr("sub file")},
		{name: "sub", path: "/sub/b.mp4", status: 200, body: ptr("sub file")},
		{name: "escaped name", path: "/sp%20ace%2541%3F%23.mp4", status: 200, body: ptr("escaped name")},
		{name: "m4s", path: "/seg-1.m4s", status: 200, want: map[string]string{"Content-Type": "video/iso.segment"}},
		{name: "ts", path: "/seg-1.ts", status: 200, want: map[string]string{"Content-Type": "video/mp2t"}},
		{name: "m3u8", path: "/index.m3u8", status: 200, want: map[string]string{"Content-Type": "application/vnd.apple.mpegurl"}},
		{name: "mpd", path: "/manifest.mpd", status: 200, want: map[string]string{"Content-Type": "application/dash+xml"}},
		{name: "range", path: "/a.mp4", header: map[string]string{"Range": "bytes=4-7"}, status: 206, body: ptr("data"),
			want: map[string]string{"Content-Range": "bytes 4-7/19", "Content-Length": "4"}},
		{name: "suffix range", path: "/a.mp4", header: map[string]string{"Range": "bytes=-4"}, status: 206, body: ptr("6789")},
		{name: "range 416", path: "/a.mp4", header: map[string]string{"Range": "bytes=19-"}, status: 416,
			want: map[string]string{"Content-Range": "bytes */19"}},
		{name: "missing", path: "/nope.mp4", status: 404, body: ptr("404 not found: no such file\n")},
		{name: "file with slash", path: "/a.mp4/", status: 404},
		{name: "under a file", path: "/a.mp4/x", status: 404},
		{name: "dir redirect", path: "/sub", status: 301, want: map[string]string{"Location": "/sub/"}},
		{name: "dir redirect query", path: "/sub/deeper?x=1", status: 301, want: map[string]string{"Location": "/sub/deeper/?x=1"}},
		{name: "post", method: "POST", path: "/a.mp4", status: 405, want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options", method: "OPTIONS", path: "/a.mp4", status: 204, want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp, body := o.do(t, method, tc.path, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
			}
			if tc.body != nil && body != *tc.body {
				t.Errorf("body %q, want %q", body, *tc.body)
			}
			for k, v := range tc.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestHTTP_conditional(t *testing.T) {
	o := newTestOrigin(t)
	resp, _ := o.do(t, "GET", "/a.mp4", nil)
	etag, lastMod := resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
	fi, err := os.Stat(filepath.Join(o.dir, "a.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if etag != ETag(fi) || lastMod == "" {
		t.Fatalf("ETag %q (want %q), Last-Modified %q", etag, ETag(fi), lastMod)
	}
	tests := []struct {
		name   string
		header map[string]string
		status int
		body   string
	}{
		{"if-none-match", map[string]string{"If-None-Match": etag}, 304, ""},
		{"if-none-match other", map[string]string{"If-None-Match": `"nope"`}, 200, "mp4 data 0123456789"},
		{"if-modified-since", map[string]string{"If-Modified-Since": lastMod}, 304, ""},
		{"if-match other", map[string]string{"If-Match": `"nope"`}, 412, ""},
		{"if-range etag", map[string]string{"Range": "bytes=0-2", "If-Range": etag}, 206, "mp4"},
		{"if-range stale etag", map[string]string{"Range": "bytes=0-2", "If-Range": `"old"`}, 200, "mp4 data 0123456789"},
		{"if-range date", map[string]string{"Range": "bytes=0-2", "If-Range": lastMod}, 206, "mp4"},
	}
	for _, tc := range tests {
		resp, body := o.do(t, "GET", "/a.mp4", tc.header)
		if resp.StatusCode != tc.status || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func TestHTTP_CORS(t *testing.T) {
	o := newTestOrigin(t)
	resp, _ := o.do(t, "GET", "/a.mp4", map[string]string{"Origin": "https://player.example", "Range": "bytes=0-1"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Range") {
		t.Errorf("GET: CORS headers %v", resp.Header)
	}
	resp, _ = o.do(t, "OPTIONS", "/a.mp4", map[string]string{
		"Origin": "https://player.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") ||
		resp.Header.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// Refusals carry CORS headers too, so a browser player can read them.
	resp, _ = o.do(t, "GET", "/.env", map[string]string{"Origin": "https://player.example"})
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("refusal: %d %v", resp.StatusCode, resp.Header)
	}

	o = newTestOrigin(t, "https://good.example")
	resp, _ = o.do(t, "GET", "/a.mp4", map[string]string{"Origin": "https://good.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://good.example" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("allowed origin: %v", resp.Header)
	}
	resp, _ = o.do(t, "GET", "/a.mp4", map[string]string{"Origin": "https://evil.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %v", resp.Header)
	}
}

func TestNewHTTPHandler_nilRoot(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a nil Root")
		}
	}()
	NewHTTPHandler(HTTPConfig{})
}
