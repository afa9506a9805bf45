// Package origin is the role of the root server of an Aqueduct cluster: it
// serves a content directory over HTTP, to players and browsers, and over
// the peer protocol, to relays and edges. Nothing outside the directory is ever
// served: every path goes through package safepath, and files are opened
// through an os.Root, so that symbolic links cannot lead out.
//
// Over HTTP the origin answers GET and HEAD with ranges and conditional
// requests, sets Content-Type for video formats, answers CORS preflights
// and lists directories (see [NewHTTPHandler]). Over the peer protocol it
// describes each file with its block hashes and digest (computed once per
// version of the file and kept in a bounded cache) and serves byte ranges
// of it. A file that changes while it is being served is reported with
// CHANGED rather than served mixed.
//
// [Mount] makes a node (package internal/node) an origin; [NewHTTPHandler]
// is the HTTP handler alone.
package origin
