package edge

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/internal/hls"
	"github.com/aqueduct-cdn/aqueduct/internal/httpserve"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

// Content adaptation (http.adapt; seed 004, section 5): the edge lists the
// variants of an HLS multivariant playlist in the order the player's path
// can take them. The node registers every player connection as a Send
// flow of its congestion manager (node.ClientMacroflow: one macroflow per
// client host), which samples its TCP_INFO; the rate used is the
// macroflow's Rate (bytes per busy second: while a response was on its
// way), else its Goodput, in bits per second. A variant is sustainable if
// its BANDWIDTH (the peak) is at most Options.Headroom (0.8) times that.
//
//   - A master playlist (a .m3u8 object with EXT-X-STREAM-INF) is served
//     with the best sustainable variant first, the lower ones after it
//     from the best down, then the unsustainable ones from the lowest up
//     (Options.Filter leaves those out, keeping one). Players that start
//     on the first variant listed (ffplay, VLC, hls.js with its default
//     startLevel) start on it; players with their own ABR still switch.
//     Every other line of the playlist is kept as it was (package hls).
//   - PATH.m3u8?variant=auto on a master playlist answers 302 Found with
//     the chosen variant's URI, resolved against the master's URL: a
//     player given one rendition (ffplay, a set-top box) gets the best
//     sustainable one. A redirect rather than the variant's playlist
//     itself: the player then resolves the segments' relative URIs against
//     the variant's own URL, so nothing in it needs rewriting, and the
//     variant's playlist is fetched and cached as itself.
//   - With no estimate (a player's first request on a new connection,
//     before anything was measured), the master playlist is passed through
//     unchanged and auto picks the first variant listed: the author's
//     choice, which a player would make with the upstream's playlist.
//
// Every adapted answer carries Aqueduct-Variant-Rate: the rate used, in
// Mbit/s, or "unknown"; Cache-Control: private (a shared cache must not
// give one player's order to another; no-store on the redirect). The
// rewritten body has its own entity tag (the upstream's with a digest of
// the order) and is served with the same Range, HEAD and conditional
// semantics as any object. A playlist that does not parse, or is over
// hls.MaxSize, is served unchanged, and the reason logged.

// variantRateHeader names the estimate an adapted answer used.
const variantRateHeader = "Aqueduct-Variant-Rate"

const hlsContentType = "application/vnd.apple.mpegurl"

// servePlaylist serves a playlist of at most hls.MaxSize bytes, adapted if
// it is a multivariant one.
func (h *handler) servePlaylist(w http.ResponseWriter, r *http.Request, rel string, o *transfer.Object, c httpserve.Content) {
	body, err := readAll(r.Context(), o, c.Size)
	if err != nil {
		h.serveError(w, rel, err)
		return
	}
	if hls.IsMaster(body) {
		if redirected := h.adapt(w, r, rel, &body, &c); redirected {
			return
		}
	}
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(body[off : off+n])), nil
	}
	if err := httpserve.Serve(w, r, c, open); err != nil {
		h.serveError(w, rel, err)
	}
}

// adapt orders the master playlist in *body for the client, changing *c
// to describe the new body, or answers ?variant=auto with a redirect and
// reports true.
func (h *handler) adapt(w http.ResponseWriter, r *http.Request, rel string, body *[]byte, c *httpserve.Content) (redirected bool) {
	m, err := hls.Parse(*body)
	if err != nil {
		h.log.Info("master playlist served as it is: it cannot be adapted", "path", rel, "err", err)
		return false
	}
	bps, known := h.clientRate(r.RemoteAddr)
	var order []int
	if known {
		order = hls.Order(m.Variants, h.opts.Headroom*bps, h.opts.Filter)
	}
	rate := "unknown"
	if known {
		rate = strconv.FormatFloat(bps/1e6, 'f', 3, 64)
	}
	w.Header().Set(variantRateHeader, rate)
	if r.URL.Query().Get("variant") == "auto" {
		chosen := 0
		if known {
			chosen = order[0]
		}
		w.Header().Set("Cache-Control", "no-store")
		// Redirect resolves a relative URI against the request's path.
		http.Redirect(w, r, m.Variants[chosen].URI, http.StatusFound)
		return true
	}
	w.Header().Set("Cache-Control", "private")
	c.ContentType = hlsContentType // it parsed as one, whatever the upstream called it
	if !known || hls.Identity(order, len(m.Variants)) {
		return false
	}
	*body = m.Rewrite(order)
	c.Size = int64(len(*body))
	c.ETag = derivedETag(c.ETag, *body)
	return false
}

// clientRate is the rate the congestion manager measures to the client at
// remoteAddr's host, in bits per second, if it has measured one.
func (h *handler) clientRate(remoteAddr string) (float64, bool) {
	e, ok := h.opts.Rates.Query(node.ClientMacroflow(remoteAddr))
	if !ok || !e.Known() || e.Shared {
		return 0, false
	}
	r := e.Rate
	if r <= 0 {
		r = e.Goodput
	}
	if r <= 0 {
		return 0, false
	}
	return 8 * r, true
}

// derivedETag is the entity tag of a body made from the object whose tag
// is etag: the same kind (weak or strong), another value.
func derivedETag(etag string, body []byte) string {
	f := fnv.New64a()
	f.Write(body)
	sum := fmt.Sprintf("%016x", f.Sum64())
	weak, inner := "", strings.Trim(etag, `"`)
	if s, ok := strings.CutPrefix(etag, "W/"); ok {
		weak, inner = "W/", strings.Trim(s, `"`)
	}
	if inner == "" {
		return weak + `"` + sum + `"`
	}
	return weak + `"` + inner + "-" + sum + `"`
}

// readAll reads an object of size bytes (at most hls.MaxSize) whole.
func readAll(ctx context.Context, o *transfer.Object, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	rd, err := o.NewReader(ctx, 0, size)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	b := make([]byte, size)
	if _, err := io.ReadFull(rd, b); err != nil {
		return nil, err
	}
	return b, nil
}
