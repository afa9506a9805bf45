package httpserve

import (
	"net/http"
	"strings"
	"time"
)

// This file evaluates the conditional request headers of RFC 9110 section
// 13 exactly as net/http.ServeContent does. Only the first field line of
// each header is read, as http.Header.Get does.

// cond is the value of one precondition.
type cond int

const (
	condAbsent cond = iota // header missing, or ignored
	condTrue
	condFalse
)

// outcome is what the preconditions decide.
type outcome int

const (
	proceed            outcome = iota // send the content
	notModified                       // 304
	preconditionFailed                // 412
)

// evaluate applies RFC 9110 section 13.2.2 steps 1 to 4 and then If-Range
// (step 5). It returns the outcome and the Range header to honour: empty if
// there is none or If-Range does not hold. etag is the representation's
// entity tag ("" if none).
func evaluate(r *http.Request, etag string, modtime time.Time) (outcome, string) {
	c := ifMatch(r, etag)
	if c == condAbsent {
		c = ifUnmodifiedSince(r, modtime)
	}
	if c == condFalse {
		return preconditionFailed, ""
	}
	switch ifNoneMatch(r, etag) {
	case condFalse:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return notModified, ""
		}
		return preconditionFailed, ""
	case condAbsent:
		if ifModifiedSince(r, modtime) == condFalse {
			return notModified, ""
		}
	}
	rng := r.Header.Get("Range")
	if rng != "" && ifRange(r, etag, modtime) == condFalse {
		rng = ""
	}
	return proceed, rng
}

// ifMatch: true if any listed tag matches strongly, or the list is "*".
// A malformed element ends the list.
func ifMatch(r *http.Request, etag string) cond {
	v := r.Header.Get("If-Match")
	if v == "" {
		return condAbsent
	}
	found := false
	eachETag(v, func(tag string, star bool) bool {
		found = star || strongMatch(tag, etag)
		return !found
	})
	if found {
		return condTrue
	}
	return condFalse
}

// ifNoneMatch: false if any listed tag matches weakly, or the list is "*".
func ifNoneMatch(r *http.Request, etag string) cond {
	v := r.Header.Get("If-None-Match")
	if v == "" {
		return condAbsent
	}
	matched := false
	eachETag(v, func(tag string, star bool) bool {
		matched = star || weakMatch(tag, etag)
		return !matched
	})
	if matched {
		return condFalse
	}
	return condTrue
}

// eachETag calls f for each element of an entity-tag list, with star set for
// "*", until f returns false or an element is malformed.
func eachETag(list string, f func(tag string, star bool) bool) {
	for {
		list = trimSpace(list)
		switch {
		case list == "":
			return
		case list[0] == ',':
			list = list[1:]
			continue
		case list[0] == '*':
			f("", true)
			return
		}
		tag, rest := scanETag(list)
		if tag == "" || !f(tag, false) {
			return
		}
		list = rest
	}
}

// scanETag reads one entity-tag (W/"x" or "x") from the start of s, after
// optional white space. It returns "" if there is none.
func scanETag(s string) (tag, rest string) {
	s = trimSpace(s)
	open := 0
	if strings.HasPrefix(s, "W/") {
		open = 2
	}
	if len(s) < open+2 || s[open] != '"' {
		return "", ""
	}
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[:i+1], s[i+1:]
		case c == 0x21 || 0x23 <= c && c <= 0x7e || c >= 0x80:
			// etagc
		default:
			return "", ""
		}
	}
	return "", ""
}

// strongMatch: both tags strong and identical (RFC 9110 section 8.8.3.2).
func strongMatch(a, b string) bool { return a != "" && a[0] == '"' && a == b }

// weakMatch: identical once any W/ prefix is removed.
func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

func ifUnmodifiedSince(r *http.Request, modtime time.Time) cond {
	v := r.Header.Get("If-Unmodified-Since")
	if v == "" || unknownTime(modtime) {
		return condAbsent
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return condAbsent
	}
	// Last-Modified has whole seconds, so compare in whole seconds.
	if modtime.Truncate(time.Second).After(t) {
		return condFalse
	}
	return condTrue
}

func ifModifiedSince(r *http.Request, modtime time.Time) cond {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return condAbsent
	}
	v := r.Header.Get("If-Modified-Since")
	if v == "" || unknownTime(modtime) {
		return condAbsent
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return condAbsent
	}
	if modtime.Truncate(time.Second).After(t) {
		return condTrue
	}
	return condFalse
}

// ifRange: true if the validator (a strong entity tag, or a date equal to
// the modification time in whole seconds) still matches.
func ifRange(r *http.Request, etag string, modtime time.Time) cond {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return condAbsent
	}
	v := r.Header.Get("If-Range")
	if v == "" {
		return condAbsent
	}
	if tag, _ := scanETag(v); tag != "" {
		if strongMatch(tag, etag) {
			return condTrue
		}
		return condFalse
	}
	if modtime.IsZero() {
		return condFalse
	}
	t, err := http.ParseTime(v)
	if err != nil || t.Unix() != modtime.Unix() {
		return condFalse
	}
	return condTrue
}

// unknownTime reports whether modtime is unset: zero or the Unix epoch.
func unknownTime(t time.Time) bool { return t.IsZero() || t.Unix() == 0 && t.Nanosecond() == 0 }
