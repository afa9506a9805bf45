package wire

import "encoding/binary"

// openFixedLen is the payload size of OPEN with an empty path and no via
// entry.
const openFixedLen = 4 + 4 + 2 + 1

// MaxVia is the most nodes an OPEN's via list holds: the longest chain of
// relays a request may pass.
const MaxVia = 16

// NodeID names a node for loop detection: a random non-zero number each
// node draws when it starts.
type NodeID uint64

// Open asks for the object at Path and binds it to Handle.
type Open struct {
	Request uint32 // non-zero request id; OBJECT or ERROR ends it
	Handle  uint32 // non-zero handle chosen by the client
	// Path is relative to the server's content root: 1 to MaxPathLen bytes
	// of UTF-8 without NUL. Whether it is acceptable otherwise (leading
	// slash, "..") is for the server to decide.
	Path string
	// Via lists the relays the request has passed, the first first: each
	// relay that forwards an OPEN upstream adds its own NodeID. A server
	// that finds its own ID there answers LOOP. At most MaxVia non-zero IDs.
	Via []NodeID
}

// Type returns TypeOpen.
func (Open) Type() FrameType { return TypeOpen }

// Len returns the encoded length of the frame.
func (o Open) Len() int { return HeaderLen + openFixedLen + len(o.Path) + 8*len(o.Via) }

// Append appends the encoded frame to b.
func (o Open) Append(b []byte) []byte {
	b = grow(b, o.Len())
	b = appendHeader(b, TypeOpen, 0, o.Len()-HeaderLen)
	b = binary.BigEndian.AppendUint32(b, o.Request)
	b = binary.BigEndian.AppendUint32(b, o.Handle)
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.Path)))
	b = append(b, o.Path...)
	b = append(b, byte(len(o.Via)))
	for _, id := range o.Via {
		b = binary.BigEndian.AppendUint64(b, uint64(id))
	}
	return b
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
	if o.Path, err = path(t, s); err != nil {
		return Open{}, err
	}
	if off >= len(p) {
		return Open{}, errorf(t, "via count missing")
	}
	n := int(p[off])
	off++
	switch {
	case n > MaxVia:
		return Open{}, errorf(t, "via of %d nodes > max %d", n, MaxVia)
	case 8*n > len(p)-off:
		return Open{}, errorf(t, "via of %d nodes > %d bytes left", n, len(p)-off)
	}
	if n > 0 {
		o.Via = make([]NodeID, n)
		for i := range o.Via {
			id := NodeID(binary.BigEndian.Uint64(p[off:]))
			if id == 0 {
				return Open{}, errorf(t, "via node %d is 0", i)
			}
			o.Via[i] = id
			off += 8
		}
	}
	if err := exact(t, p, off); err != nil {
		return Open{}, err
	}
	return o, nil
}
