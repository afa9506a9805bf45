package origin

import (
	"context"
	"io/fs"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
)

// index hashes the content directory's files in the background, one at a
// time, until it has seen them all, the hash cache is nine-tenths full or
// ctx ends. Files the peer protocol could not name (dot-files and the
// like) are skipped, as are symbolic links that leave the root.
func (o *content) index(ctx context.Context) {
	start := time.Now()
	var files, bytes int64
	full := false
	err := fs.WalkDir(o.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return fs.SkipAll
		}
		if p == "." {
			return nil
		}
		if safepath.Check(p) != nil {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		f, fi, err := safepath.Open(o.root, p)
		if err != nil {
			return nil // not a regular file inside the root
		}
		f.Close()
		if o.descs.full() {
			full = true
			return fs.SkipAll
		}
		if _, err := o.descs.get(ctx, o.root, p, fi); err == nil {
			files++
			bytes += fi.Size()
		}
		return nil
	})
	if err != nil || ctx.Err() != nil {
		return
	}
	o.log.Info("origin indexed its content", "files", files, "bytes", bytes, "took", time.Since(start).Round(time.Millisecond), "cache_full", full)
}
