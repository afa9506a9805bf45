package httpserve

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	diffCases = flag.Int("diff.cases", 4000, "number of random requests in TestServe_differential")
	diffSeed  = flag.Uint64("diff.seed", 1, "seed for TestServe_differential")
)

// diffCase is one random object and one random request for it.
type diffCase struct {
	data    []byte
	etag    string
	modtime time.Time
	ctype   string
	method  string
	header  http.Header
}

// TestServe_differential serves the same random objects through Serve and
// through net/http.ServeContent (given a bytes.Reader, the same ETag,
// modification time and Content-Type) for thousands of random requests, and
// requires identical status, body and headers. The Range header sent to
// net/http is adjusted only for Serve's documented deviation
// (stdRangeHeader). Rerun with -diff.seed=N for other cases.
func TestServe_differential(t *testing.T) {
	rng := rand.New(rand.NewPCG(*diffSeed, 0x5eed))
	cases := make([]diffCase, *diffCases)
	for i := range cases {
		cases[i] = randomCase(rng)
	}
	// The cases are built before the server starts and only read after,
	// so the handlers need no locking.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		which, idx, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(cases) {
			http.Error(w, "no case", 500)
			return
		}
		c := cases[i]
		switch which {
		case "std":
			if c.etag != "" {
				w.Header().Set("Etag", c.etag)
			}
			w.Header().Set("Content-Type", c.ctype)
			http.ServeContent(w, r, "", c.modtime, bytes.NewReader(c.data))
		case "ours":
			content := Content{Size: int64(len(c.data)), ModTime: c.modtime, ETag: c.etag, ContentType: c.ctype}
			if err := Serve(w, r, content, bytesOpen(c.data, nil)); err != nil {
				t.Errorf("case %d: Serve: %v", i, err)
			}
		}
	}))
	defer srv.Close()
	client := srv.Client()

	statuses := map[int]int{}
	multipart, failures := 0, 0
	for i, c := range cases {
		std := fetch(t, client, srv.URL+"/std/"+strconv.Itoa(i), c, true)
		ours := fetch(t, client, srv.URL+"/ours/"+strconv.Itoa(i), c, false)
		statuses[ours.status]++
		if strings.HasPrefix(ours.header.Get("Content-Type"), "multipart/") {
			multipart++
		}
		if err := compare(std, ours); err != nil {
			t.Errorf("case %d: %s size=%d etag=%s modtime=%v\n  headers: %v\n  %v",
				i, c.method, len(c.data), c.etag, c.modtime, c.header, err)
			if failures++; failures == 20 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d cases, statuses %v, %d multipart", len(cases), statuses, multipart)
	// The generator must reach every outcome, or the test proves little.
	for _, s := range []int{200, 206, 304, 412, 416} {
		if statuses[s] < len(cases)/100 {
			t.Errorf("only %d responses with status %d", statuses[s], s)
		}
	}
	if multipart < len(cases)/100 {
		t.Errorf("only %d multipart responses", multipart)
	}
}

// response is what the comparison looks at.
type response struct {
	status int
	header http.Header
	body   []byte
}

func fetch(t *testing.T, client *http.Client, url string, c diffCase, std bool) response {
	t.Helper()
	req, err := http.NewRequest(c.method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if std && req.Header.Get("Range") != "" {
		if h := stdRangeHeader(req.Header.Get("Range"), int64(len(c.data))); h != "" {
			req.Header.Set("Range", h)
		} else {
			req.Header.Del("Range")
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

var comparedHeaders = []string{"Content-Range", "Content-Length", "Etag", "Last-Modified", "Accept-Ranges", "X-Content-Type-Options"}

func compare(std, ours response) error {
	if std.status != ours.status {
		return fmt.Errorf("status: net/http %d, Serve %d", std.status, ours.status)
	}
	for _, k := range comparedHeaders {
		if a, b := std.header.Values(k), ours.header.Values(k); fmt.Sprint(a) != fmt.Sprint(b) {
			return fmt.Errorf("%s: net/http %q, Serve %q", k, a, b)
		}
	}
	sct, oct := std.header.Get("Content-Type"), ours.header.Get("Content-Type")
	if !strings.HasPrefix(sct, "multipart/byteranges") {
		if sct != oct {
			return fmt.Errorf("Content-Type: net/http %q, Serve %q", sct, oct)
		}
		if !bytes.Equal(std.body, ours.body) {
			return fmt.Errorf("body: net/http %d bytes %.40q, Serve %d bytes %.40q", len(std.body), std.body, len(ours.body), ours.body)
		}
		return nil
	}
	// Boundaries are random: compare the parts.
	if mt, _, _ := mime.ParseMediaType(oct); mt != "multipart/byteranges" {
		return fmt.Errorf("Content-Type: net/http %q, Serve %q", sct, oct)
	}
	if len(std.body) == 0 && len(ours.body) == 0 {
		return nil // HEAD
	}
	var sp, op []part
	if err := catchFatal(func(t testing.TB) { sp = readParts(t, sct, bytes.NewReader(std.body)) }); err != nil {
		return fmt.Errorf("net/http body: %v", err)
	}
	if err := catchFatal(func(t testing.TB) { op = readParts(t, oct, bytes.NewReader(ours.body)) }); err != nil {
		return fmt.Errorf("Serve body: %v", err)
	}
	if fmt.Sprint(sp) != fmt.Sprint(op) {
		return fmt.Errorf("parts: net/http %.200v, Serve %.200v", sp, op)
	}
	return nil
}

// catchFatal runs f with a testing.TB whose Fatalf returns an error instead
// of ending the test.
func catchFatal(f func(testing.TB)) (err error) {
	ft := &fatalTB{}
	defer func() {
		if p := recover(); p != nil {
			if p != ft {
				panic(p)
			}
			err = ft.err
		}
	}()
	f(ft)
	return nil
}

type fatalTB struct {
	testing.TB
	err error
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.err = fmt.Errorf(format, args...)
	panic(f)
}

// randomCase draws an object and a request with headers chosen to hit
// boundaries: ranges at and past the ends, suffix and open ranges,
// overlaps, junk, and validators that match, almost match or do not.
func randomCase(rng *rand.Rand) diffCase {
	sizes := []int{0, 1, 2, 10, 100, 1000, 4096, 5000, rng.IntN(20000)}
	data := make([]byte, sizes[rng.IntN(len(sizes))])
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	etags := []string{"", `"v1"`, `"abc-123"`, `W/"weak"`, `""`}
	modtimes := []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		time.Date(2024, 5, 6, 7, 8, 9, rng.IntN(1e9), time.UTC),
		time.Unix(rng.Int64N(2e9), rng.Int64N(1e9)),
	}
	c := diffCase{
		data:    data,
		etag:    etags[rng.IntN(len(etags))],
		modtime: modtimes[rng.IntN(len(modtimes))],
		ctype:   []string{"video/mp4", "application/vnd.apple.mpegurl", "text/plain; charset=utf-8"}[rng.IntN(3)],
		method:  "GET",
		header:  http.Header{},
	}
	if rng.IntN(5) == 0 {
		c.method = "HEAD"
	}
	size := int64(len(data))
	if rng.IntN(10) < 7 {
		c.header.Set("Range", randomRange(rng, size))
	}
	if rng.IntN(6) == 0 {
		c.header.Set("If-Match", randomETagList(rng, c.etag))
	}
	if rng.IntN(5) == 0 {
		c.header.Set("If-None-Match", randomETagList(rng, c.etag))
	}
	if rng.IntN(6) == 0 {
		c.header.Set("If-Modified-Since", randomDate(rng, c.modtime))
	}
	if rng.IntN(6) == 0 {
		c.header.Set("If-Unmodified-Since", randomDate(rng, c.modtime))
	}
	if rng.IntN(4) == 0 {
		if rng.IntN(2) == 0 {
			c.header.Set("If-Range", randomETagList(rng, c.etag))
		} else {
			c.header.Set("If-Range", randomDate(rng, c.modtime))
		}
	}
	return c
}

func randomRange(rng *rand.Rand, size int64) string {
	num := func() string {
		switch rng.IntN(10) {
		case 0:
			return "0"
		case 1:
			return strconv.FormatInt(size-1, 10)
		case 2:
			return strconv.FormatInt(size, 10)
		case 3:
			return strconv.FormatInt(size+1, 10)
		case 4:
			return []string{"9223372036854775807", "99999999999999999999", "+3", " 7 ", "", "x"}[rng.IntN(6)]
		case 5:
			return strconv.FormatInt(rng.Int64N(2*size+2), 10)
		default:
			return strconv.FormatInt(rng.Int64N(size+1), 10)
		}
	}
	spec := func() string {
		switch rng.IntN(12) {
		case 0, 1, 2, 3:
			a := rng.Int64N(size + 1)
			b := a + rng.Int64N(size/2+2) - 1
			return strconv.FormatInt(a, 10) + "-" + strconv.FormatInt(b, 10)
		case 4, 5:
			return num() + "-" + num()
		case 6:
			return num() + "-"
		case 7, 8:
			return "-" + num()
		case 9:
			return "-0"
		case 10:
			return " " + num() + " - " + num() + "\t"
		default:
			return []string{"", "x", "1", "--1", "1-2-3", "-", "0--0", "-+1", "5-4", "-" + strconv.FormatInt(size, 10)}[rng.IntN(10)]
		}
	}
	n := 1 + rng.IntN(3)
	if rng.IntN(4) == 0 {
		n += rng.IntN(8)
	}
	specs := make([]string, n)
	for i := range specs {
		specs[i] = spec()
	}
	prefix := "bytes="
	if rng.IntN(20) == 0 {
		prefix = []string{"Bytes=", "bytes =", "items=", "", "bytes= "}[rng.IntN(5)]
	}
	sep := []string{",", ",", ", ", " , ", ",,"}[rng.IntN(5)]
	return prefix + strings.Join(specs, sep)
}

func randomETagList(rng *rand.Rand, etag string) string {
	candidates := []string{
		etag, etag, `"other"`, `W/"other"`, "*", "garbage", `"unterminated`, ",",
		"W/" + strings.TrimPrefix(etag, "W/"), strings.TrimPrefix(etag, "W/"),
		`"other", ` + etag, `"a",,"b"`, ` ` + etag + ` `,
	}
	return candidates[rng.IntN(len(candidates))]
}

func randomDate(rng *rand.Rand, modtime time.Time) string {
	t := modtime
	switch rng.IntN(6) {
	case 0:
		t = t.Add(-time.Second)
	case 1:
		t = t.Add(time.Second)
	case 2:
		t = t.Add(time.Duration(rng.Int64N(int64(48*time.Hour))) - 24*time.Hour)
	}
	switch rng.IntN(8) {
	case 0:
		return t.UTC().Format(time.RFC850)
	case 1:
		return t.UTC().Format(time.ANSIC)
	case 2:
		return []string{"yesterday", "", "Thu, 01 Jan 1970 00:00:00 GMT", "Mon, 32 Jan 2024 00:00:00 GMT"}[rng.IntN(4)]
	}
	return t.UTC().Format(http.TimeFormat)
}
