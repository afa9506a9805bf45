package httpserve

import "testing"

func TestContentType(t *testing.T) {
	tests := []struct{ name, want string }{
		{"a.mp4", "video/mp4"},
		{"dir/A.MP4", "video/mp4"},
		{"seg-1.m4s", "video/iso.segment"},
		{"seg-1.ts", "video/mp2t"},
		{"index.m3u8", "application/vnd.apple.mpegurl"},
		{"manifest.mpd", "application/dash+xml"},
		{"a.m4a", "audio/mp4"},
		{"a.m4v", "video/mp4"},
		{"a.mp3", "audio/mpeg"},
		{"a.aac", "audio/aac"},
		{"subs.vtt", "text/vtt"},
		{"index.html", "text/html; charset=utf-8"},
		{"a.json", "application/json"},
		{"a.txt", "text/plain; charset=utf-8"},
		{"a.png", "image/png"}, // from mime.TypeByExtension's built-in table
		{"a.unknown-ext", "application/octet-stream"},
		{"noext", "application/octet-stream"},
		{"dir.mp4/noext", "application/octet-stream"},
		{"", "application/octet-stream"},
	}
	for _, tc := range tests {
		if got := ContentType(tc.name); got != tc.want {
			t.Errorf("ContentType(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
