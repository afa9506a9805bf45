package conf

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		err  bool
	}{
		{"0", 0, false},
		{"1073741824", 1 << 30, false},
		{"1GiB", 1 << 30, false},
		{"1G", 1 << 30, false},
		{"1gb", 1e9, false},
		{"512MiB", 512 << 20, false},
		{" 64 KiB ", 64 << 10, false},
		{"1.5GiB", 3 << 29, false},
		{"10B", 10, false},
		{"", 0, true},
		{"-1", 0, true},
		{"lots", 0, true},
		{"1XB", 0, true},
		{"NaN", 0, true},
		{"1e30", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if s := Size(1 << 30).String(); s != "1GiB" {
		t.Errorf("String = %s", s)
	}
	if s := Size(1000).String(); s != "1000" {
		t.Errorf("String = %s", s)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), `"msg":"shown"`) {
		t.Fatalf("%s", buf.String())
	}
	if _, err := NewLogger(&buf, "xml", "info"); err == nil {
		t.Fatal("bad format accepted")
	}
	if _, err := NewLogger(&buf, "text", "loud"); err == nil {
		t.Fatal("bad level accepted")
	}
}
