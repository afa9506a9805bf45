// Package httpserve answers HTTP GET and HEAD requests for one object with
// the semantics of net/http's ServeContent, for content that cannot seek:
// an object still arriving over the network, or one read in pieces from a
// cache. The origin and the edge both serve through it, so they behave
// identically.
//
// [Serve] needs only the object's metadata ([Content]) and a function that
// opens a reader for a byte range ([OpenFunc]). It evaluates the conditional
// headers in the order of RFC 9110 section 13.2.2 (If-Match,
// If-Unmodified-Since, If-None-Match, If-Modified-Since, then If-Range),
// answers Range requests with 206 (multipart/byteranges for several ranges)
// or 416, and sends Accept-Ranges, Last-Modified, ETag, Content-Type and
// Content-Length, all as net/http.ServeContent does.
//
// The caller must, in order:
//
//  1. Check the request path (see package safepath) and find the object.
//  2. Fill in a [Content]: the total Size must be known before the first
//     byte is sent; ETag should be a strong validator; ContentType usually
//     comes from [ContentType].
//  3. Call [Serve]. If it returns an error, nothing has been written: map the
//     error to a status and answer with a fixed text (never the error's
//     own). If it returns nil, the response is complete.
//  4. Let a panic of http.ErrAbortHandler propagate: Serve raises it when the
//     body fails after the headers went out (see [Serve]).
//
// Wrap the handler in [CORS] to let browser players on other origins fetch
// and seek.
//
// Where Serve differs from net/http.ServeContent, on purpose:
//   - Only GET and HEAD are served; OPTIONS gets 204 and other methods 405,
//     both with "Allow: GET, HEAD, OPTIONS". ServeContent serves any method.
//   - A range that selects no bytes (the suffix range "-0", or any suffix
//     range of an empty object) is unsatisfiable, as RFC 9110 section
//     14.1.1 says; ServeContent answers it with a 206 and an impossible
//     Content-Range such as "bytes 10-9/10".
//   - More than [MaxRanges] ranges in one request are ignored and the whole
//     object is sent with 200, as ServeContent already does for ranges whose
//     total exceeds the object's size.
//   - The content type is never sniffed from the body: an empty
//     Content.ContentType with no Content-Type header already set gives
//     application/octet-stream.
//
// Everything else is identical, including net/http's leniencies in Range
// parsing ("bytes=+1-2", whitespace around numbers, empty list elements) and
// the headers on error responses; a differential test compares the two on
// thousands of random requests.
package httpserve
