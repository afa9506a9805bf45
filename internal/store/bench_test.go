package store

import (
	"log/slog"
	"strconv"
	"testing"
)

const benchBlock = 256 << 10

func benchStore(b *testing.B, maxBytes int64) *Store {
	b.Helper()
	s, err := Open(Config{Dir: b.TempDir(), MaxBytes: maxBytes, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPut writes 256 KiB blocks into a 64 MiB budget, so that in the
// steady state every 16th Put evicts an object of 16 blocks.
func BenchmarkPut(b *testing.B) {
	s := benchStore(b, 64<<20)
	data := blockData(dig("x"), 0, benchBlock)
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Put(dig(strconv.Itoa(i/16)), uint32(i%16), data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGet reads 256 KiB blocks from the page cache: the cost of the
// store and the system calls, not of the disk.
func BenchmarkGet(b *testing.B) {
	s, ds := benchGetStore(b)
	dst := make([]byte, benchBlock)
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := s.Get(ds[i%len(ds)], uint32(i%16), dst); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

// BenchmarkGetParallel is BenchmarkGet from GOMAXPROCS goroutines.
func BenchmarkGetParallel(b *testing.B) {
	s, ds := benchGetStore(b)
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, benchBlock)
		i := 0
		for pb.Next() {
			if _, ok := s.Get(ds[i%len(ds)], uint32(i%16), dst); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// benchGetStore caches 4 objects of 16 blocks of 256 KiB.
func benchGetStore(b *testing.B) (*Store, []Digest) {
	s := benchStore(b, 64<<20)
	ds := make([]Digest, 4)
	for i := range ds {
		ds[i] = dig(strconv.Itoa(i))
		for idx := range uint32(16) {
			if err := s.Put(ds[i], idx, blockData(ds[i], idx, benchBlock)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s, ds
}
