package wire

import "encoding/binary"

// openFixedLen is the payload size of OPEN with an empty path.
const openFixedLen = 4 + 4 + 2

// Open asks for the object at Path and binds it to Handle.
type Open struct {
	Request uint32 // non-zero request id; OBJECT or ERROR ends it
	Handle  uint32 // non-zero handle chosen by the client
	// Path is relative to the server's content root: 1 to MaxPathLen bytes
	// of UTF-8 without NUL. Whether it is acceptable otherwise (leading
	// slash, "..") is for the server to decide.
	Path string
}

// Type returns TypeOpen.
func (Open) Type() FrameType { return TypeOpen }

// Len returns the encoded length of the frame.
func (o Open) Len() int { return HeaderLen + openFixedLen + len(o.Path) }

// Append appends the encoded frame to b.
func (o Open) Append(b []byte) []byte {
	b = grow(b, o.Len())
	b = appendHeader(b, TypeOpen, 0, o.Len()-HeaderLen)
	b = binary.BigEndian.AppendUint32(b, o.Request)
	b = binary.BigEndian.AppendUint32(b, o.Handle)
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.Path)))
	return append(b, o.Path...)
}

func parseOpen(p []byte) (Open, error) {
	const t = TypeOpen
	if err := fixed(t, p, openFixedLen); err != nil {
		return Open{}, err
	}
	o := Open{
		Request: binary.BigEndian.Uint32(p[0:]),
		Handle:  binary.BigEndian.Uint32(p[4:]),
	}
	if err := nonZero(t, "request", o.Request); err != nil {
		return Open{}, err
	}
	if err := nonZero(t, "handle", o.Handle); err != nil {
		return Open{}, err
	}
	s, off, err := str16(t, "path", p, 8, MaxPathLen)
	if err != nil {
		return Open{}, err
	}
	if err := exact(t, p, off); err != nil {
		return Open{}, err
	}
	if o.Path, err = path(t, s); err != nil {
		return Open{}, err
	}
	return o, nil
}
