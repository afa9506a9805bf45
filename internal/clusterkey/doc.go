// Package clusterkey holds the cluster key: the 32-byte secret that every
// node of one Aqueduct cluster shares and proves it holds when a peer
// connection starts (see docs/protocol.md, "Connection start and
// authentication").
//
// A key is written as "aqk1-" followed by its 32 bytes in unpadded
// base64url. "aqueduct keygen" prints a new one; roles read it from the file
// named by --key-file or from the AQUEDUCT_KEY environment variable ([Load]).
//
// A Key never prints itself: its String method and slog value are redacted,
// so that a key cannot leak into logs by accident. [Key.Encode] gives the
// secret text form.
package clusterkey
