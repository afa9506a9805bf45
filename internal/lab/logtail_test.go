package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLastLines(t *testing.T) {
	numbered := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return b.String()
	}
	for _, tt := range []struct {
		name string
		in   string
		cut  bool
		n    int
		max  int
		want string
	}{
		{"empty", "", false, 10, 2048, ""},
		{"blank", "\n \n\t\n", false, 10, 2048, ""},
		{"short", "# host c: mptcpize run curl x\nsh: 1: mptcpize: not found\n", false, 10, 2048,
			"# host c: mptcpize run curl x\nsh: 1: mptcpize: not found"},
		{"last n lines", numbered(1, 50), false, 10, 2048, strings.TrimSpace(numbered(41, 50))},
		{"byte bound drops the partial line", numbered(1, 50), false, 10, 30, "line 48\nline 49\nline 50"},
		{"read from inside the file", "ne 7\nline 8\nline 9\n", true, 10, 2048, "line 8\nline 9"},
		{"one long line", strings.Repeat("x", 5000) + "END\n", false, 10, 100, "…" + strings.Repeat("x", 97) + "END"},
		{"trailing blank lines", "error: boom\n\n\n", false, 10, 2048, "error: boom"},
		{"cut inside a rune", strings.Repeat("é", 100), false, 10, 51, "…" + strings.Repeat("é", 25)},
	} {
		got := lastLines([]byte(tt.in), tt.cut, tt.n, tt.max)
		if got != tt.want {
			t.Errorf("%s: lastLines = %q, want %q", tt.name, got, tt.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: invalid UTF-8 %q", tt.name, got)
		}
	}
}

func TestLogTail_bounded(t *testing.T) {
	dir := t.TempDir()
	if got := logTail(filepath.Join(dir, "none.log")); got != "" {
		t.Errorf("missing log: %q", got)
	}
	// A chatty command: 8 MB of output ending in the line that matters.
	path := filepath.Join(dir, "client.log")
	var b strings.Builder
	b.WriteString("# host client: mptcpize run curl -sS -o out http://10.77.0.1:8080/video.bin\n")
	for i := range 200000 {
		fmt.Fprintf(&b, "progress %d of 200000 %s\n", i, strings.Repeat(".", 20))
	}
	b.WriteString("sh: 1: mptcpize: not found\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := logTail(path)
	if !strings.HasPrefix(got, "; the log ends:\n    ") || !strings.HasSuffix(got, "\n    sh: 1: mptcpize: not found") {
		t.Errorf("tail %q", got)
	}
	if lines := strings.Count(got, "\n    "); lines != tailLines {
		t.Errorf("tail has %d lines, want %d:\n%s", lines, tailLines, got)
	}
	if !strings.Contains(got, "progress 199991 of") || strings.Contains(got, "progress 199990 of") {
		t.Errorf("tail is not the last %d lines:\n%s", tailLines, got)
	}
	if len(got) > tailBytes+100 {
		t.Errorf("tail of %d bytes, bound %d", len(got), tailBytes)
	}
}

func TestResults_markdownQuotesLogTail(t *testing.T) {
	_, r := sampleResults(t)
	r.Runs[2].Error = "client exited: exit status 127 (see logs/bbr/one/1/client.log); the log ends:\n    # host c: mptcpize run curl\n    sh: 1: mptcpize: not found"
	r.Runs[2].Logs = "logs/bbr/one/1"
	md := r.Markdown()
	want := "- bbr, one, run 1: client exited: exit status 127 (see logs/bbr/one/1/client.log); the log ends: (logs: `logs/bbr/one/1`)\n\n" +
		"  ```text\n  # host c: mptcpize run curl\n  sh: 1: mptcpize: not found\n  ```\n"
	if !strings.Contains(md, want) {
		t.Errorf("markdown lacks\n%s\nin\n%s", want, md)
	}
}
