package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostilePaths try to leave the content root, or to reach files that must
// not be served, by every trick the path checks defend against. The
// content root holds fixtures (etc/passwd, b, C:/Windows/win.ini,
// .git/config) that a server which cleaned or decoded the path would serve,
// so that such a mistake shows as a marker in the body, not just as a 404.
var hostilePaths = []string{
	"/../etc/passwd",
	"/%2e%2e/etc/passwd",
	"/%2E%2e%2fetc%2fpasswd",
	"/a/..%2f..%2fetc/passwd",
	"/..%5c..%5cetc%5cpasswd",
	`/a\..\b`,
	"/video%00.mp4",
	"//etc/passwd",
	"/C:/Windows/win.ini",
	"/./video/sample.mp4",
	"/.git/config",
	"/a/../b",
	"/a/%2e%2e/b",
	"/link-passwd",             // symlink inside the root to /etc/passwd
	"/link-secret",             // symlink to a file outside the root
	"/link-outside/secret.txt", // through a symlink to a directory outside the root
	"/link-outside/",
	"/link-outside",
}

// TestHostilePathsRefused sends every hostile path as a raw request line
// over TCP and with curl --path-as-is, to the origin and to the edge, and
// requires a 4xx whose body holds none of the protected contents. A
// control request for a legitimate fixture checks that the fixtures are
// reachable at all.
func TestHostilePathsRefused(t *testing.T) {
	needTool(t, "curl", "curl")
	ct := content(t)
	o := startOrigin(t, ct.Root)
	r := startRelay(t, "relay1", []string{o.peerAddr})
	e := startEdge(t, "edge", []string{r.peerAddr})

	// What must never appear in a refusal.
	secrets := []string{markerInside, markerGit, markerWin, markerB, markerOutside}
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		secrets = append(secrets, first)
	}
	sample := ct.read(t, "video/sample.mp4")
	secrets = append(secrets, string(sample[:64]))

	for _, srv := range []*proc{o, e} {
		addr := srv.httpAddr
		t.Run(srv.name+"/control", func(t *testing.T) {
			status, body := rawGet(t, addr, "/etc/passwd")
			if status != http.StatusOK || !strings.Contains(string(body), markerInside) {
				t.Fatalf("GET /etc/passwd (a file inside the root): status %d, body %q; want 200 with the fixture", status, body)
			}
		})
		for _, p := range hostilePaths {
			t.Run(srv.name+"/raw"+p, func(t *testing.T) {
				status, body := rawGet(t, addr, p)
				checkRefusal(t, "raw", p, status, body, secrets)
			})
			t.Run(srv.name+"/curl"+p, func(t *testing.T) {
				status, body := curlGet(t, addr, p)
				checkRefusal(t, "curl", p, status, body, secrets)
			})
		}
	}
}

func checkRefusal(t *testing.T, how, path string, status int, body []byte, secrets []string) {
	t.Helper()
	t.Logf("%s GET %s: %d %q", how, path, status, truncate(bytes.TrimSpace(body)))
	if status < 400 || status > 499 {
		t.Errorf("%s GET %s: status %d, want 4xx; body %q", how, path, status, truncate(body))
	}
	for _, s := range secrets {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("%s GET %s: body holds protected content %q", how, path, truncate([]byte(s)))
		}
	}
	if len(body) > 512 {
		t.Errorf("%s GET %s: a %d-byte body is not a one-line refusal", how, path, len(body))
	}
}

func truncate(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// rawGet sends the request line exactly as given.
func rawGet(t *testing.T, addr, path string) (int, []byte) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp.StatusCode, body
}

// curlGet asks curl to send the path as is.
func curlGet(t *testing.T, addr, path string) (int, []byte) {
	t.Helper()
	bodyFile := filepath.Join(t.TempDir(), "body")
	out := runTool(t, "curl", "--path-as-is", "--silent", "--show-error", "--noproxy", "*",
		"--max-time", "15", "--output", bodyFile, "--write-out", "%{http_code}", "http://"+addr+path)
	status, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("curl printed %q", out)
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return status, body
}
