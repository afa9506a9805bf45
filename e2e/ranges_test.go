package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// blockSize is the origin's block size for objects up to 16 GiB.
const blockSize = 256 << 10

// rangeCase is one request of TestRangesMatchOrigin.
type rangeCase struct {
	kind   string
	method string
	header http.Header
	// want, if not zero, is the status the origin itself must give: a check
	// that the case tests what it says, independent of the edge.
	want int
}

// TestRangesMatchOrigin sends the same 500 random Range and conditional
// requests to the origin and to the edge and requires identical answers:
// status, Content-Range, Content-Length, Content-Type, ETag, Last-Modified
// and body (for multipart/byteranges, every part). Every 206 body is also
// checked against the file itself.
func TestRangesMatchOrigin(t *testing.T) {
	c := startCluster(t)
	const rel = "ranges.bin"
	data := c.content.read(t, rel)
	size := int64(len(data))

	// The ETag the cases use comes from the origin, and the edge must give
	// the same one (it is passed on unchanged from the origin).
	etag := headETag(t, c.originURL("/"+rel))
	if e := headETag(t, c.edgeURL("/"+rel)); e != etag {
		t.Fatalf("edge ETag %q, origin ETag %q", e, etag)
	}

	const seed = 20261121
	cases := rangeCases(rand.New(rand.NewPCG(seed, 0)), size, etag, 500)
	t.Logf("%d cases from seed %d over %s (%d bytes, %d blocks of %d)", len(cases), seed, rel, size, (size+blockSize-1)/blockSize, blockSize)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kinds := map[string]int{}
	failures := 0
	// Bodies are read into two buffers used over and over: allocating
	// megabytes per request is what costs most under the race detector.
	var obuf, ebuf bytes.Buffer
	for i, tc := range cases {
		kinds[tc.kind]++
		o, err := doRequestInto(ctx, tc.method, c.originURL("/"+rel), tc.header, &obuf)
		if err != nil {
			t.Fatalf("case %d (%s %v): origin: %v", i, tc.kind, tc.header, err)
		}
		e, err := doRequestInto(ctx, tc.method, c.edgeURL("/"+rel), tc.header, &ebuf)
		if err != nil {
			t.Fatalf("case %d (%s %v): edge: %v", i, tc.kind, tc.header, err)
		}
		var problems []string
		if tc.want != 0 && o.status != tc.want {
			problems = append(problems, fmt.Sprintf("origin status %d, the case expects %d", o.status, tc.want))
		}
		if tc.kind == "unsatisfiable" {
			if cr, want := e.header.Get("Content-Range"), fmt.Sprintf("bytes */%d", size); cr != want {
				problems = append(problems, fmt.Sprintf("edge: 416 with Content-Range %q, want %q", cr, want))
			}
		}
		problems = append(problems, compareResponses(o, e)...)
		problems = append(problems, checkAgainstFile(e, data, tc.method)...)
		if len(problems) > 0 {
			failures++
			t.Errorf("case %d (%s %s %v):\n  %s", i, tc.kind, tc.method, tc.header, strings.Join(problems, "\n  "))
			if failures >= 10 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("cases by kind: %v", kinds)
}

func headETag(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := doRequest(ctx, http.MethodHead, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK || r.header.Get("Etag") == "" {
		t.Fatalf("HEAD %s: status %d, ETag %q", url, r.status, r.header.Get("Etag"))
	}
	return r.header.Get("Etag")
}

// rangeCases makes n requests for an object of size bytes.
func rangeCases(rng *rand.Rand, size int64, etag string, n int) []rangeCase {
	blocks := (size + blockSize - 1) / blockSize
	r := func(n int64) int64 { return rng.Int64N(n) }
	get := func(kind string, want int, kv ...string) rangeCase {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return rangeCase{kind: kind, method: http.MethodGet, header: h, want: want}
	}
	span := func(a, b int64) string { return fmt.Sprintf("bytes=%d-%d", a, b) }
	// crossing returns a range that starts in one block and ends in a later
	// one (or in the same block, right at its edge).
	crossing := func() (int64, int64) {
		k := 1 + r(blocks-1) // a block boundary inside the object
		a := max(0, k*blockSize-1-r(blockSize))
		b := min(size-1, k*blockSize+r(2*blockSize))
		return a, b
	}
	var cases []rangeCase
	for len(cases) < n {
		switch k := rng.IntN(20); k {
		case 0, 1, 2:
			a := r(size)
			b := a + r(min(size-a, 1<<20))
			cases = append(cases, get("closed", 206, "Range", span(a, b)))
		case 3, 4, 5:
			a, b := crossing()
			cases = append(cases, get("block-crossing", 206, "Range", span(a, b)))
		case 6:
			// One byte on each side of a block boundary, and the
			// boundary's first and last bytes alone.
			e := (1 + r(blocks-1)) * blockSize
			switch rng.IntN(3) {
			case 0:
				cases = append(cases, get("boundary-2-bytes", 206, "Range", span(e-1, e)))
			case 1:
				cases = append(cases, get("boundary-last-byte", 206, "Range", span(e-1, e-1)))
			default:
				cases = append(cases, get("boundary-first-byte", 206, "Range", span(e, e)))
			}
		case 7, 8:
			// Suffix ranges, sometimes longer than the object (then the
			// whole object, as 206).
			m := 1 + r(size+size/8)
			cases = append(cases, get("suffix", 206, "Range", fmt.Sprintf("bytes=-%d", m)))
		case 9, 10:
			a := r(size)
			if rng.IntN(4) == 0 {
				a = size - 1 - r(3*blockSize) // near the short last block
			}
			cases = append(cases, get("open-ended", 206, "Range", fmt.Sprintf("bytes=%d-", a)))
		case 11:
			// Past the end: 416 with Content-Range "bytes */size".
			a := size + r(1<<20)
			switch rng.IntN(3) {
			case 0:
				cases = append(cases, get("unsatisfiable", 416, "Range", fmt.Sprintf("bytes=%d-", a)))
			case 1:
				cases = append(cases, get("unsatisfiable", 416, "Range", span(a, a+r(1000))))
			default:
				cases = append(cases, get("unsatisfiable", 416, "Range", "bytes=-0"))
			}
		case 12:
			a, b := crossing()
			cases = append(cases, get("if-range-match", 206, "Range", span(a, b), "If-Range", etag))
		case 13:
			a, b := crossing()
			cases = append(cases, get("if-range-stale", 200, "Range", span(a, b), "If-Range", `"not-the-etag"`))
		case 14:
			switch rng.IntN(3) {
			case 0:
				cases = append(cases, get("if-none-match", 304, "If-None-Match", etag))
			case 1:
				a, b := crossing()
				cases = append(cases, get("if-none-match+range", 304, "If-None-Match", `"x", `+etag, "Range", span(a, b)))
			default:
				a, b := crossing()
				cases = append(cases, get("if-none-match-other", 206, "If-None-Match", `"not-the-etag"`, "Range", span(a, b)))
			}
		case 15:
			// Several ranges: multipart/byteranges.
			a1, b1 := crossing()
			a2 := r(size)
			b2 := a2 + r(min(size-a2, 1<<20))
			cases = append(cases, get("multi", 206, "Range", fmt.Sprintf("bytes=%d-%d, %d-%d,-%d", a1, b1, a2, b2, 1+r(1000))))
		case 16:
			// Malformed or odd Range values: whatever the origin does
			// (net/http's behaviour, e.g. 416 for an unknown unit), the
			// edge must do too.
			bad := []string{"bytes=5-2", "bytes=abc", "items=0-5", "bytes=", "bytes=0-1,", "bytes=--5", fmt.Sprintf("bytes=%d-%d", size-10, size+10)}
			cases = append(cases, get("odd", 0, "Range", bad[rng.IntN(len(bad))]))
		case 17:
			cases = append(cases, get("whole", 200))
		case 18:
			a, b := crossing()
			h := http.Header{}
			h.Set("Range", span(a, b))
			cases = append(cases, rangeCase{kind: "head-range", method: http.MethodHead, header: h, want: 206})
		default:
			cases = append(cases, get("if-match", 206, "If-Match", etag, "Range", span(r(size), size-1)))
		}
	}
	return cases
}

// response is what TestRangesMatchOrigin compares.
type response struct {
	status int
	header http.Header
	body   []byte
}

func doRequest(ctx context.Context, method, url string, h http.Header) (response, error) {
	return doRequestInto(ctx, method, url, h, new(bytes.Buffer))
}

// doRequestInto reads the body into buf, which it resets first; the
// response's body is valid until buf is used again.
func doRequestInto(ctx context.Context, method, url string, h http.Header, body *bytes.Buffer) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return response{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body.Reset()
	if resp.ContentLength > 0 {
		body.Grow(int(resp.ContentLength))
	}
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return response{}, fmt.Errorf("status %d, body after %d bytes: %w", resp.StatusCode, body.Len(), err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body.Bytes()}, nil
}

// compareResponses lists the differences between the origin's and the
// edge's answers.
func compareResponses(o, e response) []string {
	var p []string
	if o.status != e.status {
		p = append(p, fmt.Sprintf("status: origin %d, edge %d", o.status, e.status))
	}
	for _, k := range []string{"Content-Range", "Content-Length", "Etag", "Last-Modified", "Accept-Ranges"} {
		if ov, ev := o.header.Values(k), e.header.Values(k); strings.Join(ov, "|") != strings.Join(ev, "|") {
			p = append(p, fmt.Sprintf("%s: origin %q, edge %q", k, ov, ev))
		}
	}
	oct, oparams, _ := mime.ParseMediaType(o.header.Get("Content-Type"))
	ect, eparams, _ := mime.ParseMediaType(e.header.Get("Content-Type"))
	if oct != ect {
		p = append(p, fmt.Sprintf("Content-Type: origin %q, edge %q", o.header.Get("Content-Type"), e.header.Get("Content-Type")))
	}
	if oct == "multipart/byteranges" && ect == oct {
		op, err1 := parseParts(o.body, oparams["boundary"])
		ep, err2 := parseParts(e.body, eparams["boundary"])
		switch {
		case err1 != nil || err2 != nil:
			p = append(p, fmt.Sprintf("multipart: origin %v, edge %v", err1, err2))
		case len(op) != len(ep):
			p = append(p, fmt.Sprintf("multipart: origin %d parts, edge %d", len(op), len(ep)))
		default:
			for i := range op {
				if op[i].contentRange != ep[i].contentRange || op[i].contentType != ep[i].contentType || !bytes.Equal(op[i].body, ep[i].body) {
					p = append(p, fmt.Sprintf("part %d: origin %q %q (%d bytes), edge %q %q (%d bytes)", i,
						op[i].contentRange, op[i].contentType, len(op[i].body), ep[i].contentRange, ep[i].contentType, len(ep[i].body)))
				}
			}
		}
		return p
	}
	if o.status < 400 && !bytes.Equal(o.body, e.body) {
		p = append(p, fmt.Sprintf("body: origin %d bytes, edge %d bytes, differ", len(o.body), len(e.body)))
	}
	return p
}

type part struct {
	contentRange, contentType string
	body                      []byte
}

func parseParts(body []byte, boundary string) ([]part, error) {
	if boundary == "" {
		return nil, fmt.Errorf("no boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []part
	for {
		pt, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(pt)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{pt.Header.Get("Content-Range"), pt.Header.Get("Content-Type"), b})
	}
}

// checkAgainstFile checks a response from the edge against the file: a 200
// carries all of it, a 206 the bytes its Content-Range names, a 416 names
// the size.
func checkAgainstFile(r response, data []byte, method string) []string {
	size := int64(len(data))
	var p []string
	check := func(cr string, body []byte) {
		a, b, total, err := parseContentRange(cr)
		switch {
		case err != nil:
			p = append(p, fmt.Sprintf("Content-Range %q: %v", cr, err))
		case total != size || a > b || b >= size:
			p = append(p, fmt.Sprintf("Content-Range %q does not fit an object of %d bytes", cr, size))
		case method == http.MethodGet && !bytes.Equal(body, data[a:b+1]):
			p = append(p, fmt.Sprintf("body of %d bytes is not bytes %d-%d of the file", len(body), a, b))
		}
	}
	switch r.status {
	case http.StatusOK:
		if method == http.MethodGet && !bytes.Equal(r.body, data) {
			p = append(p, fmt.Sprintf("200 body of %d bytes is not the file (%d bytes)", len(r.body), size))
		}
	case http.StatusPartialContent:
		ct, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
		if ct != "multipart/byteranges" {
			check(r.header.Get("Content-Range"), r.body)
			break
		}
		if method != http.MethodGet {
			break
		}
		parts, err := parseParts(r.body, params["boundary"])
		if err != nil {
			p = append(p, fmt.Sprintf("multipart: %v", err))
		}
		for _, pt := range parts {
			check(pt.contentRange, pt.body)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// Like net/http, a malformed Range gets 416 without Content-Range;
		// a well-formed one past the end gets "bytes */size".
		if cr, want := r.header.Get("Content-Range"), fmt.Sprintf("bytes */%d", size); cr != "" && cr != want {
			p = append(p, fmt.Sprintf("416 with Content-Range %q, want %q", cr, want))
		}
	}
	return p
}

// parseContentRange parses "bytes A-B/TOTAL".
func parseContentRange(s string) (a, b, total int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, fmt.Errorf("not a byte range")
	}
	ab, tot, ok := strings.Cut(rest, "/")
	as, bs, ok2 := strings.Cut(ab, "-")
	if !ok || !ok2 {
		return 0, 0, 0, fmt.Errorf("malformed")
	}
	if a, err = strconv.ParseInt(as, 10, 64); err == nil {
		if b, err = strconv.ParseInt(bs, 10, 64); err == nil {
			total, err = strconv.ParseInt(tot, 10, 64)
		}
	}
	return a, b, total, err
}
