package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// HeaderLen is the length of a frame header in bytes.
const HeaderLen = 8

// FrameType is the type byte of a frame header.
type FrameType uint8

// Frame types of version 1. Any other value is a protocol error.
const (
	TypeHello     FrameType = 0x01
	TypeChallenge FrameType = 0x02
	TypeAuth      FrameType = 0x03
	TypeReady     FrameType = 0x04
	TypeOpen      FrameType = 0x10
	TypeObject    FrameType = 0x11
	TypeGetHashes FrameType = 0x12
	TypeHashes    FrameType = 0x13
	TypeRead      FrameType = 0x14
	TypeData      FrameType = 0x15
	TypeCancel    FrameType = 0x16
	TypeClose     FrameType = 0x17
	TypeError     FrameType = 0x20
	TypePing      FrameType = 0x30
	TypePong      FrameType = 0x31
	TypeGoAway    FrameType = 0x32
)

// Flags of version 1, each defined for one frame type only.
const (
	// FlagFin marks the last DATA frame of a READ.
	FlagFin uint8 = 0x01
	// FlagStale marks an OBJECT that the server could not revalidate with
	// its own upstreams (they are unreachable): it describes the object as
	// the server last knew it.
	FlagStale uint8 = 0x01
)

// frameInfo describes what a header of one frame type may hold.
type frameInfo struct {
	name string // "" for an unknown type
	// minLen and maxLen bound the payload length: the fixed fields plus
	// every length-prefixed field at its shortest and at its longest, and
	// never more than MaxMaxFrame, the largest max_frame a node may
	// announce. The payload decoder checks the exact length.
	minLen, maxLen uint32
	flags          uint8 // flags defined for the type
}

var frameInfos = [...]frameInfo{
	TypeHello:     {name: "HELLO", minLen: helloFixedLen, maxLen: helloFixedLen + maxStr8},
	TypeChallenge: {name: "CHALLENGE", minLen: challengeFixedLen, maxLen: challengeFixedLen + maxStr8},
	TypeAuth:      {name: "AUTH", minLen: authLen, maxLen: authLen},
	TypeReady:     {name: "READY", minLen: 0, maxLen: 0},
	TypeOpen:      {name: "OPEN", minLen: openFixedLen, maxLen: openFixedLen + MaxPathLen + 8*MaxVia},
	TypeObject:    {name: "OBJECT", minLen: objectFixedLen, maxLen: objectFixedLen + 2*maxStr8, flags: FlagStale},
	TypeGetHashes: {name: "GETHASHES", minLen: getHashesLen, maxLen: getHashesLen},
	TypeHashes:    {name: "HASHES", minLen: hashesFixedLen + DigestLen, maxLen: MaxMaxFrame},
	TypeRead:      {name: "READ", minLen: readLen, maxLen: readLen},
	TypeData:      {name: "DATA", minLen: dataFixedLen, maxLen: MaxMaxFrame, flags: FlagFin},
	TypeCancel:    {name: "CANCEL", minLen: idLen, maxLen: idLen},
	TypeClose:     {name: "CLOSE", minLen: idLen, maxLen: idLen},
	TypeError:     {name: "ERROR", minLen: errorFixedLen, maxLen: errorFixedLen + MaxMessageLen},
	TypePing:      {name: "PING", minLen: pingLen, maxLen: pingLen},
	TypePong:      {name: "PONG", minLen: pingLen, maxLen: pingLen},
	TypeGoAway:    {name: "GOAWAY", minLen: goAwayFixedLen, maxLen: goAwayFixedLen + MaxMessageLen},
}

func (t FrameType) info() (frameInfo, bool) {
	if int(t) >= len(frameInfos) || frameInfos[t].name == "" {
		return frameInfo{}, false
	}
	return frameInfos[t], true
}

// String returns the name of the type as the specification writes it
// ("HELLO", "DATA", ...), or "FrameType(0x99)" for an unknown type.
func (t FrameType) String() string {
	if fi, ok := t.info(); ok {
		return fi.name
	}
	return fmt.Sprintf("FrameType(0x%02x)", uint8(t))
}

// Header is a decoded frame header. The reserved bytes are not kept: they
// are zero in every valid header.
type Header struct {
	Length uint32 // payload length in bytes, header excluded
	Type   FrameType
	Flags  uint8
}

// ParseHeader decodes the frame header at the start of b. It returns
// [ErrShort] if len(b) < [HeaderLen], and a [*ProtocolError] if the reserved
// bytes are not zero, the type is unknown, a flag is not defined for the
// type, Length exceeds maxPayload, or Length cannot be right for the type
// (a fixed-size frame of another size, a variable-size frame shorter or
// longer than its fields allow, or any frame above [MaxMaxFrame]). A header
// that passes can be trusted to read Length more bytes.
//
// maxPayload is the largest payload the caller accepts: [HandshakeMaxPayload]
// before READY, the max_frame the caller announced after.
func ParseHeader(b []byte, maxPayload uint32) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	h := Header{
		Length: binary.BigEndian.Uint32(b),
		Type:   FrameType(b[4]),
		Flags:  b[5],
	}
	if r := binary.BigEndian.Uint16(b[6:]); r != 0 {
		return Header{}, errorf(h.Type, "reserved bytes 0x%04x, want 0", r)
	}
	if err := h.check(); err != nil {
		return Header{}, err
	}
	if h.Length > maxPayload {
		return Header{}, errorf(h.Type, "length %d > max %d", h.Length, maxPayload)
	}
	return h, nil
}

// check validates the type, the flags and the length bounds of the type.
func (h Header) check() error {
	fi, ok := h.Type.info()
	if !ok {
		return errorf(h.Type, "unknown type")
	}
	if undef := h.Flags &^ fi.flags; undef != 0 {
		return errorf(h.Type, "undefined flags 0x%02x", undef)
	}
	switch {
	case fi.minLen == fi.maxLen && h.Length != fi.minLen:
		return errorf(h.Type, "length %d, want %d", h.Length, fi.minLen)
	case h.Length < fi.minLen:
		return errorf(h.Type, "length %d < min %d", h.Length, fi.minLen)
	case h.Length > fi.maxLen:
		return errorf(h.Type, "length %d > max %d for the type", h.Length, fi.maxLen)
	}
	return nil
}

// Append appends the 8-byte encoding of h, reserved bytes zero, to b.
func (h Header) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.Length)
	return append(b, byte(h.Type), h.Flags, 0, 0)
}

// appendHeader appends the header of a frame with a payload of n bytes. A
// length that does not fit (only from invalid frames) is written as the
// largest u32, which every decoder rejects.
func appendHeader(b []byte, t FrameType, flags uint8, n int) []byte {
	length := uint32(math.MaxUint32)
	if uint64(n) < math.MaxUint32 {
		length = uint32(n)
	}
	return Header{Length: length, Type: t, Flags: flags}.Append(b)
}
