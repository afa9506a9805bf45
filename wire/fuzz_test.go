package wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the seed files under testdata/fuzz/FuzzParseFrame")

// seedDir holds the committed corpus of FuzzParseFrame: the seed-* files
// written by TestFuzzParseFrame_seeds from fuzzSeeds, and any crashers the
// fuzzer found.
var seedDir = filepath.Join("testdata", "fuzz", "FuzzParseFrame")

type fuzzSeed struct {
	name string
	b    []byte
}

// fuzzSeeds returns a valid encoding of every frame of the round-trip tables
// and a set of malformed inputs.
func fuzzSeeds() []fuzzSeed {
	var seeds []fuzzSeed
	for _, tc := range validFrames() {
		seeds = append(seeds, fuzzSeed{tc.name, tc.f.Append(nil)})
	}
	hello := validHandshake[0].f.Append(nil)
	two := append(Ping{Opaque: 1}.Append(nil), Data{Request: 1, Fin: true, Payload: []byte("ab")}.Append(nil)...)
	n := nonce(1)
	for _, s := range []fuzzSeed{
		{"bad/empty", nil},
		{"bad/short header", hello[:5]},
		{"bad/short payload", hello[:len(hello)-1]},
		{"bad/preface", append([]byte(Preface), hello...)},
		{"bad/unknown type", frame(0x05, 0)},
		{"bad/reserved", func() []byte { b := Ping{}.Append(nil); b[7] = 1; return b }()},
		{"bad/flags", frame(TypePing, FlagFin, be64(1))},
		{"bad/oversize", Header{Length: MaxMaxFrame + 1, Type: TypeData}.Append(nil)},
		{"bad/hello versions", frame(TypeHello, 0, be16(2), be16(1), be32(DefaultMaxFrame), n[:], s8("x"))},
		{"bad/open NUL", frame(TypeOpen, 0, be32(1), be32(1), s16("a\x00b"))},
		{"bad/open utf8", frame(TypeOpen, 0, be32(1), be32(1), s16("\xff"))},
		{"bad/open path length", frame(TypeOpen, 0, be32(1), be32(1), be16(5000), []byte("a"))},
		{"bad/object block size", frame(TypeObject, 0, be32(1), be32(1), be64(1), be64(0), be32(3<<16), n[:], s8(""), s8(""))},
		{"bad/read overflow", frame(TypeRead, 0, be32(1), be32(1), be64(1<<64-1), be32(1))},
		{"bad/data empty", frame(TypeData, 0, be32(1), be32(0), be64(0))},
		{"bad/data overflow", frame(TypeData, 0, be32(1), be32(0), be64(MaxObjectSize), []byte("x"))},
		{"bad/hashes 33", frame(TypeHashes, 0, be32(1), be32(0), make([]byte, 33))},
		{"bad/error code", frame(TypeError, 0, be32(0), be16(0), s16(""))},
		{"bad/goaway trailing", frame(TypeGoAway, 0, be16(11), s16("x"), []byte("y"))},
		{"bad/zero request", frame(TypeCancel, 0, be32(0))},
		{"two frames", two},
	} {
		seeds = append(seeds, s)
	}
	return seeds
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.b)
	}
	f.Fuzz(checkParse)
}

// checkParse checks the properties of the decoder on arbitrary input: it
// never panics; what parses re-encodes to exactly the bytes it used and to
// Len() of them, and decodes the same through ParseHeader and ParsePayload;
// everything else is ErrShort or a *ProtocolError, consistently.
func checkParse(t *testing.T, b []byte) {
	f, n, err := ParseFrame(b, MaxMaxFrame)
	h, herr := ParseHeader(b, MaxMaxFrame)
	whole := herr == nil && len(b) >= HeaderLen+int(h.Length)

	if err != nil {
		if f != nil || n != 0 {
			t.Fatalf("error %v with frame %#v and n %d", err, f, n)
		}
		var pe *ProtocolError
		switch {
		case err == ErrShort:
			if whole || herr != nil && herr != ErrShort {
				t.Fatalf("ErrShort for %x, but header %+v, %v", b, h, herr)
			}
		case errors.As(err, &pe):
			if !strings.HasPrefix(err.Error(), "wire: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if herr != nil && herr.Error() != err.Error() {
				t.Fatalf("ParseFrame: %v; ParseHeader: %v", err, herr)
			}
			if whole {
				_, perr := ParsePayload(h, b[HeaderLen:HeaderLen+int(h.Length)])
				if perr == nil || perr.Error() != err.Error() {
					t.Fatalf("ParseFrame: %v; ParsePayload: %v", err, perr)
				}
			}
		default:
			t.Fatalf("error %v (%T) is neither ErrShort nor a *ProtocolError", err, err)
		}
		return
	}

	if n < HeaderLen || n > len(b) {
		t.Fatalf("used %d of %d bytes", n, len(b))
	}
	if f.Len() != n {
		t.Fatalf("%v: Len() = %d, used %d bytes", f.Type(), f.Len(), n)
	}
	if re := f.Append(nil); !bytes.Equal(re, b[:n]) {
		t.Fatalf("%v: re-encoding\n%x\ndiffers from the input\n%x", f.Type(), re, b[:n])
	}
	if re := f.Append([]byte{0xee}); re[0] != 0xee || !bytes.Equal(re[1:], b[:n]) {
		t.Fatalf("%v: Append to a non-empty buffer = %x", f.Type(), re)
	}
	if herr != nil || h.Type != f.Type() || HeaderLen+int(h.Length) != n {
		t.Fatalf("frame %v of %d bytes, but ParseHeader = %+v, %v", f.Type(), n, h, herr)
	}
	if g, err := ParsePayload(h, b[HeaderLen:n]); err != nil || !sameFrame(g, f) {
		t.Fatalf("ParsePayload = %#v, %v; ParseFrame = %#v", g, err, f)
	}
	if _, _, err := ParseFrame(b[:n-1], MaxMaxFrame); err != ErrShort {
		t.Fatalf("%d of %d bytes: %v, want ErrShort", n-1, n, err)
	}
	g, gn, err := ParseFrame(b, HandshakeMaxPayload)
	if h.Length <= HandshakeMaxPayload {
		if err != nil || gn != n || !sameFrame(g, f) {
			t.Fatalf("with the handshake limit: %#v, %d, %v", g, gn, err)
		}
	} else if pe := (*ProtocolError)(nil); !errors.As(err, &pe) {
		t.Fatalf("payload of %d bytes with the handshake limit: %v", h.Length, err)
	}
	switch f := f.(type) {
	case Data:
		if len(f.Payload) > 0 && &f.Payload[0] != &b[HeaderLen+dataFixedLen] {
			t.Fatal("Data.Payload does not alias the input")
		}
	case Hashes:
		if &f.Hashes[0] != &b[HeaderLen+hashesFixedLen] {
			t.Fatal("Hashes.Hashes does not alias the input")
		}
	}
}

// TestFuzzParseFrame_seeds checks that the committed seed files match
// fuzzSeeds; run with -update to rewrite them.
func TestFuzzParseFrame_seeds(t *testing.T) {
	want := map[string][]byte{}
	for _, s := range fuzzSeeds() {
		name := seedFileName(s.name)
		if _, dup := want[name]; dup {
			t.Fatalf("two seeds named %s", name)
		}
		want[name] = corpusFile(s.b)
	}
	if *update {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old, err := filepath.Glob(filepath.Join(seedDir, "seed-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range old {
		if _, ok := want[filepath.Base(path)]; ok {
			continue
		}
		if *update {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("stale seed file %s; run go test ./wire -run TestFuzzParseFrame_seeds -update", path)
	}
	var bad []string
	for name, content := range want {
		path := filepath.Join(seedDir, name)
		if *update {
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, content) {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("%d seed files missing or out of date in %s: %s; run go test ./wire -run TestFuzzParseFrame_seeds -update", len(bad), seedDir, strings.Join(bad, ", "))
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

func seedFileName(name string) string {
	return "seed-" + strings.Trim(unsafeChars.ReplaceAllString(name, "-"), "-")
}

// corpusFile encodes one []byte argument in the corpus file format of go
// test fuzz.
func corpusFile(b []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b)
}
