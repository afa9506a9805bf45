// Package randfile writes files of deterministic pseudo-random bytes, the
// test content of the demo, the end-to-end tests and the lab. Random bytes
// defeat compression anywhere on a path, and the same seed gives the same
// bytes on every machine, so a digest can be checked anywhere.
package randfile

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// Write creates (or truncates) path with size bytes of ChaCha8 output from
// seed and returns their SHA-256.
func Write(path string, seed [32]byte, size int64) ([32]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("randfile: %w", err)
	}
	sum := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, sum), 1<<20)
	_, err = io.CopyN(w, rand.NewChaCha8(seed), size)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return [32]byte{}, fmt.Errorf("randfile: %s: %w", path, err)
	}
	return [32]byte(sum.Sum(nil)), nil
}
