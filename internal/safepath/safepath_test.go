package safepath

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// hostile lists request paths that must never be accepted, with the status
// each must get. The origin's HTTP tests send the same forms over the wire.
var hostile = []struct {
	path   string
	status int
}{
	// Traversal, plain and encoded.
	{"/../etc/passwd", 403},
	{"/..", 403},
	{"/a/../../etc/passwd", 403},
	{"/a/..", 403},
	{"/a/../", 403},
	{"/%2e%2e/etc/passwd", 400},
	{"/%2E%2e%2fetc", 400},
	{"/%2e%2E/%2E%2e/etc/passwd", 400},
	{"/.%2e/etc/passwd", 400},
	{"/a/..%2fb", 400},
	{"/a/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400},
	{"/a%2Fb", 400},
	{"/a%2eb.mp4", 400},
	// Backslashes, raw and encoded.
	{"/..%5c..%5cwindows", 400},
	{"/..%5C..%5Cwindows", 400},
	{"/a\\..\\b", 400},
	{"/a\\b", 400},
	// NUL and control characters, raw and encoded.
	{"/a%00.mp4", 400},
	{"/a\x00.mp4", 400},
	{"/a%0a.mp4", 400},
	{"/a%0D%0ASet-Cookie:x", 400},
	{"/a\n", 400},
	{"/a%7f", 400},
	{"/a\x7f", 400},
	{"/a%c2%85b", 400}, // U+0085 NEXT LINE, a C1 control
	{"/a%1b[31m", 400},
	// Empty segments, including the protocol-relative leading "//".
	{"//etc/passwd", 400},
	{"//", 400},
	{"///", 400},
	{"/a//b", 400},
	{"/a//", 400},
	// "." segments and dot-files.
	{"/./a", 400},
	{"/a/.", 400},
	{"/a/./b", 400},
	{"/.git/config", 403},
	{"/.env", 403},
	{"/a/.htpasswd", 403},
	{"/.well-known/x", 403},
	{"/...", 403},
	// Windows drive and stream syntax.
	{"/C:/x", 400},
	{"/c:", 400},
	{"/a.mp4::$DATA", 400},
	{"/a%3A.mp4", 400},
	// Not a rooted path.
	{"", 400},
	{"a/b", 400},
	{"*", 400},
	{"http://evil/", 400},
	// Bad percent-encoding.
	{"/a%", 400},
	{"/a%4", 400},
	{"/a%zz", 400},
	{"/a%%32%65", 400},
	// Invalid UTF-8.
	{"/a%ff", 400},
	{"/a%c0%ae%c0%ae/etc", 400}, // overlong "..": invalid UTF-8
	{"/\xff", 400},
	// Too long.
	{"/" + strings.Repeat("a/", 2048), 400},
	{"/" + strings.Repeat("a", 256), 400},
}

func TestFromURL_hostile(t *testing.T) {
	for _, tc := range hostile {
		rel, dir, err := FromURL(tc.path)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("FromURL(%q) = %q, %v, %v; want *Error", tc.path, rel, dir, err)
			continue
		}
		if e.Status() != tc.status {
			t.Errorf("FromURL(%q): status %d (%s), want %d", tc.path, e.Status(), e.Reason, tc.status)
		}
		if !strings.HasPrefix(e.Error(), "safepath: ") {
			t.Errorf("FromURL(%q): error %q lacks package prefix", tc.path, e.Error())
		}
		if rel != "" {
			t.Errorf("FromURL(%q): rel %q returned with an error", tc.path, rel)
		}
	}
}

func TestFromURL_reasons(t *testing.T) {
	tests := []struct{ path, reason string }{
		{"/../etc/passwd", reasonDotDot},
		{"/%2e%2e/etc/passwd", reasonEncoded},
		{"/a%00.mp4", reasonControl},
		{"/a\\b", reasonBackslash},
		{"//etc/passwd", reasonEmptySegment},
		{"/./a", reasonDotSegment},
		{"/.git/config", reasonDotFile},
		{"/C:/x", reasonColon},
		{"a", reasonNoSlash},
		{"/a%zz", reasonBadEscape},
		{"/a%ff", reasonUTF8},
		{"/" + strings.Repeat("x", MaxPathLen), reasonTooLong},
		{"/" + strings.Repeat("x", MaxSegmentLen+1), reasonSegmentLong},
	}
	for _, tc := range tests {
		_, _, err := FromURL(tc.path)
		var e *Error
		if !errors.As(err, &e) || e.Reason != tc.reason {
			t.Errorf("FromURL(%q) = %v, want reason %q", tc.path, err, tc.reason)
		}
	}
}

func TestFromURL_accepted(t *testing.T) {
	tests := []struct {
		path string
		rel  string
		dir  bool
	}{
		{"/", "", true},
		{"/a.mp4", "a.mp4", false},
		{"/a/b.mp4", "a/b.mp4", false},
		{"/a/b/", "a/b", true},
		{"/video/seg-00001.m4s", "video/seg-00001.m4s", false},
		{"/a%20b.mp4", "a b.mp4", false},
		{"/%C3%A9t%C3%A9.mp4", "été.mp4", false},
		{"/été.mp4", "été.mp4", false},
		{"/a%25b", "a%b", false},           // an encoded '%' is a literal '%'
		{"/a%252e%252e", "a%2e%2e", false}, // decoded once only
		{"/a..b", "a..b", false},
		{"/a.", "a.", false},
		{"/a/b..", "a/b..", false},
		{"/a~b+c=d&e", "a~b+c=d&e", false},
		{"/a%3Fb", "a?b", false},
		{"/" + strings.Repeat("a", MaxSegmentLen), strings.Repeat("a", MaxSegmentLen), false},
	}
	for _, tc := range tests {
		rel, dir, err := FromURL(tc.path)
		if err != nil || rel != tc.rel || dir != tc.dir {
			t.Errorf("FromURL(%q) = %q, %v, %v; want %q, %v, nil", tc.path, rel, dir, err, tc.rel, tc.dir)
			continue
		}
		if rel != "" {
			if err := Check(rel); err != nil {
				t.Errorf("Check(%q) after FromURL: %v", rel, err)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		rel    string
		status int // 0: accepted
	}{
		{"a.mp4", 0},
		{"a/b/c.ts", 0},
		{"%2e%2e", 0}, // no decoding: three ordinary characters
		{"a b", 0},
		{"", 400},
		{"/a", 400},
		{"a/", 400},
		{"a//b", 400},
		{"..", 403},
		{"a/../b", 403},
		{"../etc/passwd", 403},
		{".", 400},
		{"./a", 400},
		{".git/config", 403},
		{"a/.env", 403},
		{"a\\b", 400},
		{"..\\x", 400},
		{"a\x00b", 400},
		{"a\tb", 400},
		{"a\u0085b", 400},
		{"C:x", 400},
		{"a\xffb", 400},
		{strings.Repeat("a/", 2049), 400},
		{strings.Repeat("a", 256), 400},
	}
	for _, tc := range tests {
		err := Check(tc.rel)
		got := 0
		if err != nil {
			got = Status(err)
		}
		if got != tc.status {
			t.Errorf("Check(%q) = %v (status %d), want status %d", tc.rel, err, got, tc.status)
		}
	}
}

func TestStatusAndMessage(t *testing.T) {
	tests := []struct {
		err    error
		status int
		msg    string
	}{
		{nil, 200, ""},
		{forbidden(reasonDotDot), 403, "403 forbidden: path leaves the content root"},
		{bad(reasonEncoded), 400, "400 bad request: percent-encoded dot, slash or backslash"},
		{&Error{Kind: Missing, Reason: "no such file", Err: fs.ErrNotExist}, 404, "404 not found: no such file"},
		{fs.ErrNotExist, 404, "404 not found"},
		{fs.ErrPermission, 403, "403 forbidden"},
		{errors.New("disk on fire at /srv/secret"), 500, "500 internal server error"},
	}
	for _, tc := range tests {
		if got := Status(tc.err); got != tc.status {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.status)
		}
		if tc.err == nil {
			continue
		}
		if got := Message(tc.err); got != tc.msg {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}

func TestError_Code(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want wire.Code
	}{
		{bad(reasonEncoded), wire.CodeBadRequest},
		{forbidden(reasonDotDot), wire.CodeForbidden},
		{&Error{Kind: Missing, Reason: "no such file"}, wire.CodeNotFound},
	} {
		if got := tc.err.Code(); got != tc.want {
			t.Errorf("%v: Code() = %s, want %s", tc.err, got, tc.want)
		}
	}
}
