package httpserve

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file is the differential model: net/http.ServeContent, run on a
// request adjusted for the deviations documented in the package doc.

// stdRangeHeader rewrites a Range header for net/http so that it asks for
// what Serve serves: a suffix range selecting no bytes ("-0", or any suffix
// of an empty object), which Serve treats as unsatisfiable, becomes "size-",
// which net/http also finds unsatisfiable. Everything else is unchanged.
//
// Serve's unit rules are modelled too: a header whose unit is "bytes" in
// another case gets the lower-case unit, and one with another unit, or none,
// is dropped ("").
func stdRangeHeader(h string, size int64) string {
	const prefix = "bytes="
	unit, set, ok := strings.Cut(h, "=")
	switch {
	case h == "":
		return ""
	case !ok || !strings.EqualFold(unit, "bytes"):
		return ""
	}
	h = prefix + set
	specs := strings.Split(h[len(prefix):], ",")
	for i, spec := range specs {
		first, last, ok := strings.Cut(strings.Trim(spec, " \t\r\n"), "-")
		first, last = strings.Trim(first, " \t\r\n"), strings.Trim(last, " \t\r\n")
		if !ok || first != "" || last == "" || last[0] == '-' {
			continue
		}
		if n, err := strconv.ParseInt(last, 10, 64); err == nil && n >= 0 && min(n, size) == 0 {
			specs[i] = strconv.FormatInt(size, 10) + "-"
		}
	}
	return prefix + strings.Join(specs, ",")
}

// zeros is an io.ReaderAt of zero bytes.
type zeros struct{}

func (zeros) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// stdResult is what net/http.ServeContent did with a Range header.
type stdResult struct {
	status    int
	ranges    []Range // for 206
	noOverlap bool    // 416 with "Content-Range: bytes */size"
}

// stdParseRange serves a GET with the Range header h for an object of size
// zero bytes through net/http.ServeContent and reads back which ranges it
// sent. size should be small: the body is generated.
func stdParseRange(t testing.TB, h string, size int64) stdResult {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Range", stdRangeHeader(h, size))
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(zeros{}, 0, size))
	res := stdResult{status: w.Code}
	switch w.Code {
	case http.StatusOK:
	case http.StatusRequestedRangeNotSatisfiable:
		res.noOverlap = w.Header().Get("Content-Range") == fmt.Sprintf("bytes */%d", size)
	case http.StatusPartialContent:
		if cr := w.Header().Get("Content-Range"); cr != "" {
			res.ranges = []Range{parseContentRange(t, cr, size)}
			break
		}
		for _, p := range readParts(t, w.Header().Get("Content-Type"), w.Body) {
			res.ranges = append(res.ranges, parseContentRange(t, p.contentRange, size))
		}
	default:
		t.Fatalf("net/http answered Range %q with %d", h, w.Code)
	}
	return res
}

// parseContentRange parses "bytes a-b/size".
func parseContentRange(t testing.TB, v string, size int64) Range {
	t.Helper()
	var a, b, n int64
	if _, err := fmt.Sscanf(v, "bytes %d-%d/%d", &a, &b, &n); err != nil || n != size {
		t.Fatalf("bad Content-Range %q for size %d: %v", v, size, err)
	}
	return Range{Start: a, Length: b - a + 1}
}

// part is one part of a multipart/byteranges body.
type part struct {
	contentRange, contentType string
	body                      string
}

// readParts splits a multipart/byteranges body.
func readParts(t testing.TB, contentType string, body io.Reader) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: want multipart/byteranges with a boundary (%v)", contentType, err)
	}
	mr := multipart.NewReader(body, params["boundary"])
	var parts []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("multipart part: %v", err)
		}
		parts = append(parts, part{p.Header.Get("Content-Range"), p.Header.Get("Content-Type"), string(b)})
	}
}

// agree checks ParseRange's answer against net/http's for the same header.
func agree(t testing.TB, h string, size int64, ours []Range, err error, std stdResult) {
	t.Helper()
	switch std.status {
	case http.StatusRequestedRangeNotSatisfiable:
		want := ErrInvalid
		if std.noOverlap {
			want = ErrNoOverlap
		}
		if err != want {
			t.Fatalf("ParseRange(%q, %d) = %v, %v; net/http: 416 (%v)", h, size, ours, err, want)
		}
	case http.StatusOK:
		// No ranges; or ranges net/http ignored because they add up to more
		// than the object; or unsatisfiable ranges of an empty object.
		ok := err == nil && (len(ours) == 0 || sumExceeds(ours, size)) ||
			err == ErrNoOverlap && size == 0
		if !ok {
			t.Fatalf("ParseRange(%q, %d) = %v, %v; net/http sent the whole object", h, size, ours, err)
		}
	case http.StatusPartialContent:
		if err != nil || fmt.Sprint(ours) != fmt.Sprint(std.ranges) {
			t.Fatalf("ParseRange(%q, %d) = %v, %v; net/http sent %v", h, size, ours, err, std.ranges)
		}
	}
}
