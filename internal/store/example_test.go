package store_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/aqueduct-cdn/aqueduct/internal/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(store.Config{Dir: dir, MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A block that the caller has checked against its hash.
	block := []byte("hello, block")
	hash := sha256.Sum256(block)
	digest := sha256.Sum256([]byte("the object's digest"))

	if err := s.Put(digest, 0, block); err != nil {
		// Not cached, and nothing else: carry on without the cache.
		if errors.Is(err, store.ErrNoSpace) {
			log.Print("cache disk full")
		}
	}

	buf := make([]byte, 256<<10) // the object's block size is always enough
	if n, ok := s.Get(digest, 0, buf); ok {
		if sha256.Sum256(buf[:n]) != hash {
			s.Remove(digest, 0) // damaged on disk: drop it and fetch elsewhere
		} else {
			fmt.Printf("hit: %q\n", buf[:n])
		}
	}
	st := s.Stats()
	fmt.Println(st.Objects, "object,", st.Blocks, "block,", st.Bytes, "bytes")
	// Output:
	// hit: "hello, block"
	// 1 object, 1 block, 12 bytes
}
