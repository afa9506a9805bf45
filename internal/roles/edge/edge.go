package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/hls"
	"github.com/aqueduct-cdn/aqueduct/internal/httpserve"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
	"github.com/aqueduct-cdn/aqueduct/internal/store"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Mount makes n an edge: a transfer engine over the configured upstreams
// (caching verified blocks in cache.dir if it is set) and the HTTP server
// that players talk to.
func Mount(n *node.Node) error {
	cfg := n.Config()
	var st *store.Store
	if cfg.Cache.Dir != "" {
		var err error
		if st, err = n.OpenStore(cfg.Cache.Dir); err != nil {
			return err
		}
	}
	e, err := n.StartEngine(st)
	if err != nil {
		return err
	}
	ln, err := n.Listen("http", cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	opts := Options{AllowOrigins: cfg.HTTP.AllowOrigins, Logger: n.Logger()}
	if cfg.HTTP.Adapt {
		// The node registers each player's connection in its congestion
		// manager (node.ClientMacroflow), which measures the path.
		opts.Rates = n.Congestion()
		opts.Headroom, opts.Filter = cfg.HTTP.AdaptHeadroom, cfg.HTTP.AdaptFilter
	}
	return n.ServeHTTP(ln, NewHandler(e, opts))
}

// Options configure the edge's handler.
type Options struct {
	AllowOrigins []string     // browser origins allowed to read (CORS); empty allows any
	Logger       *slog.Logger // nil: discard

	// Rates, if set, turns on content adaptation (see adapt.go): the
	// congestion manager whose client macroflows (node.ClientMacroflow)
	// measure the path to each player.
	Rates *congestion.Manager
	// Headroom is the fraction of a player's rate a variant's BANDWIDTH
	// may take; 0 means DefaultHeadroom.
	Headroom float64
	// Filter leaves the variants a player cannot sustain out of master
	// playlists (the lowest stays if none is sustainable).
	Filter bool
}

// DefaultHeadroom is Options.Headroom's default: a variant is sustainable
// at up to 80% of the measured rate.
const DefaultHeadroom = 0.8

// NewHandler returns the edge's HTTP handler over engine.
func NewHandler(engine *transfer.Engine, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Headroom <= 0 || opts.Headroom > 1 {
		opts.Headroom = DefaultHeadroom
	}
	return httpserve.CORS(opts.AllowOrigins, &handler{engine: engine, log: opts.Logger, opts: opts})
}

type handler struct {
	engine *transfer.Engine
	log    *slog.Logger
	opts   Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, dir, err := safepath.FromURL(r.URL.EscapedPath())
	if err != nil {
		h.log.Info("request refused", "method", r.Method, "path", r.URL.EscapedPath(),
			"status", safepath.Status(err), "reason", err.Error(), "remote_addr", r.RemoteAddr)
		http.Error(w, safepath.Message(err), safepath.Status(err))
		return
	}
	if !httpserve.ReadOnly(w, r) {
		return
	}
	if dir {
		if rel != "" {
			http.Error(w, "404 not found: the edge does not list directories", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Aqueduct edge. Ask for a path of the origin's content, for example\n"+
			"/video/sample.mp4 or /video/hls/index.m3u8 in the demo (aqueduct demo).\n")
		return
	}
	o, err := h.engine.Open(r.Context(), rel)
	if err != nil {
		status := httpStatus(err)
		if status >= 500 {
			h.log.Warn("cannot open object upstream", "path", rel, "err", err)
		}
		http.Error(w, statusLine(status), status)
		return
	}
	defer o.Close()
	m := o.Meta()
	c := httpserve.Content{Size: m.Size, ModTime: m.ModTime, ETag: m.ETag, ContentType: m.ContentType}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if o.Stale() {
		// No upstream could revalidate the object: it is served from what
		// the cluster holds (transfer.stale_if_error), and says so in the
		// form of RFC 9211.
		w.Header().Set("Cache-Status", staleStatus)
	}
	if h.opts.Rates != nil && strings.HasSuffix(rel, ".m3u8") && m.Size <= hls.MaxSize {
		h.servePlaylist(w, r, rel, o, c)
		return
	}
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return o.NewReader(ctx, off, n)
	}
	if strings.Contains(r.Header.Get("Range"), ",") {
		open = newParts(o).open // several ranges: each block fetched once
	}
	if err := httpserve.Serve(w, r, c, open); err != nil {
		h.serveError(w, rel, err)
	}
}

// serveError answers a request whose object could not be read.
func (h *handler) serveError(w http.ResponseWriter, rel string, err error) {
	status := httpStatus(err)
	h.log.Warn("cannot serve object", "path", rel, "status", status, "err", err)
	if errors.Is(err, transfer.ErrBusy) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "503 service unavailable: every buffer is in use; retry", status)
		return
	}
	http.Error(w, statusLine(status), status)
}

// staleStatus is the Cache-Status of a response served while no upstream
// could revalidate the object.
const staleStatus = `aqueduct; hit; detail="stale-if-error"`

// httpStatus is the status the edge answers with when no upstream could
// open an object: the upstreams' own answer for the path where they gave
// one, 503 when they are busy or going away, else 502.
func httpStatus(err error) int {
	if errors.Is(err, transfer.ErrBusy) {
		return http.StatusServiceUnavailable
	}
	var pe *peer.Error
	if !errors.As(err, &pe) {
		return http.StatusBadGateway
	}
	switch pe.Code {
	case wire.CodeNotFound:
		return http.StatusNotFound
	case wire.CodeForbidden:
		return http.StatusForbidden
	case wire.CodeBadRequest:
		return http.StatusBadRequest
	case wire.CodeTooMany, wire.CodeShuttingDown, wire.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

func statusLine(status int) string {
	switch status {
	case 400:
		return "400 bad request"
	case 403:
		return "403 forbidden"
	case 404:
		return "404 not found"
	case 503:
		return "503 service unavailable: upstream busy or going away"
	}
	return "502 bad gateway: no upstream could serve the object"
}
