package wire

import "encoding/hex"

// Version1 is the protocol version this package implements.
const Version1 uint16 = 1

// Preface is the 12 bytes a client sends before its first frame:
// "AQUEDUCT", then CR LF CR LF, so that a server of another protocol given
// by mistake answers at once (an HTTP/1 server reads a malformed request
// line and answers 400) rather than waiting for more, as HTTP/2's
// connection preface does.
const Preface = "AQUEDUCT\r\n\r\n"

// Payload limits. Every max_frame a node announces in HELLO or CHALLENGE lies
// in [MinMaxFrame, MaxMaxFrame].
const (
	// HandshakeMaxPayload is the largest payload a node accepts before READY.
	HandshakeMaxPayload = 4096
	// DefaultMaxFrame is the largest payload a node accepts after READY
	// unless it is configured otherwise.
	DefaultMaxFrame = 262144
	// MinMaxFrame is the smallest max_frame a node may announce.
	MinMaxFrame = 16384
	// MaxMaxFrame is the largest max_frame a node may announce.
	MaxMaxFrame = 16777216
)

// Field limits, checked by the decoder.
const (
	// MaxPathLen is the longest OPEN path, in bytes. Paths are never empty.
	MaxPathLen = 4096
	// MaxMessageLen is the longest ERROR or GOAWAY message, in bytes.
	MaxMessageLen = 1024
	// MaxReadLength is the largest length of one READ.
	MaxReadLength = 16 << 20
	// MaxHashCount is the largest count of one GETHASHES, and so the most
	// hashes one HASHES frame carries.
	MaxHashCount = 1 << 20
	// MinBlockSize and MaxBlockSize bound an object's block size, which is
	// also a power of two.
	MinBlockSize = 64 << 10
	MaxBlockSize = 64 << 20
	// MaxObjectSize is the largest object size. READ and DATA ranges end at
	// or before it.
	MaxObjectSize = 1 << 62
	// maxStr8 is the longest str8 field (name, etag, content_type).
	maxStr8 = 255
)

// DigestLen is the length of a SHA-256 digest in bytes.
const DigestLen = 32

// Digest is a SHA-256 digest: an object digest or a block hash.
type Digest [DigestLen]byte

// String returns the digest in lower-case hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }
