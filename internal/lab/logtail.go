package lab

import (
	"bytes"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// A failed command's error quotes the end of its log: the logs live in the
// results folder, which a test may delete with its temporary directory, and
// the last lines usually say what went wrong ("mptcpize: not found").
const (
	tailLines = 10      // at most this many lines
	tailBytes = 2 << 10 // and at most this many bytes
)

// logTail returns the end of the log at path (the last tailLines lines,
// at most tailBytes bytes) as a suffix for an error: "; the log ends:"
// and the lines, each on a line of its own and indented. It returns "" if
// the log is missing or empty.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	// One byte more than the bound tells whether the first line read is
	// whole.
	off := max(0, st.Size()-tailBytes-1)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return ""
	}
	t := lastLines(b, off > 0, tailLines, tailBytes)
	if t == "" {
		return ""
	}
	return "; the log ends:\n    " + strings.ReplaceAll(t, "\n", "\n    ")
}

// lastLines returns the last n lines of b, at most max bytes of them,
// without trailing blank lines. cut says that b starts inside a longer
// text. A line cut by the byte bound starts with "…".
func lastLines(b []byte, cut bool, n, max int) string {
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) > max {
		b, cut = b[len(b)-max:], true
	}
	if cut {
		// Drop the partial line, unless it is the only one.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b, cut = b[i+1:], false
		}
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines, cut = lines[len(lines)-n:], false
	}
	if len(lines) == 0 || (len(lines) == 1 && lines[0] == "") {
		return ""
	}
	if cut {
		for len(lines[0]) > 0 && !utf8.RuneStart(lines[0][0]) {
			lines[0] = lines[0][1:]
		}
		lines[0] = "…" + lines[0]
	}
	return strings.Join(lines, "\n")
}
