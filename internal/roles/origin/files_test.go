package origin

import (
	"io/fs"
	"regexp"
	"testing"
	"time"
)

type fakeInfo struct {
	fs.FileInfo
	size int64
	mod  time.Time
}

func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) ModTime() time.Time { return f.mod }

func TestETag(t *testing.T) {
	base := time.Unix(1700000000, 0)
	tests := []struct {
		size int64
		mod  time.Time
		want string
	}{
		{0, time.Unix(0, 0), `"0-0"`},
		{255, time.Unix(0, 16), `"10-ff"`},
		{1 << 20, base, `"17979cfe362a0000-100000"`},
		{1 << 20, base.Add(time.Nanosecond), `"17979cfe362a0001-100000"`},
	}
	for _, tc := range tests {
		if got := ETag(fakeInfo{size: tc.size, mod: tc.mod}); got != tc.want {
			t.Errorf("ETag(%d, %v) = %s, want %s", tc.size, tc.mod, got, tc.want)
		}
	}
	// A strong validator: quoted, no W/ prefix, only etagc characters.
	valid := regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`)
	for _, mod := range []time.Time{base, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if e := ETag(fakeInfo{size: 1, mod: mod}); !valid.MatchString(e) {
			t.Errorf("ETag for %v = %s: not a plain strong tag", mod, e)
		}
	}
	// Two writes in the same second differ.
	if ETag(fakeInfo{size: 5, mod: base}) == ETag(fakeInfo{size: 5, mod: base.Add(time.Millisecond)}) {
		t.Error("same-second modifications give the same ETag")
	}
}
