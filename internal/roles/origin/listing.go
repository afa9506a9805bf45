package origin

import (
	"bytes"
	"errors"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
)

// MaxListing is the most entries a directory listing shows. Entries past it
// are not read at all, so a huge directory costs bounded memory and time;
// the page then says it was truncated. Which entries are shown then depends
// on the order the file system returns them in.
const MaxListing = 10000

// listEntry is one line of a directory listing.
type listEntry struct {
	name    string
	dir     bool
	size    int64
	modTime time.Time
}

// serveDir answers a request for the directory rel ("" for the root) with
// an HTML listing.
func (h *httpHandler) serveDir(w http.ResponseWriter, r *http.Request, rel string) {
	d, _, err := safepath.OpenDir(h.root, rel)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	defer d.Close()
	entries, truncated, err := readListing(h.root, d, rel, MaxListing)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	page := renderListing(rel, entries, truncated)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(page)))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(page)
	}
}

// readListing reads up to max entries of the open directory d (the
// directory rel inside root), sorted by name. It leaves out names that
// safepath.Check refuses (dot-files among them), symbolic links that leave
// the root or lead nowhere, and anything that is neither a directory nor a
// regular file. truncated reports that entries were left unread.
func readListing(root *os.Root, d *os.File, rel string, max int) (entries []listEntry, truncated bool, err error) {
	const batch = 256
	read := 0
	for read < max {
		des, err := d.ReadDir(min(batch, max-read))
		read += len(des)
		for _, de := range des {
			if e, ok := listable(root, rel, de); ok {
				entries = append(entries, e)
			}
		}
		if errors.Is(err, io.EOF) || err == nil && len(des) == 0 {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	if read >= max {
		// Look one entry further to tell "exactly max" from "more".
		more, _ := d.ReadDir(1)
		truncated = len(more) > 0
	}
	slices.SortFunc(entries, func(a, b listEntry) int { return strings.Compare(a.name, b.name) })
	return entries, truncated, nil
}

func listable(root *os.Root, rel string, de fs.DirEntry) (listEntry, bool) {
	name := de.Name()
	if safepath.Check(name) != nil {
		return listEntry{}, false
	}
	var fi fs.FileInfo
	var err error
	if de.Type()&fs.ModeSymlink != 0 {
		// Follow it as a request would: through the root.
		fi, err = root.Stat(path.Join(rel, name))
	} else {
		fi, err = de.Info()
	}
	if err != nil || !fi.IsDir() && !fi.Mode().IsRegular() {
		return listEntry{}, false
	}
	return listEntry{name: name, dir: fi.IsDir(), size: fi.Size(), modTime: fi.ModTime()}, true
}

// renderListing builds the HTML page. Every name is URL-escaped in links
// and HTML-escaped everywhere; links are relative ("./name") so that no
// name can be read as a scheme or a host.
func renderListing(rel string, entries []listEntry, truncated bool) []byte {
	title := "/"
	if rel != "" {
		title = "/" + rel + "/"
	}
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>Index of ")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title>\n<style>body{font-family:sans-serif}td{padding:0 1em 0 0}td.n{text-align:right}</style>\n</head><body>\n<h1>Index of ")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified (UTC)</th></tr>\n")
	if rel != "" {
		b.WriteString("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n")
	}
	for _, e := range entries {
		href, label, size := "./"+url.PathEscape(e.name), e.name, strconv.FormatInt(e.size, 10)
		if e.dir {
			href, label, size = href+"/", label+"/", "-"
		}
		b.WriteString("<tr><td><a href=\"")
		b.WriteString(html.EscapeString(href))
		b.WriteString("\">")
		b.WriteString(html.EscapeString(label))
		b.WriteString("</a></td><td class=\"n\">")
		b.WriteString(size)
		b.WriteString("</td><td>")
		b.WriteString(e.modTime.UTC().Format("2006-01-02 15:04:05"))
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	if truncated {
		b.WriteString("<p>Listing truncated after " + strconv.Itoa(MaxListing) + " entries.</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}
