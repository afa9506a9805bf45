package httpserve

import (
	"errors"
	"strconv"
	"strings"
)

// MaxRanges is the largest number of ranges [Serve] honours in one request.
// A request with more is answered with the whole object and 200. Players
// send one range; the limit only stops a client from turning one request
// into thousands of small reads and multipart headers.
const MaxRanges = 64

var (
	// ErrInvalid is returned by [ParseRange] for a Range header that is not
	// a valid bytes range set; [Serve] answers 416.
	ErrInvalid = errors.New("httpserve: invalid range")
	// ErrNoOverlap is returned by [ParseRange] when the header is valid but
	// no range selects any byte of the object; [Serve] answers 416 with
	// "Content-Range: bytes */size", or ignores the header if the object is
	// empty.
	ErrNoOverlap = errors.New("httpserve: invalid range: failed to overlap")

	// errTooManyRanges is returned by parseRange when there are more than
	// max satisfiable ranges.
	errTooManyRanges = errors.New("httpserve: too many ranges")
)

// Range is a byte range of an object: Length bytes from Start.
type Range struct {
	Start, Length int64
}

// contentRange formats r for a Content-Range header.
func (r Range) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.Start, 10) + "-" +
		strconv.FormatInt(r.Start+r.Length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// ParseRange parses the value of a Range header (RFC 9110 section 14.2) for
// an object of size bytes. It is a pure function.
//
// An empty header gives no ranges and no error. Every range returned lies
// within [0, size) and has Length > 0; ranges are returned in request order,
// and may overlap. Ranges that start at or beyond size are dropped; if that
// leaves none, the error is [ErrNoOverlap]. A header that does not parse is
// [ErrInvalid], as is a negative size.
//
// A header whose range unit is not "bytes" (compared without regard to
// case, as RFC 9110 says), or that has no unit, gives no ranges and no
// error: the server must ignore it and send the whole object.
//
// Within "bytes=" it accepts exactly what net/http accepts, including its
// leniencies: spaces and tabs may surround elements and numbers, empty list
// elements are skipped, numbers may carry a '+' sign, and "bytes=0--0"
// means the first byte. The differences from net/http: the unit rules
// above (net/http answers 416 to "Bytes=0-1" and to "items=0-1"), and a
// suffix range that selects no bytes ("-0", or any suffix of an empty
// object) is dropped as unsatisfiable where net/http returns a zero-length
// range.
//
// ParseRange does not limit the number of ranges; [Serve] does.
func ParseRange(header string, size int64) ([]Range, error) {
	return parseRange(header, size, -1)
}

// parseRange is ParseRange with an optional limit: if max >= 0 and there are
// more than max satisfiable ranges it returns errTooManyRanges, after
// checking the whole header, so that the answer to an invalid header does
// not depend on the limit. Memory is bounded by max.
func parseRange(s string, size int64, max int) ([]Range, error) {
	if s == "" {
		return nil, nil
	}
	if size < 0 {
		return nil, ErrInvalid
	}
	unit, set, ok := strings.Cut(s, "=")
	if !ok || !strings.EqualFold(unit, "bytes") {
		// RFC 9110 section 14.2: a Range with a unit the server does not
		// understand (or no unit at all) is ignored.
		return nil, nil
	}
	var (
		ranges      []Range
		count       int
		unsatisfied bool
	)
	for rest, more := set, true; more; {
		var spec string
		spec, rest, more = strings.Cut(rest, ",")
		spec = trimSpace(spec)
		if spec == "" {
			continue
		}
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, ErrInvalid
		}
		first, last = trimSpace(first), trimSpace(last)
		r, ok, err := parseSpec(first, last, size)
		if err != nil {
			return nil, err
		}
		if !ok {
			unsatisfied = true
			continue
		}
		count++
		if max < 0 || count <= max {
			ranges = append(ranges, r)
		}
	}
	switch {
	case count == 0 && unsatisfied:
		return nil, ErrNoOverlap
	case max >= 0 && count > max:
		return nil, errTooManyRanges
	}
	return ranges, nil
}

// parseSpec parses one byte-range-spec or suffix-range, already split at its
// first '-' and trimmed. ok is false for a valid range that selects no byte.
func parseSpec(first, last string, size int64) (r Range, ok bool, err error) {
	if first == "" {
		// Suffix range: the last n bytes. A sign on n would be a second '-'
		// or a '+'; net/http refuses the first and accepts the second.
		if last == "" || last[0] == '-' {
			return Range{}, false, ErrInvalid
		}
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return Range{}, false, ErrInvalid
		}
		n = min(n, size)
		if n == 0 {
			return Range{}, false, nil
		}
		return Range{Start: size - n, Length: n}, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return Range{}, false, ErrInvalid
	}
	if start >= size {
		// Past the end; last is not even looked at, as in net/http.
		return Range{}, false, nil
	}
	if last == "" {
		return Range{Start: start, Length: size - start}, true, nil
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < start {
		return Range{}, false, ErrInvalid
	}
	end = min(end, size-1)
	return Range{Start: start, Length: end - start + 1}, true, nil
}

// trimSpace removes the ASCII white space that net/textproto trims: space,
// tab, CR and LF.
func trimSpace(s string) string {
	for s != "" && isSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// sumExceeds reports whether the lengths of ranges add up to more than size,
// without overflowing.
func sumExceeds(ranges []Range, size int64) bool {
	left := size
	for _, r := range ranges {
		if r.Length > left {
			return true
		}
		left -= r.Length
	}
	return false
}
