package httpserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"time"
)

// Content describes the object to serve.
type Content struct {
	// Size is the object's total length in bytes. It must be known before
	// the response starts, since it appears in Content-Length and
	// Content-Range.
	Size int64
	// ModTime is the modification time, sent as Last-Modified and used for
	// If-Modified-Since, If-Unmodified-Since and If-Range. The zero time
	// and the Unix epoch mean unknown: no Last-Modified is sent.
	ModTime time.Time
	// ETag is the entity tag including its quotes ("x" or W/"x"), sent as
	// ETag and used for If-Match, If-None-Match and If-Range. Empty means
	// use the ETag header the caller set on the ResponseWriter, if any.
	ETag string
	// ContentType is sent as Content-Type. Empty means use the header the
	// caller set, if any, else application/octet-stream; see [ContentType].
	ContentType string
}

// OpenFunc returns a reader of exactly n bytes of the object, starting at
// offset off; n > 0 and off+n <= Size. The reader may block while the bytes
// are still arriving, and should give up when ctx (the request's context) is
// done. A reader that ends early or fails is a failure of the response.
// Serve closes every reader it opens.
type OpenFunc func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// Allow is the value of the Allow header: the methods Serve answers.
const Allow = "GET, HEAD, OPTIONS"

// ErrSize is returned by Serve, having written nothing, for a negative
// Content.Size.
var ErrSize = errors.New("httpserve: negative content size")

// headers that Serve may set on w before it knows whether open succeeds;
// they are put back as they were if it fails.
var managed = [...]string{"Etag", "Last-Modified", "Content-Type", "Content-Range", "Accept-Ranges", "Content-Length"}

// Serve answers r with the object c, reading its bytes through open, with
// the semantics of net/http.ServeContent (see the package doc for the few
// deliberate differences).
//
// Responses it writes itself, without calling open: 304 and 412 from the
// conditional headers; 416 for an invalid or unsatisfiable Range; every
// HEAD response; 204 for OPTIONS and 405 for other methods. For a GET it
// calls open once per range (once for a plain 200) and copies exactly the
// range's bytes.
//
// Errors: if open fails for the first range, Serve returns the error
// wrapped, having written nothing at all (any header it had set is put
// back); the caller chooses the status, typically 502, 503 or 504, and must
// not send the error's text. Once the headers have gone out there is no way
// to report a failure with a status: if a reader fails or ends early, or
// opening a later part of a multipart response fails, Serve panics with
// http.ErrAbortHandler, which net/http's server recovers silently by
// closing the connection (HTTP/1) or resetting the stream (HTTP/2), so the
// client sees a truncated transfer rather than a complete-looking one.
// Middleware between the server and Serve must let that panic through. A
// failure to write to the client (it went away) just ends the response:
// Serve returns nil.
func Serve(w http.ResponseWriter, r *http.Request, c Content, open OpenFunc) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", Allow)
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		w.Header().Set("Allow", Allow)
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return nil
	}
	if c.Size < 0 {
		return ErrSize
	}
	h := w.Header()
	var saved [len(managed)][]string
	for i, k := range managed {
		saved[i] = h[k]
	}
	restore := func() {
		for i, k := range managed {
			if saved[i] == nil {
				delete(h, k)
			} else {
				h[k] = saved[i]
			}
		}
	}

	etag := c.ETag
	if etag != "" {
		h.Set("Etag", etag)
	} else {
		etag = h.Get("Etag")
	}
	if !unknownTime(c.ModTime) {
		h.Set("Last-Modified", c.ModTime.UTC().Format(http.TimeFormat))
	}
	ctype := c.ContentType
	if ctype != "" {
		h.Set("Content-Type", ctype)
	} else if v, ok := h["Content-Type"]; ok {
		// Set by the caller; an explicitly empty value means "send none".
		if len(v) > 0 {
			ctype = v[0]
		}
	} else {
		ctype = "application/octet-stream"
		h.Set("Content-Type", ctype)
	}

	out, rangeHeader := evaluate(r, etag, c.ModTime)
	switch out {
	case preconditionFailed:
		w.WriteHeader(http.StatusPreconditionFailed)
		return nil
	case notModified:
		// RFC 9110 section 15.4.5: no representation metadata beyond what
		// guides caches; Last-Modified only when there is no ETag.
		delete(h, "Content-Type")
		delete(h, "Content-Length")
		delete(h, "Content-Encoding")
		if h.Get("Etag") != "" {
			delete(h, "Last-Modified")
		}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}

	size := c.Size
	ranges, err := parseRange(rangeHeader, size, MaxRanges)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoOverlap) && size == 0:
		// Some clients send a Range with every request; an empty object
		// has no bytes to select, so answer as if there were no Range.
		ranges = nil
	case errors.Is(err, ErrNoOverlap):
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		serveError(w, "invalid range: failed to overlap", http.StatusRequestedRangeNotSatisfiable)
		return nil
	case errors.Is(err, errTooManyRanges):
		ranges = nil
	default:
		serveError(w, "invalid range", http.StatusRequestedRangeNotSatisfiable)
		return nil
	}
	if sumExceeds(ranges, size) {
		// More bytes than the whole object: an attack or a confused
		// client. Send the object once instead.
		ranges = nil
	}

	code := http.StatusOK
	body := Range{Start: 0, Length: size}
	sendSize := size
	var mw *multipart.Writer
	switch len(ranges) {
	case 0:
	case 1:
		body = ranges[0]
		code = http.StatusPartialContent
		sendSize = body.Length
		h.Set("Content-Range", body.contentRange(size))
	default:
		code = http.StatusPartialContent
		mw = multipart.NewWriter(w)
		sendSize = multipartSize(ranges, ctype, size, mw.Boundary())
		h.Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	}
	h.Set("Accept-Ranges", "bytes")
	// As net/http does: a caller that set Content-Encoding is probably
	// compressing on the fly, which changes the length of a 200 response.
	if len(ranges) > 0 || h.Get("Content-Encoding") == "" {
		h.Set("Content-Length", strconv.FormatInt(sendSize, 10))
	}

	if r.Method == http.MethodHead || sendSize == 0 {
		w.WriteHeader(code)
		return nil
	}
	ctx := r.Context()
	if mw != nil {
		body = ranges[0]
	}
	rc, err := open(ctx, body.Start, body.Length)
	if err != nil {
		restore()
		return fmt.Errorf("httpserve: open bytes %d-%d: %w", body.Start, body.Start+body.Length-1, err)
	}
	w.WriteHeader(code)
	if mw == nil {
		copyRange(w, rc, body.Length)
		return nil
	}
	for i, ra := range ranges {
		if i > 0 {
			if rc, err = open(ctx, ra.Start, ra.Length); err != nil {
				panic(http.ErrAbortHandler)
			}
		}
		part, err := mw.CreatePart(partHeader(ra, ctype, size))
		if err != nil {
			rc.Close()
			return nil // the client went away
		}
		if !copyRange(part, rc, ra.Length) {
			return nil
		}
	}
	mw.Close()
	return nil
}

// serveError answers with a short plain-text error, dropping the validators
// and caching headers that belong to the object, not to the error.
func serveError(w http.ResponseWriter, text string, code int) {
	h := w.Header()
	for _, k := range [...]string{"Cache-Control", "Content-Encoding", "Etag", "Last-Modified"} {
		delete(h, k)
	}
	http.Error(w, text, code)
}

// copyRange copies exactly n bytes from rc to w and closes rc. It returns
// false if writing failed (the client went away). If reading fails or ends
// early it panics with http.ErrAbortHandler (see Serve).
//
// A reader that implements io.WriterTo (an object still arriving, whose
// blocks are already in memory) writes straight to w, without the copy
// through io.Copy's buffer.
func copyRange(w io.Writer, rc io.ReadCloser, n int64) bool {
	if wt, ok := rc.(io.WriterTo); ok {
		ws := &writeSide{w: w}
		copied, err := wt.WriteTo(ws)
		rc.Close()
		switch {
		case ws.err != nil:
			return false
		case err != nil || copied != n:
			panic(http.ErrAbortHandler)
		}
		return true
	}
	src := &readSide{r: rc}
	copied, err := io.Copy(w, io.LimitReader(src, n))
	rc.Close()
	if src.err != nil || (err == nil && copied < n) {
		panic(http.ErrAbortHandler)
	}
	return err == nil
}

// readSide remembers the reader's error, to tell it apart from the writer's
// in io.Copy. io.EOF is not an error for the reader, but ending early is
// caught by copyRange's count.
type readSide struct {
	r   io.Reader
	err error
}

func (s *readSide) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// writeSide remembers the writer's error, to tell it apart from the
// reader's in WriteTo.
type writeSide struct {
	w   io.Writer
	err error
}

func (s *writeSide) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

func partHeader(r Range, ctype string, size int64) textproto.MIMEHeader {
	return textproto.MIMEHeader{
		"Content-Range": {r.contentRange(size)},
		"Content-Type":  {ctype},
	}
}

// multipartSize is the exact length of the multipart/byteranges body for
// ranges with the given boundary.
func multipartSize(ranges []Range, ctype string, size int64, boundary string) int64 {
	var cw countWriter
	mw := multipart.NewWriter(&cw)
	if err := mw.SetBoundary(boundary); err != nil {
		panic(err) // a boundary from multipart.NewWriter is always valid
	}
	var n int64
	for _, ra := range ranges {
		mw.CreatePart(partHeader(ra, ctype, size))
		n += ra.Length
	}
	mw.Close()
	return n + int64(cw)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// ReadOnly answers any method but GET and HEAD: OPTIONS with 204 and the
// Allow header, anything else with 405. It reports whether the caller
// should go on and serve the request.
func ReadOnly(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodOptions:
		w.Header().Set("Allow", Allow)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", Allow)
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	}
	return false
}
