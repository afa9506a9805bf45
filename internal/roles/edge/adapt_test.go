package edge

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/peer/peertest"
	"github.com/aqueduct-cdn/aqueduct/transfer"
)

const masterM3U8 = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=426x240
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720
mid/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080
high/index.m3u8
`

// ratedCM is a congestion manager whose loopback client macroflow has
// measured mbps (none if 0), as the node's client flows would.
func ratedCM(t *testing.T, mbps float64) *congestion.Manager {
	t.Helper()
	clk := clockwork.NewFakeClockAt(time.Unix(1e9, 0))
	cm := congestion.New(congestion.Config{Now: clk.Now})
	t.Cleanup(cm.Close)
	if mbps == 0 {
		return cm
	}
	f := cm.Open(node.ClientMacroflow("127.0.0.1:1"))
	f.Update(0, 0, congestion.NoLoss, 20*time.Millisecond) // the baseline
	for range 8 {
		clk.Advance(time.Second)
		b := uint64(mbps * 1e6 / 8)
		f.Update(b, b, congestion.NoLoss, 20*time.Millisecond)
	}
	return cm
}

// newAdaptingEdge serves the edge handler with adaptation over cm.
func newAdaptingEdge(t *testing.T, cm *congestion.Manager, filter bool, files map[string]string) string {
	t.Helper()
	key, _ := peer.GenerateKey()
	h := &peertest.Handler{}
	for p, s := range files {
		h.Put(p, []byte(s))
	}
	up := peertest.Start(t, peer.Config{Key: key}, h)
	log := aqtest.Logger(t, slog.LevelInfo)
	e, err := transfer.New(transfer.Config{Upstreams: []string{up.Addr}, Peer: peer.Config{Key: key}, Conns: 2, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(e, Options{Logger: log, Rates: cm, Filter: filter}))
	t.Cleanup(func() { srv.Close(); e.Close() })
	return srv.URL
}

// uris lists a playlist's variant URIs in order.
func uris(body []byte) []string {
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasSuffix(l, "/index.m3u8") {
			out = append(out, strings.TrimSuffix(l, "/index.m3u8"))
		}
	}
	return out
}

// The order of a master playlist's variants follows the client's
// measured rate: the best sustainable at 80% of it first.
func TestEdge_adaptsMasterToRate(t *testing.T) {
	files := map[string]string{"v/master.m3u8": masterM3U8}
	for _, tc := range []struct {
		name   string
		mbps   float64
		filter bool
		order  []string
		rate   string
	}{
		{"no estimate: unchanged", 0, false, []string{"low", "mid", "high"}, "unknown"},
		{"0.5 Mbit/s: none sustainable, lowest first", 0.5, false, []string{"low", "mid", "high"}, "0.500"},
		{"4 Mbit/s: mid first", 4, false, []string{"mid", "low", "high"}, "4.000"},
		{"10 Mbit/s: high first", 10, false, []string{"high", "mid", "low"}, "10.000"},
		{"4 Mbit/s filtered", 4, true, []string{"mid", "low"}, "4.000"},
		{"0.5 Mbit/s filtered: the lowest stays", 0.5, true, []string{"low"}, "0.500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := newAdaptingEdge(t, ratedCM(t, tc.mbps), tc.filter, files) + "/v/master.m3u8"
			resp, body := get(t, "GET", url, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %s", resp.Status)
			}
			if got := uris(body); !slices.Equal(got, tc.order) {
				t.Errorf("variants %v, want %v\n%s", got, tc.order, body)
			}
			if got := resp.Header.Get(variantRateHeader); got != tc.rate {
				t.Errorf("%s: %q, want %q", variantRateHeader, got, tc.rate)
			}
			if resp.Header.Get("Content-Type") != hlsContentType || resp.ContentLength != int64(len(body)) ||
				resp.Header.Get("Cache-Control") != "private" {
				t.Errorf("headers %v, %d bytes", resp.Header, len(body))
			}
			etag := resp.Header.Get("ETag")
			if changed := string(body) != masterM3U8; changed != strings.Contains(etag, "-") {
				t.Errorf("ETag %q: the body changed: %v; the upstream's tag must mean the upstream's body", etag, changed)
			}
			// The same body, by ranges and conditionally.
			resp, part := get(t, "GET", url, map[string]string{"Range": "bytes=10-"})
			if resp.StatusCode != 206 || string(part) != string(body[10:]) {
				t.Errorf("range: %s %q", resp.Status, part)
			}
			resp, _ = get(t, "GET", url, map[string]string{"If-None-Match": etag})
			if resp.StatusCode != 304 {
				t.Errorf("If-None-Match: %s", resp.Status)
			}
			resp, head := get(t, "HEAD", url, nil)
			if resp.StatusCode != 200 || len(head) != 0 || resp.ContentLength != int64(len(body)) {
				t.Errorf("HEAD: %s, length %d", resp.Status, resp.ContentLength)
			}
		})
	}
}

// ?variant=auto redirects to the chosen variant, resolved against the
// master's URL; with no estimate, to the first one listed.
func TestEdge_autoVariant(t *testing.T) {
	files := map[string]string{"v/master.m3u8": masterM3U8, "v/mid/index.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n"}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		mbps float64
		want string
	}{
		{0, "/v/low/index.m3u8"},
		{4, "/v/mid/index.m3u8"},
		{100, "/v/high/index.m3u8"},
	} {
		base := newAdaptingEdge(t, ratedCM(t, tc.mbps), false, files)
		resp, err := noRedirect.Get(base + "/v/master.m3u8?variant=auto")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 || resp.Header.Get("Location") != tc.want || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%v Mbit/s: %s, Location %q, want %q", tc.mbps, resp.Status, resp.Header.Get("Location"), tc.want)
		}
		if tc.mbps == 4 { // and a client that follows it gets the media playlist
			resp, body := get(t, "GET", base+"/v/master.m3u8?variant=auto", nil)
			if resp.StatusCode != 200 || !strings.Contains(string(body), "a.ts") {
				t.Errorf("followed: %s %q", resp.Status, body)
			}
		}
	}
}

// What is not an adaptable master playlist is served as it is.
func TestEdge_adaptPassesThrough(t *testing.T) {
	media := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n"
	malformed := "#EXT-X-STREAM-INF:BANDWIDTH=lots\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=9\nhigh.m3u8\n"
	noBandwidth := "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nb.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=9\na.m3u8\n"
	files := map[string]string{"media.m3u8": media, "bad.m3u8": malformed, "nobw.m3u8": noBandwidth, "empty.m3u8": ""}
	url := newAdaptingEdge(t, ratedCM(t, 10), false, files)
	for path, want := range map[string]string{"/media.m3u8": media, "/bad.m3u8": malformed, "/nobw.m3u8": noBandwidth, "/empty.m3u8": ""} {
		resp, body := get(t, "GET", url+path, nil)
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get(variantRateHeader) != "" {
			t.Errorf("%s: %s %q (%s %q), want it unchanged", path, resp.Status, body, variantRateHeader, resp.Header.Get(variantRateHeader))
		}
		resp, body = get(t, "GET", url+path+"?variant=auto", nil)
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("%s?variant=auto: %s %q, want it unchanged", path, resp.Status, body)
		}
	}
}
