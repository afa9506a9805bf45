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

func TestAddrList(t *testing.T) {
	var l AddrList
	if err := l.Set("127.0.0.1:7070, [::1]:7071,relay.example:9"); err != nil {
		t.Fatal(err)
	}
	if len(l) != 3 || l[1] != "[::1]:7071" {
		t.Fatalf("%v", l)
	}
	for _, bad := range []string{"nohost", "1.2.3.4", "a:b:c"} {
		var l AddrList
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
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
