package wire

import (
	"encoding/binary"
	"math/bits"
)

// objectFixedLen is the payload size of OBJECT with empty strings.
const objectFixedLen = 4 + 4 + 8 + 8 + 4 + DigestLen + 1 + 1

// Object describes the object an OPEN asked for; it ends the OPEN.
type Object struct {
	Request uint32 // the OPEN's request id; non-zero
	Handle  uint32 // the OPEN's handle; non-zero
	Size    uint64 // in bytes; at most MaxObjectSize
	// ModTime is the modification time in nanoseconds since the Unix epoch.
	ModTime int64
	// BlockSize is a power of two in [MinBlockSize, MaxBlockSize]. The
	// object is cut into ceil(Size/BlockSize) blocks, hashed one by one.
	BlockSize   uint32
	Digest      Digest // identifies the content; see docs/protocol.md
	ETag        string // HTTP entity tag with its quotes; at most 255 bytes of UTF-8
	ContentType string // HTTP media type; at most 255 bytes of UTF-8
	// Stale (flag FlagStale) says that the server could not revalidate the
	// description with its upstreams and serves the one it last had.
	Stale bool
}

// Type returns TypeObject.
func (Object) Type() FrameType { return TypeObject }

// Len returns the encoded length of the frame.
func (o Object) Len() int { return HeaderLen + objectFixedLen + len(o.ETag) + len(o.ContentType) }

// Append appends the encoded frame to b.
func (o Object) Append(b []byte) []byte {
	b = grow(b, o.Len())
	var flags uint8
	if o.Stale {
		flags = FlagStale
	}
	b = appendHeader(b, TypeObject, flags, o.Len()-HeaderLen)
	b = binary.BigEndian.AppendUint32(b, o.Request)
	b = binary.BigEndian.AppendUint32(b, o.Handle)
	b = binary.BigEndian.AppendUint64(b, o.Size)
	b = binary.BigEndian.AppendUint64(b, uint64(o.ModTime))
	b = binary.BigEndian.AppendUint32(b, o.BlockSize)
	b = append(b, o.Digest[:]...)
	b = append(b, byte(len(o.ETag)))
	b = append(b, o.ETag...)
	b = append(b, byte(len(o.ContentType)))
	return append(b, o.ContentType...)
}

func parseObject(flags uint8, p []byte) (Object, error) {
	const t = TypeObject
	if err := fixed(t, p, objectFixedLen); err != nil {
		return Object{}, err
	}
	o := Object{
		Request:   binary.BigEndian.Uint32(p[0:]),
		Handle:    binary.BigEndian.Uint32(p[4:]),
		Size:      binary.BigEndian.Uint64(p[8:]),
		ModTime:   int64(binary.BigEndian.Uint64(p[16:])),
		BlockSize: binary.BigEndian.Uint32(p[24:]),
		Digest:    Digest(p[28:60]),
		Stale:     flags&FlagStale != 0,
	}
	if err := nonZero(t, "request", o.Request); err != nil {
		return Object{}, err
	}
	if err := nonZero(t, "handle", o.Handle); err != nil {
		return Object{}, err
	}
	if o.Size > MaxObjectSize {
		return Object{}, errorf(t, "size %d > max %d", o.Size, uint64(MaxObjectSize))
	}
	if o.BlockSize < MinBlockSize || o.BlockSize > MaxBlockSize || bits.OnesCount32(o.BlockSize) != 1 {
		return Object{}, errorf(t, "block_size %d is not a power of two in [%d, %d]", o.BlockSize, MinBlockSize, MaxBlockSize)
	}
	etag, off, err := str8(t, "etag", p, 60)
	if err != nil {
		return Object{}, err
	}
	ctype, off, err := str8(t, "content_type", p, off)
	if err != nil {
		return Object{}, err
	}
	if err := exact(t, p, off); err != nil {
		return Object{}, err
	}
	if o.ETag, err = text(t, "etag", etag); err != nil {
		return Object{}, err
	}
	if o.ContentType, err = text(t, "content_type", ctype); err != nil {
		return Object{}, err
	}
	return o, nil
}
