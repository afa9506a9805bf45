package httpserve

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	r := func(start, length int64) Range { return Range{start, length} }
	tests := []struct {
		header string
		size   int64
		want   []Range
		err    error
	}{
		{"", 10, nil, nil},
		{"bytes=0-4", 10, []Range{r(0, 5)}, nil},
		{"bytes=2-", 10, []Range{r(2, 8)}, nil},
		{"bytes=-3", 10, []Range{r(7, 3)}, nil},
		{"bytes=-30", 10, []Range{r(0, 10)}, nil},
		{"bytes=0-0", 10, []Range{r(0, 1)}, nil},
		{"bytes=9-", 10, []Range{r(9, 1)}, nil},
		{"bytes=5-100", 10, []Range{r(5, 5)}, nil},
		{"bytes=0-9223372036854775807", 10, []Range{r(0, 10)}, nil},
		{"bytes=0-1,4-5", 10, []Range{r(0, 2), r(4, 2)}, nil},
		{"bytes=0-5,3-8", 10, []Range{r(0, 6), r(3, 6)}, nil}, // overlapping
		{"bytes=4-5,0-1", 10, []Range{r(4, 2), r(0, 2)}, nil}, // request order
		{"bytes=0-1,20-30", 10, []Range{r(0, 2)}, nil},        // unsatisfiable one dropped
		{"bytes= 1 - 2 ,\t3-4", 10, []Range{r(1, 2), r(3, 2)}, nil},
		{"bytes=,0-1,,", 10, []Range{r(0, 2)}, nil},
		{"bytes=", 10, nil, nil},
		{"bytes=,", 10, nil, nil},
		{"bytes=+1-2", 10, []Range{r(1, 2)}, nil}, // net/http leniency
		{"bytes=0--0", 10, []Range{r(0, 1)}, nil}, // net/http leniency
		{"bytes=10-", 10, nil, ErrNoOverlap},
		{"bytes=10-20", 10, nil, ErrNoOverlap},
		{"bytes=10-x", 10, nil, ErrNoOverlap}, // end not parsed past the end, as net/http
		{"bytes=10-,20-", 10, nil, ErrNoOverlap},
		{"bytes=-0", 10, nil, ErrNoOverlap}, // deviation: net/http gives an empty range
		{"bytes=-0,0-1", 10, []Range{r(0, 2)}, nil},
		{"bytes=0-", 0, nil, ErrNoOverlap},
		{"bytes=-5", 0, nil, ErrNoOverlap}, // deviation: net/http gives an empty range
		{"bytes=5-4", 10, nil, ErrInvalid},
		{"bytes=5--3", 10, nil, ErrInvalid},
		{"bytes=-", 10, nil, ErrInvalid},
		{"bytes=--1", 10, nil, ErrInvalid},
		{"bytes=-+1", 10, []Range{r(9, 1)}, nil},
		{"bytes=1", 10, nil, ErrInvalid},
		{"bytes=a-b", 10, nil, ErrInvalid},
		{"bytes=0-1,x", 10, nil, ErrInvalid},
		{"bytes=20-,x", 10, nil, ErrInvalid},
		{"bytes=99999999999999999999-", 10, nil, ErrInvalid},
		{"bytes=0-99999999999999999999", 10, nil, ErrInvalid},
		{"Bytes=0-1", 10, []Range{{0, 2}}, nil}, // units are case-insensitive (RFC 9110)
		{"bytes =0-1", 10, nil, nil},            // not the unit "bytes": ignored
		{"items=0-1", 10, nil, nil},             // an unknown unit is ignored
		{" bytes=0-1", 10, nil, nil},
		{"0-1", 10, nil, nil}, // no unit
		{"bytes=0-1", -1, nil, ErrInvalid},
		{"bytes=0-", math.MaxInt64, []Range{r(0, math.MaxInt64)}, nil},
		{"bytes=-1", math.MaxInt64, []Range{r(math.MaxInt64-1, 1)}, nil},
	}
	for _, tc := range tests {
		got, err := ParseRange(tc.header, tc.size)
		if err != tc.err || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseRange(%q, %d) = %v, %v; want %v, %v", tc.header, tc.size, got, err, tc.want, tc.err)
		}
		if tc.size >= 0 && tc.size < 1<<16 {
			agree(t, tc.header, tc.size, got, err, stdParseRange(t, tc.header, tc.size))
		}
	}
}

func TestParseRange_limit(t *testing.T) {
	many := "bytes=" + strings.Repeat("0-0,", MaxRanges)
	if rs, err := parseRange(many, 100, MaxRanges); err != nil || len(rs) != MaxRanges {
		t.Fatalf("%d ranges: %d, %v", MaxRanges, len(rs), err)
	}
	many += "1-1"
	if _, err := parseRange(many, 100, MaxRanges); !errors.Is(err, errTooManyRanges) {
		t.Fatalf("%d ranges: %v, want errTooManyRanges", MaxRanges+1, err)
	}
	// The whole header is still checked: invalid beats too many.
	if _, err := parseRange(many+",x", 100, MaxRanges); err != ErrInvalid {
		t.Fatalf("too many then invalid: %v, want ErrInvalid", err)
	}
	// Unsatisfiable ranges do not count.
	if rs, err := parseRange("bytes=0-0"+strings.Repeat(",200-", 1000), 100, MaxRanges); err != nil || len(rs) != 1 {
		t.Fatalf("one range and 1000 unsatisfiable: %v, %v", rs, err)
	}
	// ParseRange itself has no limit.
	if rs, err := ParseRange(many, 100); err != nil || len(rs) != MaxRanges+1 {
		t.Fatalf("ParseRange: %d, %v", len(rs), err)
	}
}

// FuzzParseRange checks that ParseRange never panics, that every range it
// returns lies inside the object, and that it accepts what net/http accepts
// (through the differential model in model_test.go). Seeds are in
// testdata/fuzz/FuzzParseRange.
func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-1,-5,7-", int64(10))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		rs, err := ParseRange(h, size)
		if size < 0 {
			if err == nil && h != "" {
				t.Fatalf("ParseRange(%q, %d) accepted a negative size", h, size)
			}
			return
		}
		if err != nil && err != ErrInvalid && err != ErrNoOverlap {
			t.Fatalf("ParseRange(%q, %d): unexpected error %v", h, size, err)
		}
		if err != nil && rs != nil {
			t.Fatalf("ParseRange(%q, %d): ranges %v with error %v", h, size, rs, err)
		}
		for _, r := range rs {
			if r.Start < 0 || r.Length <= 0 || r.Start >= size || r.Length > size-r.Start {
				t.Fatalf("ParseRange(%q, %d): range %v outside [0,%d)", h, size, r, size)
			}
		}
		// The limited parser Serve uses agrees with ParseRange up to the
		// limit.
		lim, lerr := parseRange(h, size, MaxRanges)
		switch {
		case err != nil:
			if lerr != err {
				t.Fatalf("parseRange(%q, %d, max): %v, ParseRange: %v", h, size, lerr, err)
			}
		case len(rs) > MaxRanges:
			if lerr != errTooManyRanges {
				t.Fatalf("parseRange(%q, %d, max) with %d ranges: %v", h, size, len(rs), lerr)
			}
		default:
			if lerr != nil || len(lim) != len(rs) {
				t.Fatalf("parseRange(%q, %d, max) = %v, %v; ParseRange: %v", h, size, lim, lerr, rs)
			}
		}
		// Compare with net/http on objects small enough to generate, unless
		// net/http would spend its time on thousands of parts.
		if size < 1<<16 && len(rs) <= 2*MaxRanges {
			agree(t, h, size, rs, err, stdParseRange(t, h, size))
		}
	})
}
