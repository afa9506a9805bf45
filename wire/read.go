package wire

import "encoding/binary"

// readLen is the payload size of READ.
const readLen = 4 + 4 + 8 + 4

// Read asks for bytes [Offset, Offset+Length) of the object bound to Handle.
// The server answers with DATA frames covering exactly that range, the last
// with FIN, or with ERROR.
type Read struct {
	Request uint32 // non-zero request id
	Handle  uint32 // non-zero
	Offset  uint64 // Offset+Length ≤ MaxObjectSize
	Length  uint32 // 1 to MaxReadLength
}

// Type returns TypeRead.
func (Read) Type() FrameType { return TypeRead }

// Len returns the encoded length of the frame.
func (Read) Len() int { return HeaderLen + readLen }

// Append appends the encoded frame to b.
func (r Read) Append(b []byte) []byte {
	b = appendHeader(b, TypeRead, 0, readLen)
	b = binary.BigEndian.AppendUint32(b, r.Request)
	b = binary.BigEndian.AppendUint32(b, r.Handle)
	b = binary.BigEndian.AppendUint64(b, r.Offset)
	return binary.BigEndian.AppendUint32(b, r.Length)
}

func parseRead(p []byte) (Read, error) {
	const t = TypeRead
	if err := size(t, p, readLen); err != nil {
		return Read{}, err
	}
	r := Read{
		Request: binary.BigEndian.Uint32(p[0:]),
		Handle:  binary.BigEndian.Uint32(p[4:]),
		Offset:  binary.BigEndian.Uint64(p[8:]),
		Length:  binary.BigEndian.Uint32(p[16:]),
	}
	if err := nonZero(t, "request", r.Request); err != nil {
		return Read{}, err
	}
	if err := nonZero(t, "handle", r.Handle); err != nil {
		return Read{}, err
	}
	if r.Length < 1 || r.Length > MaxReadLength {
		return Read{}, errorf(t, "length %d outside [1, %d]", r.Length, MaxReadLength)
	}
	if err := rangeEnd(t, r.Offset, uint64(r.Length)); err != nil {
		return Read{}, err
	}
	return r, nil
}

// rangeEnd checks that offset+n neither overflows nor exceeds MaxObjectSize.
// n is at most 2^32, so the subtraction cannot wrap.
func rangeEnd(t FrameType, offset, n uint64) error {
	if offset > MaxObjectSize-n {
		return errorf(t, "offset %d + length %d > max %d", offset, n, uint64(MaxObjectSize))
	}
	return nil
}
