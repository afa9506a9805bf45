// Package object describes an object that Aqueduct moves: its metadata
// (size, modification time, entity tag, media type) and its content digest,
// a hash over fixed-size blocks that lets any node verify each block it
// receives, whatever path the block took.
//
// The digest is defined in docs/protocol.md ("Objects, digests and
// blocks"):
//
//	h_i    = SHA-256(block i)
//	digest = SHA-256("aqueduct/1 object" ‖ 0x00 ‖ size u64 ‖ B u32 ‖ h_0 ‖ … ‖ h_{n-1})
//
// The origin computes the block hashes once with [Describe]; every other
// node receives the hash list from upstream, checks it with
// [Meta.VerifyHashes], then checks every block with [Hashes.Verify].
//
// The package is pure: it reads through an io.ReaderAt it is given and
// keeps no state.
package object
