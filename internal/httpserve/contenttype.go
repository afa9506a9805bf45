package httpserve

import (
	"mime"
	"path"
	"strings"
)

// mediaTypes are the types players depend on. They are fixed here because
// mime.TypeByExtension reads the host's mime.types files, which differ
// between systems and often lack the streaming types.
var mediaTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".m4s":  "video/iso.segment",
	".m4a":  "audio/mp4",
	".ts":   "video/mp2t",
	".m3u8": "application/vnd.apple.mpegurl",
	".mpd":  "application/dash+xml",
	".mp3":  "audio/mpeg",
	".aac":  "audio/aac",
	".vtt":  "text/vtt",
	".html": "text/html; charset=utf-8",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// ContentType returns the media type for a file name, from its extension
// (case-insensitive): first the fixed table of streaming and text types,
// then mime.TypeByExtension, and application/octet-stream if neither knows
// it.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return "application/octet-stream"
	}
	if t, ok := mediaTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
