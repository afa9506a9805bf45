package lab

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"github.com/aqueduct-cdn/aqueduct/internal/randfile"
)

// writeContent creates path with size pseudo-random bytes, the same for
// the same name and size on every machine, and returns their SHA-256.
// Random bytes defeat compression anywhere on the path.
func writeContent(path, name string, size int64) ([32]byte, error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	sum, err := randfile.Write(path, seed, size)
	if err != nil {
		return sum, fmt.Errorf("lab: content %s: %w", name, err)
	}
	return sum, nil
}

// fileSHA256 hashes a file.
func fileSHA256(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}

// cappedWriter writes to w until limit bytes, then discards the rest and
// notes the truncation once.
type cappedWriter struct {
	w     io.Writer
	left  int64
	noted bool
}

func (c *cappedWriter) Write(b []byte) (int, error) {
	n := len(b)
	if c.left <= 0 {
		if !c.noted {
			c.noted = true
			fmt.Fprintf(c.w, "\n[lab: log truncated]\n")
		}
		return n, nil
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	c.left -= int64(len(b))
	if _, err := c.w.Write(b); err != nil {
		return n, err
	}
	return n, nil
}
