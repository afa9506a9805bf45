// Package edge is the role of the node that players talk to. It serves
// plain HTTP with the origin's semantics (GET and HEAD, ranges, entity
// tags, conditional requests, content types, CORS), so unmodified players
// work, seeking included: ffplay, VLC, mpv, hls.js in a browser, curl,
// aria2c.
//
// Each request is answered through the parallel transfer engine: the
// object is fetched over many connections to several upstreams at once, its
// blocks verified against the origin's digest, and the in-order prefix
// streamed to the player as soon as it is there. Verified blocks are kept
// in an optional disk cache (cache.dir). Memory per request is bounded by
// the engine's window (transfer.window), whatever the object's size; a
// player that takes nothing for http.write_timeout is cut off.
//
// With content adaptation (http.adapt, adapt.go) an HLS master playlist
// lists its variants in the order the player's path, as the node's
// congestion manager measures it, can sustain them, and
// PATH.m3u8?variant=auto redirects to the best sustainable variant.
//
// [Mount] makes a node (package internal/node) an edge; [NewHandler] is the
// HTTP handler alone, over any engine.
package edge
