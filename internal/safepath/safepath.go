package safepath

import (
	"errors"
	"io/fs"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

const (
	// MaxPathLen is the longest path accepted, in bytes, before decoding.
	MaxPathLen = 4096
	// MaxSegmentLen is the longest path segment accepted, in bytes, after
	// decoding. It is NAME_MAX on Linux and most other systems.
	MaxSegmentLen = 255
)

// HTTP statuses of refusals ([Error.Status]). They are spelled out here so
// that the package does not depend on net/http.
const (
	StatusBadRequest = 400
	StatusForbidden  = 403
	StatusNotFound   = 404
)

var (
	// ErrIsDir is wrapped by the *Error that [Open] returns when the path
	// names a directory. An HTTP front redirects "/dir" to "/dir/" on it.
	ErrIsDir = errors.New("is a directory")
	// ErrNotDir is wrapped by the *Error that [OpenDir] returns when the
	// path names something other than a directory.
	ErrNotDir = errors.New("not a directory")
)

// Kind says what is wrong with a refused path. The HTTP side answers it
// with a status ([Error.Status]), the peer protocol with a code
// ([Error.Code]); neither is derived from the other.
type Kind uint8

// The kinds of refusal.
const (
	// Malformed: the path is not a well-formed request path (400,
	// BAD_REQUEST).
	Malformed Kind = iota + 1
	// Refused: well formed, but it must not be served: it leaves the root,
	// names a dot-file or a non-regular file, or is not readable (403,
	// FORBIDDEN).
	Refused
	// Missing: it names nothing (404, NOT_FOUND).
	Missing
)

// Error is a refused path: its Kind, and a Reason that is a short
// lower-case explanation safe to send to a client: it never contains the
// path or any file-system error text. Err, if not nil, is the underlying
// cause (for example fs.ErrNotExist or [ErrIsDir]); it may hold internal
// detail and must not be sent to clients.
type Error struct {
	Kind   Kind
	Reason string
	Err    error
}

func (e *Error) Error() string { return "safepath: " + e.Reason }

// Unwrap returns the underlying cause, so that errors.Is(err, fs.ErrNotExist)
// and errors.Is(err, ErrIsDir) work.
func (e *Error) Unwrap() error { return e.Err }

// Message is the text to send to a client, for example
// "403 forbidden: path leaves the content root".
func (e *Error) Message() string {
	return statusText(e.Status()) + ": " + e.Reason
}

// Status is the HTTP status to answer the refusal with: 400, 403 or 404.
func (e *Error) Status() int {
	switch e.Kind {
	case Malformed:
		return StatusBadRequest
	case Missing:
		return StatusNotFound
	}
	return StatusForbidden
}

// Code is the peer protocol's code for the refusal: BAD_REQUEST,
// FORBIDDEN or NOT_FOUND.
func (e *Error) Code() wire.Code {
	switch e.Kind {
	case Malformed:
		return wire.CodeBadRequest
	case Missing:
		return wire.CodeNotFound
	}
	return wire.CodeForbidden
}

func statusText(code int) string {
	switch code {
	case StatusBadRequest:
		return "400 bad request"
	case StatusForbidden:
		return "403 forbidden"
	case StatusNotFound:
		return "404 not found"
	}
	return "500 internal server error"
}

// Status maps an error from this package, or from the file system, to an
// HTTP status: the Status of an *Error, 404 for fs.ErrNotExist, 403 for
// fs.ErrPermission, 200 for nil and 500 for anything else.
func Status(err error) int {
	var e *Error
	switch {
	case err == nil:
		return 200
	case errors.As(err, &e):
		return e.Status()
	case errors.Is(err, fs.ErrNotExist):
		return StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return StatusForbidden
	}
	return 500
}

// Message returns the client-safe text for err: the Message of an *Error,
// and otherwise only the status line from [Status] (for example
// "500 internal server error"), never the error's own text.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message()
	}
	return statusText(Status(err))
}

func bad(reason string) *Error       { return &Error{Kind: Malformed, Reason: reason} }
func forbidden(reason string) *Error { return &Error{Kind: Refused, Reason: reason} }

// Reasons shared by FromURL and Check. Tests compare against them.
const (
	reasonTooLong       = "path longer than 4096 bytes"
	reasonNoSlash       = "path must start with /"
	reasonEncoded       = "percent-encoded dot, slash or backslash"
	reasonBadEscape     = "invalid percent-encoding"
	reasonControl       = "control character in path"
	reasonBackslash     = "backslash in path"
	reasonEmptySegment  = "empty path segment"
	reasonDotSegment    = `"." path segment`
	reasonDotDot        = "path leaves the content root"
	reasonDotFile       = "dot-files are not served"
	reasonColon         = "colon in path segment"
	reasonUTF8          = "path is not valid UTF-8"
	reasonSegmentLong   = "path segment longer than 255 bytes"
	reasonEmpty         = "empty path"
	reasonAbsolute      = "path must be relative"
	reasonTrailingSlash = "path ends in a slash"
)

// FromURL validates an HTTP request path and returns it as a relative slash
// path for [Open] or [OpenDir].
//
// escapedPath must be the raw, still percent-encoded path as the client sent
// it: r.URL.EscapedPath(), never r.URL.Path, which has already been decoded
// and so hides %2F and %2E.
//
// rel is the decoded path without its leading slash: "" for "/", "a/b.mp4"
// for "/a/b.mp4". dir reports a trailing slash ("/" and "/a/b/"), which asks
// for a directory; rel then has no trailing slash ("a/b"). A rel that FromURL
// returns always passes [Check], except "" for the root.
//
// Refused, with an *Error of status 400 unless noted: a path longer than
// [MaxPathLen] bytes; a path not starting with "/"; invalid percent-encoding
// ("%", "%4", "%zz"); "%2e", "%2f" or "%5c" in any case, wherever they occur
// (a client has no reason to encode '.', and an encoded '/' or '\' is a
// separator to some layer); NUL or any other control character, raw or
// encoded; a raw backslash; and every segment refused by [Check] ("." and
// ".." segments, ".." with 403; dot-files with 403; empty segments, which
// includes "//" anywhere; ':'; invalid UTF-8; over-long segments).
func FromURL(escapedPath string) (rel string, dir bool, err error) {
	if len(escapedPath) > MaxPathLen {
		return "", false, bad(reasonTooLong)
	}
	if escapedPath == "" || escapedPath[0] != '/' {
		return "", false, bad(reasonNoSlash)
	}
	p := escapedPath[1:]
	if p == "" {
		return "", true, nil
	}
	if strings.HasSuffix(p, "/") {
		dir = true
		p = p[:len(p)-1]
	}
	if p, err = decode(p); err != nil {
		return "", false, err
	}
	if err := checkSegments(p); err != nil {
		return "", false, err
	}
	return p, dir, nil
}

// decode percent-decodes s, refusing encoded separators and dots, control
// characters and backslashes. It allocates only when s contains a '%'.
func decode(s string) (string, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			n++
		case c == '\\':
			return "", bad(reasonBackslash)
		case isCTL(c):
			return "", bad(reasonControl)
		}
	}
	if n == 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s)) // not len(s)-2*n: a truncated "%" would make it negative
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", bad(reasonBadEscape)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", bad(reasonBadEscape)
		}
		c = hi<<4 | lo
		switch {
		case c == '.' || c == '/' || c == '\\':
			return "", bad(reasonEncoded)
		case isCTL(c):
			return "", bad(reasonControl)
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isCTL reports whether c is an ASCII control character (C0 or DEL).
func isCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// Check validates a relative slash path received from somewhere other than
// a URL, such as an object name in the peer protocol. No percent-decoding is
// done: "%2e" is three ordinary characters here.
//
// Refused, with an *Error of status 400 unless noted: "" (use [OpenDir] with
// "" for the root itself); a leading or trailing slash; a path longer than
// [MaxPathLen] bytes; invalid UTF-8; any control character (C0, DEL or C1);
// a backslash; an empty segment ("a//b"); a "." segment; a ".." segment
// (403); a segment starting with "." (403: dot-files are never served); a
// ':' in a segment; a segment longer than [MaxSegmentLen] bytes.
func Check(rel string) error {
	switch {
	case rel == "":
		return bad(reasonEmpty)
	case len(rel) > MaxPathLen:
		return bad(reasonTooLong)
	case rel[0] == '/':
		return bad(reasonAbsolute)
	case rel[len(rel)-1] == '/':
		return bad(reasonTrailingSlash)
	}
	return checkSegments(rel)
}

// checkSegments applies the path and per-segment rules to a decoded path
// that has had its leading slash, and at most one trailing slash, removed.
// An empty p is one empty segment.
func checkSegments(p string) error {
	if !utf8.ValidString(p) {
		return bad(reasonUTF8)
	}
	for _, r := range p {
		switch {
		case unicode.IsControl(r):
			return bad(reasonControl)
		case r == '\\':
			return bad(reasonBackslash)
		}
	}
	for {
		seg, rest, more := strings.Cut(p, "/")
		if err := checkSegment(seg); err != nil {
			return err
		}
		if !more {
			return nil
		}
		p = rest
	}
}

func checkSegment(seg string) error {
	switch {
	case seg == "":
		return bad(reasonEmptySegment)
	case seg == ".":
		return bad(reasonDotSegment)
	case seg == "..":
		return forbidden(reasonDotDot)
	case seg[0] == '.':
		return forbidden(reasonDotFile)
	case strings.IndexByte(seg, ':') >= 0:
		return bad(reasonColon)
	case len(seg) > MaxSegmentLen:
		return bad(reasonSegmentLong)
	}
	return nil
}
