package httpserve

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Next", "1")
		w.WriteHeader(http.StatusTeapot)
	})
	const (
		allowed = "https://player.example.com"
		other   = "https://evil.example.net"
	)
	preflight := map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"}
	tests := []struct {
		name    string
		origins []string
		method  string
		origin  string
		header  map[string]string
		status  int
		want    map[string]string // "" means absent
	}{
		{name: "any, get", origin: other, status: 418, want: map[string]string{
			"Access-Control-Allow-Origin":   "*",
			"Access-Control-Expose-Headers": corsExposeHeaders,
			"Vary":                          "", "X-Next": "1"}},
		{name: "any, no origin", status: 418, want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "star in list", origins: []string{allowed, "*"}, origin: other, status: 418,
			want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "any, preflight", method: "OPTIONS", origin: other, header: preflight, status: 204, want: map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
			"Access-Control-Allow-Headers": corsAllowHeaders,
			"Access-Control-Max-Age":       "86400",
			"X-Next":                       ""}},
		{name: "list, allowed", origins: []string{allowed}, origin: allowed, status: 418, want: map[string]string{
			"Access-Control-Allow-Origin":   allowed,
			"Access-Control-Expose-Headers": corsExposeHeaders,
			"Vary":                          "Origin"}},
		{name: "list, case", origins: []string{"HTTPS://Player.Example.com"}, origin: allowed, status: 418,
			want: map[string]string{"Access-Control-Allow-Origin": allowed}},
		{name: "list, other", origins: []string{allowed}, origin: other, status: 418, want: map[string]string{
			"Access-Control-Allow-Origin":   "",
			"Access-Control-Expose-Headers": "",
			"Vary":                          "Origin", "X-Next": "1"}},
		{name: "list, no origin", origins: []string{allowed}, status: 418, want: map[string]string{
			"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{name: "list, preflight", origins: []string{allowed}, method: "OPTIONS", origin: allowed, header: preflight,
			status: 204, want: map[string]string{
				"Access-Control-Allow-Origin":  allowed,
				"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
				"Vary":                         "Origin"}},
		{name: "list, preflight other", origins: []string{allowed}, method: "OPTIONS", origin: other, header: preflight,
			status: 403, want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{name: "plain options", method: "OPTIONS", origin: other, status: 418, want: map[string]string{"X-Next": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r := httptest.NewRequest(method, "/a.mp4", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			CORS(tc.origins, next).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}
