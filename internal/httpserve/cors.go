package httpserve

import (
	"net/http"
	"strings"
)

// CORS header values. Players read ranges and validators from JavaScript,
// so those response headers are exposed, and send Range and the
// conditional headers, so those are allowed in preflights.
const (
	corsAllowMethods  = "GET, HEAD, OPTIONS"
	corsAllowHeaders  = "Range, If-None-Match, If-Modified-Since, If-Range, If-Match, If-Unmodified-Since"
	corsExposeHeaders = "Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified, Content-Type"
	corsMaxAge        = "86400" // one day; browsers cap it lower (Chromium: 2 h)
)

// CORS wraps h so that browsers let pages on other origins read its
// responses (Fetch standard, "CORS protocol").
//
// allowOrigins lists the origins allowed, each exactly as a browser sends
// it in the Origin header ("https://player.example.com", compared without
// regard to case). An empty list, or one containing "*", allows any origin:
// every response then carries "Access-Control-Allow-Origin: *". Otherwise an
// allowed Origin is echoed back, and every response carries "Vary: Origin"
// so that caches keep the answers for different origins apart. Credentials
// (cookies) are never allowed.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered here with 204 and the allowed methods, request headers and a max
// age, without calling h; a preflight from an origin not allowed gets 403.
// Other requests go to h, with Access-Control-Expose-Headers added when the
// origin is allowed.
func CORS(allowOrigins []string, h http.Handler) http.Handler {
	c := &cors{next: h, any: len(allowOrigins) == 0, allowed: make(map[string]bool)}
	for _, o := range allowOrigins {
		if o == "*" {
			c.any = true
		}
		c.allowed[strings.ToLower(o)] = true
	}
	return c
}

type cors struct {
	next    http.Handler
	any     bool
	allowed map[string]bool
}

func (c *cors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	allowed := c.any || origin != "" && c.allowed[strings.ToLower(origin)]
	if !c.any {
		h.Add("Vary", "Origin")
	}
	if allowed {
		if c.any {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
	}
	if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		if !allowed {
			http.Error(w, "403 forbidden: origin not allowed", http.StatusForbidden)
			return
		}
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if allowed {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
	c.next.ServeHTTP(w, r)
}
