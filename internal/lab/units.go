package lab

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

// Size is a number of bytes, written in YAML as an integer or with a unit:
// "200MB" (10^6), "1.5MiB" (2^20), "64KB", "1GB", "1500B".
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"kB", 1e3},
	{"B", 1},
}

// ParseSize parses a Size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 200MB, 64KiB or 1500", s)
	}
	return Size(math.Round(f * mult)), nil
}

func (s Size) String() string {
	switch {
	case s >= 1e9 && s%1e7 == 0:
		return strconv.FormatFloat(float64(s)/1e9, 'f', -1, 64) + " GB"
	case s >= 1e6 && s%1e4 == 0:
		return strconv.FormatFloat(float64(s)/1e6, 'f', -1, 64) + " MB"
	case s >= 1e3 && s%10 == 0:
		return strconv.FormatFloat(float64(s)/1e3, 'f', -1, 64) + " kB"
	}
	return strconv.FormatInt(int64(s), 10) + " B"
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return yamlErr(n, err)
	}
	*s = v
	return nil
}

// Rate is a link rate, written in YAML with a unit: "100Mbit", "100 Mbit/s",
// "1Gbit", "512kbit". A bare number is bits per second.
type Rate linkem.Rate

var rateUnits = []struct {
	suffix string
	mult   float64
}{
	{"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}, {"Kbit", 1e3}, {"bit", 1},
	{"Gbps", 1e9}, {"Mbps", 1e6}, {"kbps", 1e3}, {"bps", 1},
}

// ParseRate parses a Rate.
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	mult := 1.0
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f*mult > 1e12 {
		return 0, fmt.Errorf("rate %q: want bits per second such as 100Mbit, 1Gbit or 512kbit", s)
	}
	return Rate(math.Round(f * mult)), nil
}

func (r Rate) String() string { return linkem.Rate(r).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if err != nil {
		return yamlErr(n, err)
	}
	*r = v
	return nil
}

// Fraction is a probability, written in YAML as a percentage ("0.3%") or a
// plain fraction (0.003).
type Fraction float64

// ParseFraction parses a Fraction in [0, 1].
func ParseFraction(s string) (Fraction, error) {
	t := strings.TrimSpace(s)
	div := 1.0
	if strings.HasSuffix(t, "%") {
		t, div = strings.TrimSpace(strings.TrimSuffix(t, "%")), 100
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || !(f/div >= 0 && f/div <= 1) {
		return 0, fmt.Errorf("probability %q: want a percentage such as 0.3%% or a fraction in [0, 1]", s)
	}
	return Fraction(f / div), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (f *Fraction) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseFraction(n.Value)
	if err != nil {
		return yamlErr(n, err)
	}
	*f = v
	return nil
}

// Duration is a time.Duration written in YAML as "150ms", "2m" or "1.5s".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil || v < 0 {
		return yamlErr(n, fmt.Errorf("duration %q: want a non-negative duration such as 150ms or 2m", n.Value))
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// LossSpec is a loss process in YAML: a probability ("1%") for independent
// loss, {mean: 1%, burst: 4} for the simple Gilbert model, or
// {p: …, r: …, good: …, bad: …} for a general Gilbert–Elliott chain.
type LossSpec struct{ linkem.Loss }

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *LossSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var f Fraction
		if err := f.UnmarshalYAML(n); err != nil {
			return err
		}
		l.Loss = linkem.IID(float64(f))
		return nil
	}
	var m struct {
		Mean  *Fraction `yaml:"mean"`
		Burst float64   `yaml:"burst"`
		P     *Fraction `yaml:"p"`
		R     Fraction  `yaml:"r"`
		Good  Fraction  `yaml:"good"`
		Bad   Fraction  `yaml:"bad"`
	}
	if err := decodeStrict(n, &m); err != nil {
		return err
	}
	switch {
	case m.Mean != nil && m.P == nil:
		if m.Burst == 0 {
			m.Burst = 1
		}
		if m.Burst < 1 || *m.Mean >= 1 {
			return yamlErr(n, fmt.Errorf("loss: need mean < 100%% and burst ≥ 1"))
		}
		l.Loss = linkem.Bursty(float64(*m.Mean), m.Burst)
	case m.P != nil && m.Mean == nil:
		l.Loss = linkem.GilbertElliott(float64(*m.P), float64(m.R), float64(m.Good), float64(m.Bad))
	default:
		return yamlErr(n, fmt.Errorf("loss: give either mean (and burst) or p, r, good, bad"))
	}
	return yamlErr(n, l.Validate())
}

func yamlErr(n *yaml.Node, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("line %d: %w", n.Line, err)
}

// decodeStrict decodes n into v, rejecting unknown keys.
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return yamlErr(n, fmt.Errorf("want a mapping"))
	}
	known := yamlKeys(v)
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if !known[k.Value] {
			return yamlErr(k, fmt.Errorf("unknown key %q", k.Value))
		}
	}
	return n.Decode(v)
}
