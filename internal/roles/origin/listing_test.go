package origin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTTP_listing(t *testing.T) {
	o := newTestOrigin(t)
	resp, body := o.do(t, "GET", "/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`<a href="./a.mp4">a.mp4</a>`,
		`<a href="./sub/">sub/</a>`,
		`<a href="./sublink/">sublink/</a>`,
		`<a href="./in.mp4">in.mp4</a>`,
		`<a href="./index.m3u8">index.m3u8</a>`,
		// HTML-escaped label, URL-escaped (then HTML-escaped) link.
		`<a href="./%3Cb%3E&amp;%22x%27.mp4">&lt;b&gt;&amp;&#34;x&#39;.mp4</a>`,
		`<a href="./sp%20ace%2541%3F%23.mp4">sp ace%41?#.mp4</a>`,
		`<td class="n">19</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %s", want)
		}
	}
	for _, hidden := range []string{".git", ".env", "passwd", "rel-secret", ">etc<", "./up", "<b>&"} {
		if strings.Contains(body, hidden) {
			t.Errorf("listing shows %q", hidden)
		}
	}
	if i, j := strings.Index(body, "a.mp4"), strings.Index(body, "seg-1.m4s"); i < 0 || j < 0 || i > j {
		t.Error("listing not sorted")
	}
	// The odd name listed can be fetched by its link.
	resp, got := o.do(t, "GET", "/%3Cb%3E&%22x%27.mp4", nil)
	if resp.StatusCode != 200 || got != "odd name" {
		t.Errorf("fetching listed odd name: %d %q", resp.StatusCode, got)
	}

	resp, body = o.do(t, "GET", "/sub/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `<a href="./b.mp4">b.mp4</a>`) ||
		!strings.Contains(body, `<a href="../">../</a>`) || strings.Contains(body, "hidden") {
		t.Errorf("GET /sub/: %d\n%s", resp.StatusCode, body)
	}
	resp, body = o.do(t, "HEAD", "/sub/", nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength <= 0 {
		t.Errorf("HEAD /sub/: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	if resp, _ := o.do(t, "GET", "/nope/", nil); resp.StatusCode != 404 {
		t.Errorf("GET /nope/: %d", resp.StatusCode)
	}
}

func TestReadListing_truncated(t *testing.T) {
	dir := t.TempDir()
	for i := range 12 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.ts", i)), "x")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tc := range []struct {
		max       int
		n         int
		truncated bool
	}{{5, 5, true}, {12, 12, false}, {100, 12, false}} {
		d, err := root.Open(".")
		if err != nil {
			t.Fatal(err)
		}
		entries, truncated, err := readListing(root, d, "", tc.max)
		d.Close()
		if err != nil || len(entries) != tc.n || truncated != tc.truncated {
			t.Errorf("max %d: %d entries, truncated %v, %v; want %d, %v", tc.max, len(entries), truncated, err, tc.n, tc.truncated)
		}
	}
}
