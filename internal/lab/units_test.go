package lab

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aqueduct-cdn/aqueduct/internal/linkem"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Size
		wantErr bool
	}{
		{"1500", 1500, false},
		{"1500B", 1500, false},
		{"200MB", 200e6, false},
		{"1.5MiB", 3 << 19, false},
		{"64 KB", 64e3, false},
		{"1875KB", 1875e3, false},
		{"2GB", 2e9, false},
		{"-1MB", 0, true},
		{"MB", 0, true},
		{"10XB", 0, true},
	} {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Rate
		wantErr bool
	}{
		{"100Mbit", Rate(100 * linkem.Mbps), false},
		{"100 Mbit/s", Rate(100 * linkem.Mbps), false},
		{"1Gbit", Rate(linkem.Gbps), false},
		{"512kbit", Rate(512 * linkem.Kbps), false},
		{"2.5Mbps", Rate(2500 * linkem.Kbps), false},
		{"1000", 1000, false},
		{"fast", 0, true},
		{"-3Mbit", 0, true},
	} {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseFraction(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Fraction
		wantErr bool
	}{
		{"1%", 0.01, false},
		{"0.3%", 0.003, false},
		{"0.003", 0.003, false},
		{"100%", 1, false},
		{"101%", 0, true},
		{"2", 0, true},
		{"x%", 0, true},
	} {
		got, err := ParseFraction(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && abs(float64(got-tt.want)) > 1e-12) {
			t.Errorf("ParseFraction(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestLossSpec(t *testing.T) {
	for _, tt := range []struct {
		yaml    string
		want    linkem.Loss
		wantErr bool
	}{
		{"1%", linkem.IID(0.01), false},
		{"{mean: 1%, burst: 4}", linkem.Bursty(0.01, 4), false},
		{"{mean: 2%}", linkem.Bursty(0.02, 1), false},
		{"{p: 0.01, r: 0.5, good: 0, bad: 0.8}", linkem.GilbertElliott(0.01, 0.5, 0, 0.8), false},
		{"{mean: 1%, p: 0.1}", linkem.Loss{}, true},
		{"{mean: 1%, burst: 0.5}", linkem.Loss{}, true},
		{"{p: 0.1}", linkem.Loss{}, true}, // r = 0: never leaves Bad
		{"{mean: 1%, typo: 3}", linkem.Loss{}, true},
	} {
		var l LossSpec
		err := yaml.Unmarshal([]byte(tt.yaml), &l)
		if (err != nil) != tt.wantErr || err == nil && l.Loss != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v, error %v", tt.yaml, l.Loss, err, tt.want, tt.wantErr)
		}
	}
}
