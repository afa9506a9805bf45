package conf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// value is one key's field in a Config, settable from text: a flag value,
// an environment variable or a scalar of the file all go through Set, so
// that each key is parsed the same way wherever it comes from.
type value interface {
	Set(string) error
	String() string
}

// listValue is a value made of several items. Set appends; reset empties
// it, so that a layer replaces the list of the layers below it.
type listValue interface {
	value
	reset()
}

type stringValue struct{ p *string }

func (v stringValue) Set(s string) error { *v.p = s; return nil }
func (v stringValue) String() string     { return *v.p }

type boolValue struct{ p *bool }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}
func (v boolValue) String() string   { return strconv.FormatBool(*v.p) }
func (v boolValue) IsBoolFlag() bool { return true }

type intValue struct{ p *int }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v.p = n
	return nil
}
func (v intValue) String() string { return strconv.Itoa(*v.p) }

type floatValue struct{ p *float64 }

func (v floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v.p = f
	return nil
}
func (v floatValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }

type sizeValue struct{ p *Size }

func (v sizeValue) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}
func (v sizeValue) String() string { return v.p.String() }

type durationValue struct{ p *time.Duration }

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 30s, 2m, 1h30m)", s)
	}
	*v.p = d
	return nil
}
func (v durationValue) String() string { return v.p.String() }

// stringsValue is a list given as comma-separated items, or, in the file,
// as a sequence.
type stringsValue struct{ p *[]string }

func (v stringsValue) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}
func (v stringsValue) String() string { return strings.Join(*v.p, ",") }
func (v stringsValue) reset()         { *v.p = nil }
