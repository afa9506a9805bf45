package store

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// A cache whose disk fills before its budget evicts and keeps caching: on
// a 4 MiB tmpfs with a 64 MiB budget, 64 objects of a 256 KiB block each
// are all put, the latest are cached, the oldest evicted (before, the store
// logged once and cached nothing more).
func TestPut_diskFullKeepsCaching(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	s := openDir(t, dir, 64<<20)
	defer s.Close()
	var failed int
	for i := range 64 {
		d := dig(fmt.Sprint("object", i))
		if err := s.Put(d, 0, blockData(d, 0, 256<<10)); err != nil {
			failed++
			t.Logf("put %d: %v", i, err)
		}
	}
	st := s.Stats()
	t.Logf("after 64 puts of 256 KiB on a 4 MiB disk: %+v, %d failed", st, failed)
	if failed > 1 {
		t.Errorf("%d of 64 puts failed: caching stopped when the disk filled", failed)
	}
	if st.Evictions == 0 || st.Bytes > 4<<20 {
		t.Errorf("stats %+v: want evictions and at most the disk's 4 MiB", st)
	}
	for i := 60; i < 64; i++ {
		d := dig(fmt.Sprint("object", i))
		checkGet(t, s, d, 0, blockData(d, 0, 256<<10))
	}
}
