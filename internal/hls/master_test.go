package hls

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ladderM3U8 is a multivariant playlist with tags the library does not
// model (EXT-X-SESSION-DATA, EXT-X-START, SCORE), renditions, an I-frame
// variant, a comment and a blank line inside a variant: all kept.
const ladderM3U8 = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="Sample"
#EXT-X-START:TIME-OFFSET=0
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/en.m3u8"
# the low rung
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=426x240,CODECS="avc1.42c015,mp4a.40.2",AUDIO="aud",SCORE=1.0
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aud"

mid/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",AUDIO="aud"
high/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,URI="low/iframes.m3u8"
`

func TestParse(t *testing.T) {
	m, err := Parse([]byte(ladderM3U8))
	if err != nil {
		t.Fatal(err)
	}
	want := []Variant{
		{URI: "low/index.m3u8", Bandwidth: 800000, Resolution: "426x240", Codecs: "avc1.42c015,mp4a.40.2"},
		{URI: "mid/index.m3u8", Bandwidth: 2500000, Resolution: "1280x720", Codecs: "avc1.4d401f,mp4a.40.2"},
		{URI: "high/index.m3u8", Bandwidth: 6000000, Resolution: "1920x1080", Codecs: "avc1.640028,mp4a.40.2"},
	}
	if !slices.Equal(m.Variants, want) {
		t.Fatalf("variants %+v, want %+v", m.Variants, want)
	}
}

func TestRewrite(t *testing.T) {
	m, err := Parse([]byte(ladderM3U8))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Rewrite([]int{0, 1, 2})); got != ladderM3U8 {
		t.Fatalf("identity rewrite changed the playlist:\n%s", got)
	}
	got := string(m.Rewrite([]int{1, 0, 2}))
	wantOrder := []string{"mid/index.m3u8", "low/index.m3u8", "high/index.m3u8"}
	var uris []string
	for _, l := range strings.Split(got, "\n") {
		if strings.HasSuffix(l, "/index.m3u8") {
			uris = append(uris, l)
		}
	}
	if !slices.Equal(uris, wantOrder) {
		t.Fatalf("order %v, want %v:\n%s", uris, wantOrder, got)
	}
	// Every line is kept, once: only the order of the variants' lines
	// changed.
	a, b := strings.Split(ladderM3U8, "\n"), strings.Split(got, "\n")
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Fatalf("lines differ:\n%s", got)
	}
	// What is written parses to the reordered variants.
	m2, err := Parse([]byte(got))
	if err != nil {
		t.Fatalf("rewritten playlist: %v", err)
	}
	if m2.Variants[0] != m.Variants[1] || m2.Variants[1] != m.Variants[0] {
		t.Fatalf("reparsed %+v", m2.Variants)
	}
	// Filtered: the dropped variant's lines are gone, the rest stays.
	got = string(m.Rewrite([]int{1}))
	if strings.Contains(got, "low/index.m3u8") || strings.Contains(got, "high/index.m3u8") ||
		!strings.Contains(got, "mid/index.m3u8") || !strings.Contains(got, "#EXT-X-SESSION-DATA") ||
		!strings.Contains(got, `URI="low/iframes.m3u8"`) {
		t.Fatalf("filtered:\n%s", got)
	}
}

// A last variant without a final newline moves up with one.
func TestRewrite_noFinalNewline(t *testing.T) {
	src := "#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=100\r\na.m3u8\r\n#EXT-X-STREAM-INF:BANDWIDTH=200\r\nb.m3u8"
	m, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := string(m.Rewrite([]int{1, 0}))
	want := "#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=200\r\nb.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=100\r\na.m3u8\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParse_refuses(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"media playlist", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n"},
		{"no EXTM3U", "#EXT-X-STREAM-INF:BANDWIDTH=100\na.m3u8\n"},
		{"no BANDWIDTH", "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n"},
		{"bad BANDWIDTH", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=lots\na.m3u8\n"},
		{"no URI", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100\n"},
		{"empty", ""},
		{"too many variants", "#EXTM3U\n" + strings.Repeat("#EXT-X-STREAM-INF:BANDWIDTH=1\na\n", MaxVariants+1)},
		{"too large", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na\n#" + strings.Repeat("x", MaxSize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := Parse([]byte(tc.src)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse: %+v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

// FuzzRewrite feeds Parse whatever an upstream could send. Whatever parses
// must rewrite, in any order, to a playlist that parses to the same
// variants in that order, keeping every line that is not a variant's.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte(ladderM3U8))
	f.Add([]byte("#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=100\r\na.m3u8\r\n#EXT-X-STREAM-INF:BANDWIDTH=200\r\nb.m3u8"))
	if seeds, err := filepath.Glob("testdata/*.m3u8"); err == nil {
		for _, s := range seeds {
			b, err := os.ReadFile(s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		n := len(m.Variants)
		if n == 0 {
			t.Fatal("parsed with no variant")
		}
		if got := m.Rewrite(nil); len(got) > len(b) {
			t.Fatalf("rewrite with every variant filtered grew: %d > %d", len(got), len(b))
		}
		ident := make([]int, n)
		for i := range ident {
			ident[i] = i
		}
		// Unchanged, but for a newline after a last line that had none.
		if got := m.Rewrite(ident); !bytes.Equal(got, b) && !bytes.Equal(got, append(slices.Clip(b), '\n')) {
			t.Fatalf("identity rewrite changed the playlist:\n%q\n%q", b, got)
		}
		order := slices.Clone(ident)
		slices.Reverse(order)
		out := m.Rewrite(order)
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("reversed rewrite does not parse: %v\n%q\n%q", err, b, out)
		}
		for i, k := range order {
			if m2.Variants[i] != m.Variants[k] {
				t.Fatalf("variant %d: %+v, want %+v\n%q", i, m2.Variants[i], m.Variants[k], out)
			}
		}
	})
}
