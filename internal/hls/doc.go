// Package hls adapts an HLS multivariant (master) playlist to the rate a
// client's path sustains: content adaptation (seed 004, section 5), done
// at the edge for unmodified players.
//
// [Parse] reads a multivariant playlist with github.com/grafov/m3u8 (the
// attribute lists, quoting and structure; a playlist the library rejects
// in strict mode is refused) and locates each EXT-X-STREAM-INF variant's
// lines in the original text. [Order] is pure: given the variants and the
// bits per second a client can take, it ranks them: the sustainable ones
// (BANDWIDTH, the peak, at most the limit) from the best down, then the
// others from the lowest up; with filter, only the sustainable ones, and
// always at least one. [Master.Rewrite] writes the playlist with its
// variants in a new order, moving each variant's lines whole and leaving
// every other line where and as it was.
//
// The library's own encoder is not used to write the result: it drops
// the tags and attributes it does not model (EXT-X-SESSION-DATA,
// EXT-X-START, EXT-X-DEFINE, EXT-X-CONTENT-STEERING, SCORE,
// SUPPLEMENTAL-CODECS, PATHWAY-ID...), quotes and orders attributes its
// own way and adds the PROGRAM-ID that version 6 removed. Moving the
// original lines keeps all of that byte for byte.
//
// Limits: a playlist of more than [MaxSize] bytes, [MaxVariants] variants
// or [MaxRenditions] EXT-X-MEDIA renditions is refused (the caller serves
// it as it is). I-frame variants (EXT-X-I-FRAME-STREAM-INF) are left where
// they are: players do not start on them. Variants of different codecs
// are ranked by bandwidth alone; a player skips those it cannot decode.
//
// The caller's duties: pass the bytes of a whole playlist (IsMaster tells
// a multivariant one from a media one), compute the limit from a measured
// rate and a headroom, and serve the input unchanged whenever Parse
// returns an error.
package hls
