// Package wire encodes and decodes the frames of the Aqueduct peer protocol,
// version 1, as specified in docs/protocol.md.
//
// The protocol runs over one reliable byte stream (TCP or MPTCP). The client
// sends the 12-byte [Preface], then frames; the server answers with frames.
// Every frame is an 8-byte [Header] (payload length u32, type u8, flags u8,
// two reserved zero bytes) followed by its payload. All integers are
// big-endian. The handshake is HELLO, CHALLENGE, AUTH and READY (payloads of
// at most [HandshakeMaxPayload] bytes until READY); after it the client opens
// objects (OPEN, answered by OBJECT), fetches block hashes (GETHASHES,
// HASHES) and byte ranges (READ, answered by DATA frames, the last with
// [FlagFin]); CANCEL, CLOSE, ERROR, PING, PONG and GOAWAY complete the set.
//
// The package is pure: bytes in, frames out and frames in, bytes out. It does
// no I/O, holds no state, starts no goroutines and never logs. The handshake,
// version negotiation, request bookkeeping and deadlines belong to package
// peer. The decoder checks every rule of the specification that can be
// checked on one frame alone (exact lengths, reserved bytes and flags, field
// limits, UTF-8, non-zero ids, offset overflow); semantic checks (is the
// handle open, is the range inside the object) are the caller's.
//
// Decoding. A read loop either hands a buffer to [ParseFrame], or reads the
// header and the payload separately:
//
//  1. Read [HeaderLen] bytes and call [ParseHeader] with the largest payload
//     the node accepts: [HandshakeMaxPayload] before READY, its own announced
//     max_frame after. ParseHeader rejects the frame before its payload is
//     read if the length exceeds that limit or cannot be right for the type.
//  2. Read exactly Header.Length payload bytes and call [ParsePayload].
//  3. Switch on the concrete type of the returned [Frame] (wire.Data,
//     wire.Open, ...). Every frame is a value type.
//  4. Treat any error as fatal for the connection: it is a [*ProtocolError]
//     (answer ERROR(0, PROTOCOL) and close). [ParseFrame] also returns the
//     sentinel [ErrShort] when its buffer does not yet hold a whole frame;
//     that is not a protocol error, read more.
//
// Decoded []byte fields (Data.Payload, Hashes.Hashes) alias the input buffer;
// copy them, or do not reuse the buffer, while they are in use. Decoded
// strings are copies (they are at most 4096 bytes). The decoder never
// allocates a size taken from its input, never panics and never reads beyond
// the frame it reports. Decoding a DATA frame allocates nothing as long as
// the caller does not let the returned Frame escape (a type switch in place
// is fine); the payload is not copied.
//
// Encoding. Every frame has Append, which appends the whole frame (header
// and payload) to a buffer the caller reuses, and Len, which gives the exact
// number of bytes Append writes. Append assumes valid field values: it does
// not check them and does not panic, and a frame built from invalid values
// encodes to bytes that ParseFrame rejects. [AppendDataHeader] encodes the
// header and fixed part of a DATA frame alone, so that a large payload can be
// written from its own buffer (writev) without a copy.
package wire
