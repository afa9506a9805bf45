package hls

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/grafov/m3u8"
)

// Limits of what Parse takes.
const (
	MaxSize       = 256 << 10 // bytes of a playlist
	MaxVariants   = 1000      // EXT-X-STREAM-INF variants
	MaxRenditions = 1000      // EXT-X-MEDIA renditions
)

// ErrMalformed is wrapped by every error of Parse: the playlist cannot be
// adapted and is to be served as it is.
var ErrMalformed = errors.New("hls: playlist not adaptable")

const streamInf = "#EXT-X-STREAM-INF:"

// IsMaster reports whether b looks like a multivariant playlist: it has an
// EXT-X-STREAM-INF tag.
func IsMaster(b []byte) bool { return bytes.Contains(b, []byte(streamInf)) }

// A Variant is one EXT-X-STREAM-INF entry of a multivariant playlist.
type Variant struct {
	URI        string // as written, relative to the playlist's URL unless absolute
	Bandwidth  int64  // BANDWIDTH: the peak, bits per second
	Resolution string // RESOLUTION, if given
	Codecs     string // CODECS, if given
}

// A Master is a parsed multivariant playlist.
type Master struct {
	Variants []Variant // in the playlist's order

	src    []byte
	blocks []span // Variants[i]'s lines in src
}

// span is a byte range [from, to) of the source.
type span struct{ from, to int }

// Parse parses the multivariant playlist b. It fails, wrapping
// ErrMalformed, when b is not a multivariant playlist the library accepts
// in strict mode, when a variant has no BANDWIDTH or no URI, or when b is
// over the limits. It never panics, whatever b holds.
func Parse(b []byte) (m *Master, err error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxSize)
	}
	if n := bytes.Count(b, []byte(streamInf)); n > MaxVariants {
		return nil, fmt.Errorf("%w: %d variants, more than %d", ErrMalformed, n, MaxVariants)
	}
	if n := bytes.Count(b, []byte("#EXT-X-MEDIA:")); n > MaxRenditions {
		return nil, fmt.Errorf("%w: %d renditions, more than %d", ErrMalformed, n, MaxRenditions)
	}
	blocks, clean := scan(b)
	defer func() {
		if v := recover(); v != nil { // the library's bug must not cost the request
			m, err = nil, fmt.Errorf("%w: the parser failed: %v", ErrMalformed, v)
		}
	}()
	p := m3u8.NewMasterPlaylist()
	if err := p.Decode(*bytes.NewBuffer(clean), true); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m = &Master{src: b, blocks: blocks}
	for _, v := range p.Variants {
		if v == nil || v.Iframe {
			continue
		}
		m.Variants = append(m.Variants, Variant{URI: v.URI, Bandwidth: int64(v.Bandwidth), Resolution: v.Resolution, Codecs: v.Codecs})
	}
	if len(m.Variants) == 0 {
		return nil, fmt.Errorf("%w: no variant", ErrMalformed)
	}
	if len(m.Variants) != len(blocks) {
		return nil, fmt.Errorf("%w: %d variants parsed, %d found in the text", ErrMalformed, len(m.Variants), len(blocks))
	}
	for i, v := range m.Variants {
		if v.URI == "" {
			return nil, fmt.Errorf("%w: variant %d has no URI", ErrMalformed, i+1)
		}
		if v.Bandwidth <= 0 {
			return nil, fmt.Errorf("%w: variant %d (%s) has no BANDWIDTH", ErrMalformed, i+1, v.URI)
		}
		if uri := lastLine(b[blocks[i].from:blocks[i].to]); uri != v.URI {
			return nil, fmt.Errorf("%w: variant %d: URI %q parsed, %q in the text", ErrMalformed, i+1, v.URI, uri)
		}
	}
	return m, nil
}

// scan finds each variant's lines in b, from its EXT-X-STREAM-INF tag to
// its URI line (the next line that is neither blank nor a tag or comment),
// and returns b without blank lines for the library, which would take a
// blank line for a URI.
func scan(b []byte) (blocks []span, clean []byte) {
	clean = make([]byte, 0, len(b)+1)
	start := -1 // the open block's first byte
	for off := 0; off < len(b); {
		end := bytes.IndexByte(b[off:], '\n')
		if end < 0 {
			end = len(b)
		} else {
			end += off + 1
		}
		line := strings.TrimSpace(string(b[off:end]))
		switch {
		case line == "":
		case strings.HasPrefix(line, streamInf) && start < 0:
			start = off
		case !strings.HasPrefix(line, "#") && start >= 0:
			blocks = append(blocks, span{start, end})
			start = -1
		}
		if line != "" {
			clean = append(clean, line...)
			clean = append(clean, '\n')
		}
		off = end
	}
	return blocks, clean
}

// lastLine is the last non-blank line of a block, trimmed: its URI.
func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// Rewrite returns the playlist with its variants in order (indexes into
// m.Variants, each at most once): the first variant's place in the text
// gets order[0]'s lines, the second's order[1]'s, and so on; places past
// len(order) are left empty (the variants filtered out). Every other line
// stays where and as it was.
func (m *Master) Rewrite(order []int) []byte {
	out := make([]byte, 0, len(m.src)+len(order))
	prev := 0
	for k, blk := range m.blocks {
		out = append(out, m.src[prev:blk.from]...)
		if k < len(order) {
			moved := m.src[m.blocks[order[k]].from:m.blocks[order[k]].to]
			out = append(out, moved...)
			if len(moved) > 0 && moved[len(moved)-1] != '\n' {
				out = append(out, '\n') // the last line, moved up
			}
		}
		prev = blk.to
	}
	return append(out, m.src[prev:]...)
}
