package httpserve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks measure Serve and not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

var benchCases = []struct {
	name  string
	rng   string
	bytes int64
}{
	{"full", "", 1 << 20},
	{"range", "bytes=262144-786431", 1 << 19},
	{"suffix", "bytes=-65536", 1 << 16},
	{"multi4", "bytes=0-65535,262144-327679,524288-589823,-65536", 4 << 16},
}

// BenchmarkServe serves a 1 MiB object from memory through Serve.
func BenchmarkServe(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	c := Content{Size: int64(len(data)), ModTime: time.Now(), ETag: `"bench"`, ContentType: "video/mp4"}
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data[off : off+n])), nil
	}
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			if bc.rng != "" {
				r.Header.Set("Range", bc.rng)
			}
			w := &discardWriter{h: http.Header{}}
			b.SetBytes(bc.bytes)
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				if err := Serve(w, r, c, open); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServeContent is the plain alternative, net/http.ServeContent on
// the same object, for comparison with BenchmarkServe.
func BenchmarkServeContent(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	mod := time.Now()
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			if bc.rng != "" {
				r.Header.Set("Range", bc.rng)
			}
			w := &discardWriter{h: http.Header{}}
			b.SetBytes(bc.bytes)
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.h.Set("Etag", `"bench"`)
				w.h.Set("Content-Type", "video/mp4")
				http.ServeContent(w, r, "", mod, bytes.NewReader(data))
			}
		})
	}
}
