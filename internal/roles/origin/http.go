package origin

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/aqueduct-cdn/aqueduct/internal/httpserve"
	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
)

// HTTPConfig configures the origin's HTTP handler.
type HTTPConfig struct {
	// Root is the content root. Required; the caller opens it with
	// os.OpenRoot and closes it after the server has shut down.
	Root *os.Root
	// RootDir is the path Root was opened from. It is used only in log
	// messages, never in responses.
	RootDir string
	// AllowOrigins lists the browser origins allowed to read responses
	// (CORS). Empty, or containing "*", allows any origin; see
	// httpserve.CORS.
	AllowOrigins []string
	// Logger receives an Info record per refused path. Nil discards. (The
	// node logs every request at Debug, and in its access log.)
	Logger *slog.Logger
}

// NewHTTPHandler returns the origin's HTTP handler. It answers GET and HEAD
// for files (ranges, conditional requests: see package httpserve) and for
// directories ending in "/" (an HTML listing), redirects a directory named
// without its trailing slash, answers OPTIONS and CORS preflights, and
// answers 405 to other methods.
//
// Every request path goes through safepath.FromURL before anything else;
// a refused path gets its 4xx status and a one-line plain-text reason, such
// as "403 forbidden: path leaves the content root". Paths are never cleaned
// or redirected to a cleaned form, which is why this handler does not use
// http.FileServer or http.ServeMux.
//
// The caller must, in order: open the content directory with os.OpenRoot
// and keep it open while the handler is in use; build the handler; serve it
// from an http.Server with ReadHeaderTimeout and IdleTimeout set; stop that
// server with Shutdown(ctx) before closing the root.
//
// Limits: files are served as they are on disk, with no index.html and no
// compression. A directory listing shows at most [MaxListing] entries.
// Dot-files, and names the peer protocol could not carry (see
// safepath.Check), are neither served nor listed.
//
// NewHTTPHandler panics if cfg.Root is nil.
func NewHTTPHandler(cfg HTTPConfig) http.Handler {
	if cfg.Root == nil {
		panic("origin: HTTPConfig.Root is nil")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "origin_http")
	h := &httpHandler{root: cfg.Root, rootDir: cfg.RootDir, log: log}
	return httpserve.CORS(cfg.AllowOrigins, h)
}

type httpHandler struct {
	root    *os.Root
	rootDir string
	log     *slog.Logger
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, dir, err := safepath.FromURL(r.URL.EscapedPath())
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	if !httpserve.ReadOnly(w, r) {
		return
	}
	if dir {
		h.serveDir(w, r, rel)
		return
	}
	h.serveFile(w, r, rel)
}

// refuse answers with the status safepath gives err and a short text that
// never includes the error's own message. A bad or forbidden path is logged
// at Info, a server-side failure at Error; a missing file only appears in
// the Debug request log.
func (h *httpHandler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := safepath.Status(err)
	switch {
	case status >= 500:
		h.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.EscapedPath()),
			slog.String("root", h.rootDir), slog.Any("err", err))
	case status != http.StatusNotFound:
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request refused",
			slog.String("method", r.Method), slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", status), slog.String("reason", err.Error()),
			slog.String("remote_addr", r.RemoteAddr))
	}
	h2 := w.Header()
	for _, k := range []string{"Etag", "Last-Modified", "Cache-Control", "X-Content-Type-Options"} {
		h2.Del(k)
	}
	http.Error(w, safepath.Message(err), status)
}
