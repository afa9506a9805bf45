package httpserve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	testData    = []byte("0123456789abcdefghijklmnopqrstuvwxyz") // 36 bytes
	testModTime = time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)
	testLastMod = "Sat, 01 Mar 2025 12:30:45 GMT"
	testETag    = `"v1-abc"`
)

func testContent() Content {
	return Content{Size: int64(len(testData)), ModTime: testModTime, ETag: testETag, ContentType: "video/mp4"}
}

// bytesOpen serves data, counting the calls.
func bytesOpen(data []byte, calls *atomic.Int32) OpenFunc {
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if calls != nil {
			calls.Add(1)
		}
		if off < 0 || n <= 0 || off+n > int64(len(data)) {
			return nil, errors.New("bad range")
		}
		return io.NopCloser(bytes.NewReader(data[off : off+n])), nil
	}
}

func TestServe(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		header  map[string]string
		content func(*Content)
		status  int
		body    string            // "" with noBody checks emptiness
		want    map[string]string // headers; "" means absent
		parts   []string          // multipart bodies
	}{
		{name: "full", status: 200, body: string(testData), want: map[string]string{
			"Content-Length": "36", "Content-Type": "video/mp4", "Accept-Ranges": "bytes",
			"Etag": testETag, "Last-Modified": testLastMod, "Content-Range": ""}},
		{name: "head", method: "HEAD", status: 200, want: map[string]string{
			"Content-Length": "36", "Accept-Ranges": "bytes", "Etag": testETag}},
		{name: "head range", method: "HEAD", header: map[string]string{"Range": "bytes=0-9"}, status: 206,
			want: map[string]string{"Content-Length": "10", "Content-Range": "bytes 0-9/36"}},
		{name: "range", header: map[string]string{"Range": "bytes=10-15"}, status: 206, body: "abcdef",
			want: map[string]string{"Content-Range": "bytes 10-15/36", "Content-Length": "6", "Content-Type": "video/mp4"}},
		{name: "open range", header: map[string]string{"Range": "bytes=30-"}, status: 206, body: "uvwxyz",
			want: map[string]string{"Content-Range": "bytes 30-35/36"}},
		{name: "suffix", header: map[string]string{"Range": "bytes=-3"}, status: 206, body: "xyz",
			want: map[string]string{"Content-Range": "bytes 33-35/36"}},
		{name: "end past size", header: map[string]string{"Range": "bytes=34-1000"}, status: 206, body: "yz"},
		{name: "multi", header: map[string]string{"Range": "bytes=0-1,10-11,-2"}, status: 206,
			parts: []string{"01", "ab", "yz"}},
		{name: "overlapping", header: map[string]string{"Range": "bytes=0-3,2-5"}, status: 206,
			parts: []string{"0123", "2345"}},
		{name: "sum exceeds size", header: map[string]string{"Range": "bytes=0-,0-"}, status: 200, body: string(testData)},
		{name: "too many", header: map[string]string{"Range": "bytes=" + strings.Repeat("0-0,", MaxRanges) + "1-1"},
			status: 200, body: string(testData)},
		{name: "no overlap", header: map[string]string{"Range": "bytes=36-"}, status: 416,
			body: "invalid range: failed to overlap\n", want: map[string]string{
				"Content-Range": "bytes */36", "Content-Type": "text/plain; charset=utf-8",
				"Etag": "", "Last-Modified": "", "Accept-Ranges": "", "X-Content-Type-Options": "nosniff"}},
		{name: "suffix zero", header: map[string]string{"Range": "bytes=-0"}, status: 416,
			want: map[string]string{"Content-Range": "bytes */36"}},
		{name: "invalid", header: map[string]string{"Range": "bytes=5-1"}, status: 416, body: "invalid range\n",
			want: map[string]string{"Content-Range": "", "Etag": ""}},
		{name: "not bytes", header: map[string]string{"Range": "lines=1-2"}, status: 200}, // RFC 9110 §14.2: ignored
		{name: "empty object range", header: map[string]string{"Range": "bytes=0-10"},
			content: func(c *Content) { c.Size = 0 }, status: 200, want: map[string]string{"Content-Length": "0"}},
		{name: "empty object suffix", header: map[string]string{"Range": "bytes=-10"},
			content: func(c *Content) { c.Size = 0 }, status: 200, want: map[string]string{"Content-Length": "0"}},
		{name: "if-none-match", header: map[string]string{"If-None-Match": testETag}, status: 304,
			want: map[string]string{"Etag": testETag, "Last-Modified": "", "Content-Type": "", "Content-Length": ""}},
		{name: "if-none-match weak", header: map[string]string{"If-None-Match": `W/"v1-abc"`}, status: 304},
		{name: "if-none-match list", header: map[string]string{"If-None-Match": `"x", "v1-abc"`}, status: 304},
		{name: "if-none-match star", header: map[string]string{"If-None-Match": "*"}, status: 304},
		{name: "if-none-match other", header: map[string]string{"If-None-Match": `"x"`}, status: 200},
		{name: "if-none-match beats if-modified-since", header: map[string]string{
			"If-None-Match": `"x"`, "If-Modified-Since": testLastMod}, status: 200},
		{name: "if-modified-since same", header: map[string]string{"If-Modified-Since": testLastMod}, status: 304,
			want: map[string]string{"Etag": testETag, "Last-Modified": ""}},
		{name: "if-modified-since no etag", header: map[string]string{"If-Modified-Since": testLastMod},
			content: func(c *Content) { c.ETag = "" }, status: 304,
			want: map[string]string{"Etag": "", "Last-Modified": testLastMod}},
		{name: "if-modified-since older", header: map[string]string{"If-Modified-Since": "Sat, 01 Mar 2025 12:30:44 GMT"}, status: 200},
		{name: "if-modified-since garbage", header: map[string]string{"If-Modified-Since": "yesterday"}, status: 200},
		{name: "if-match", header: map[string]string{"If-Match": testETag}, status: 200},
		{name: "if-match star", header: map[string]string{"If-Match": "*"}, status: 200},
		{name: "if-match other", header: map[string]string{"If-Match": `"x"`}, status: 412,
			want: map[string]string{"Etag": testETag}},
		{name: "if-match weak", header: map[string]string{"If-Match": `W/"v1-abc"`}, status: 412},
		{name: "if-match beats if-unmodified-since", header: map[string]string{
			"If-Match": testETag, "If-Unmodified-Since": "Sat, 01 Mar 2025 12:00:00 GMT"}, status: 200},
		{name: "if-unmodified-since older", header: map[string]string{"If-Unmodified-Since": "Sat, 01 Mar 2025 12:00:00 GMT"}, status: 412},
		{name: "if-unmodified-since same", header: map[string]string{"If-Unmodified-Since": testLastMod}, status: 200},
		{name: "if-range etag", header: map[string]string{"Range": "bytes=0-1", "If-Range": testETag}, status: 206, body: "01"},
		{name: "if-range other etag", header: map[string]string{"Range": "bytes=0-1", "If-Range": `"x"`}, status: 200, body: string(testData)},
		{name: "if-range weak etag", header: map[string]string{"Range": "bytes=0-1", "If-Range": `W/"v1-abc"`}, status: 200},
		{name: "if-range date", header: map[string]string{"Range": "bytes=0-1", "If-Range": testLastMod}, status: 206, body: "01"},
		{name: "if-range other date", header: map[string]string{"Range": "bytes=0-1", "If-Range": "Sat, 01 Mar 2025 12:30:46 GMT"}, status: 200},
		{name: "if-range garbage", header: map[string]string{"Range": "bytes=0-1", "If-Range": "yes"}, status: 200},
		{name: "if-range invalid range ignored", header: map[string]string{"Range": "bytes=9-1", "If-Range": `"x"`}, status: 200},
		{name: "zero modtime", content: func(c *Content) { c.ModTime = time.Time{} }, status: 200,
			want: map[string]string{"Last-Modified": ""}},
		{name: "epoch modtime", content: func(c *Content) { c.ModTime = time.Unix(0, 0) }, status: 200,
			want: map[string]string{"Last-Modified": ""}},
		{name: "no content type", content: func(c *Content) { c.ContentType = "" }, status: 200,
			want: map[string]string{"Content-Type": "application/octet-stream"}},
		{name: "post", method: "POST", status: 405, want: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Etag": ""}},
		{name: "delete", method: "DELETE", status: 405},
		{name: "options", method: "OPTIONS", status: 204, want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r := httptest.NewRequest(method, "/x.mp4", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			c := testContent()
			if tc.content != nil {
				tc.content(&c)
			}
			var calls atomic.Int32
			w := httptest.NewRecorder()
			if err := Serve(w, r, c, bytesOpen(testData[:c.Size], &calls)); err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %q", w.Code, tc.status, w.Body)
			}
			if method == "HEAD" || tc.status == 304 || tc.status == 412 || tc.status == 416 || tc.status == 405 {
				if n := calls.Load(); n != 0 {
					t.Errorf("open called %d times", n)
				}
			}
			if method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD sent a body of %d bytes", w.Body.Len())
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body, tc.body)
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.parts != nil {
				parts := readParts(t, w.Header().Get("Content-Type"), bytes.NewReader(w.Body.Bytes()))
				if len(parts) != len(tc.parts) {
					t.Fatalf("%d parts, want %d", len(parts), len(tc.parts))
				}
				for i, p := range parts {
					if p.body != tc.parts[i] || p.contentType != "video/mp4" {
						t.Errorf("part %d: %q (%s), want %q", i, p.body, p.contentType, tc.parts[i])
					}
				}
				if cl, _ := strconv.Atoi(w.Header().Get("Content-Length")); cl != w.Body.Len() {
					t.Errorf("Content-Length %d, body %d", cl, w.Body.Len())
				}
			}
		})
	}
}

func TestServe_openFails(t *testing.T) {
	for _, rng := range []string{"", "bytes=0-1", "bytes=0-1,5-6"} {
		r := httptest.NewRequest("GET", "/", nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		w.Header().Set("Cache-Control", "max-age=60")
		boom := errors.New("upstream /secret/path unreachable")
		err := Serve(w, r, testContent(), func(context.Context, int64, int64) (io.ReadCloser, error) { return nil, boom })
		if !errors.Is(err, boom) {
			t.Fatalf("Range %q: Serve = %v, want wrapping %v", rng, err, boom)
		}
		if w.Body.Len() != 0 || w.Flushed {
			t.Fatalf("Range %q: wrote %q", rng, w.Body)
		}
		// Only the caller's own header is left, ready for an error reply.
		if len(w.Header()) != 1 || w.Header().Get("Cache-Control") == "" {
			t.Fatalf("Range %q: headers left behind: %v", rng, w.Header())
		}
	}
}

func TestServe_negativeSize(t *testing.T) {
	w := httptest.NewRecorder()
	c := testContent()
	c.Size = -1
	if err := Serve(w, httptest.NewRequest("GET", "/", nil), c, bytesOpen(testData, nil)); !errors.Is(err, ErrSize) {
		t.Fatalf("Serve = %v, want ErrSize", err)
	}
}

// failingReader returns n bytes of data and then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestServe_abort(t *testing.T) {
	tests := []struct {
		name  string
		rng   string
		open  OpenFunc
		wrote string
	}{
		{"read error", "", func(context.Context, int64, int64) (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{testData[:5], errors.New("reset")}), nil
		}, "01234"},
		{"short reader", "bytes=0-9", func(context.Context, int64, int64) (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{testData[:5], io.EOF}), nil
		}, "01234"},
		{"second part fails", "bytes=0-1,4-5", func() OpenFunc {
			var n int
			return func(ctx context.Context, off, l int64) (io.ReadCloser, error) {
				if n++; n > 1 {
					return nil, errors.New("gone")
				}
				return bytesOpen(testData, nil)(ctx, off, l)
			}
		}(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.rng != "" {
				r.Header.Set("Range", tc.rng)
			}
			w := httptest.NewRecorder()
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Fatalf("panic %v, want http.ErrAbortHandler", p)
				}
				if !strings.Contains(w.Body.String(), tc.wrote) {
					t.Fatalf("wrote %q, want it to contain %q", w.Body, tc.wrote)
				}
			}()
			Serve(w, r, testContent(), tc.open)
			t.Fatal("Serve returned")
		})
	}
}

// TestServe_truncatedOverHTTP checks what a client sees when the body fails
// midway: an error, never a complete-looking response.
func TestServe_truncatedOverHTTP(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := Content{Size: int64(len(big)), ContentType: "video/mp4"}
		Serve(w, r, c, func(context.Context, int64, int64) (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{big[:100_000], errors.New("upstream reset")}), nil
		})
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(big)) {
		t.Fatalf("status %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n >= int64(len(big)) {
		t.Fatalf("read %d bytes, err %v; want a truncated transfer", n, err)
	}
}

// failingWriter is a ResponseWriter whose client has gone away.
type failingWriter struct{ h http.Header }

func (f *failingWriter) Header() http.Header       { return f.h }
func (f *failingWriter) WriteHeader(int)           {}
func (f *failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestServe_clientGone(t *testing.T) {
	for _, rng := range []string{"", "bytes=0-1,4-5"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Range", rng)
		var closed atomic.Int32
		open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
			return readCloser{bytes.NewReader(testData[off : off+n]), func() { closed.Add(1) }}, nil
		}
		if err := Serve(&failingWriter{h: http.Header{}}, r, testContent(), open); err != nil {
			t.Fatalf("Range %q: Serve = %v", rng, err)
		}
		if closed.Load() != 1 {
			t.Fatalf("Range %q: %d readers closed, want 1", rng, closed.Load())
		}
	}
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }

func TestServe_openContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	var got any
	Serve(httptest.NewRecorder(), r, testContent(), func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		got = ctx.Value(key{})
		return bytesOpen(testData, nil)(ctx, off, n)
	})
	if got != "v" {
		t.Fatal("open did not get the request's context")
	}
}

func TestServe_callerHeaders(t *testing.T) {
	// An ETag and Content-Type set by the caller are used when Content
	// leaves them empty, as with net/http.ServeContent.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("If-None-Match", `"caller"`)
	w := httptest.NewRecorder()
	w.Header().Set("Etag", `"caller"`)
	c := testContent()
	c.ETag = ""
	Serve(w, r, c, bytesOpen(testData, nil))
	if w.Code != 304 {
		t.Fatalf("status %d, want 304", w.Code)
	}
	// Content-Encoding set: a full response has no Content-Length.
	w = httptest.NewRecorder()
	w.Header().Set("Content-Encoding", "gzip")
	Serve(w, httptest.NewRequest("GET", "/", nil), testContent(), bytesOpen(testData, nil))
	if w.Header().Get("Content-Length") != "" {
		t.Fatalf("Content-Length %q with Content-Encoding", w.Header().Get("Content-Length"))
	}
}

// wtReader serves data through WriteTo, then fails with err (nil: success).
type wtReader struct {
	data []byte
	err  error
}

func (r *wtReader) Read(p []byte) (int, error) { panic("Read called on a WriterTo reader") }
func (r *wtReader) Close() error               { return nil }
func (r *wtReader) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.data)
	if err != nil {
		return int64(n), err
	}
	return int64(n), r.err
}

// Readers that implement io.WriterTo write straight to the response; their
// failures still abort it, and a client that goes away is still not an
// abort.
func TestServe_writerTo(t *testing.T) {
	ok := func(context.Context, int64, int64) (io.ReadCloser, error) {
		return &wtReader{data: testData}, nil
	}
	w := httptest.NewRecorder()
	if err := Serve(w, httptest.NewRequest("GET", "/", nil), testContent(), ok); err != nil || w.Body.String() != string(testData) {
		t.Fatalf("Serve = %v, body %q", err, w.Body)
	}
	if err := Serve(&failingWriter{h: http.Header{}}, httptest.NewRequest("GET", "/", nil), testContent(), ok); err != nil {
		t.Fatalf("client gone: Serve = %v", err)
	}
	for name, open := range map[string]OpenFunc{
		"read error": func(context.Context, int64, int64) (io.ReadCloser, error) {
			return &wtReader{data: testData[:5], err: errors.New("upstream reset")}, nil
		},
		"short": func(context.Context, int64, int64) (io.ReadCloser, error) {
			return &wtReader{data: testData[:5]}, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Fatalf("panic %v, want http.ErrAbortHandler", p)
				}
			}()
			Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), testContent(), open)
			t.Fatal("Serve returned")
		})
	}
}

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		method string
		goOn   bool
		status int
	}{
		{"GET", true, 200},
		{"HEAD", true, 200},
		{"OPTIONS", false, 204},
		{"POST", false, 405},
		{"DELETE", false, 405},
	} {
		w := httptest.NewRecorder()
		if got := ReadOnly(w, httptest.NewRequest(tc.method, "/", nil)); got != tc.goOn || w.Code != tc.status {
			t.Errorf("%s: %v %d, want %v %d", tc.method, got, w.Code, tc.goOn, tc.status)
		}
		if !tc.goOn && w.Header().Get("Allow") != Allow {
			t.Errorf("%s: Allow %q", tc.method, w.Header().Get("Allow"))
		}
	}
}
