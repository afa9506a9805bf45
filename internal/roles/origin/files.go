package origin

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"

	"github.com/aqueduct-cdn/aqueduct/internal/httpserve"
	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
)

// ETag returns a strong entity tag for a file, computed from its size and
// modification time as nginx does, but with the time in nanoseconds so that
// two versions written within the same second differ:
// "<hex mtime in Unix nanoseconds>-<hex size>", quotes included. The peer
// protocol uses the same value, so an edge can revalidate against either.
//
// Like any validator built from metadata it does not notice a rewrite that
// keeps both the size and the modification time.
func ETag(fi fs.FileInfo) string {
	b := make([]byte, 0, 36)
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(fi.ModTime().UnixNano()), 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(fi.Size()), 16)
	b = append(b, '"')
	return string(b)
}

// serveFile answers a request for the regular file rel.
func (h *httpHandler) serveFile(w http.ResponseWriter, r *http.Request, rel string) {
	f, fi, err := safepath.Open(h.root, rel)
	if errors.Is(err, safepath.ErrIsDir) {
		h.redirectToDir(w, r)
		return
	}
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	defer f.Close()
	c := httpserve.Content{
		Size:        fi.Size(),
		ModTime:     fi.ModTime(),
		ETag:        ETag(fi),
		ContentType: httpserve.ContentType(path.Base(rel)),
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	open := func(_ context.Context, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, off, n)), nil
	}
	if err := httpserve.Serve(w, r, c, open); err != nil {
		h.refuse(w, r, err)
	}
}

// redirectToDir answers "/dir" with a redirect to "/dir/". The path has
// passed safepath.FromURL, so it has no "//" that could make the Location a
// different host, and no control character that could split the header.
func (h *httpHandler) redirectToDir(w http.ResponseWriter, r *http.Request) {
	loc := r.URL.EscapedPath() + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
}
