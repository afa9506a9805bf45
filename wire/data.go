package wire

import "encoding/binary"

// dataFixedLen is the payload size of DATA without its bytes.
const dataFixedLen = 4 + 4 + 8

// Data carries bytes of a READ's range.
type Data struct {
	Request uint32 // the READ's request id; non-zero
	Seq     uint32 // 0 for the first DATA of the request, then one higher each
	Offset  uint64 // object offset of Payload[0]; Offset+len(Payload) ≤ MaxObjectSize
	Fin     bool   // the last DATA of the request (flag FlagFin)
	// Payload holds the bytes; it is empty only if Fin is set. A decoded
	// Data aliases the buffer it was decoded from.
	Payload []byte
}

// Type returns TypeData.
func (Data) Type() FrameType { return TypeData }

// Len returns the encoded length of the frame.
func (d Data) Len() int { return HeaderLen + dataFixedLen + len(d.Payload) }

// Append appends the encoded frame to b.
func (d Data) Append(b []byte) []byte {
	b = grow(b, d.Len())
	b = AppendDataHeader(b, d.Request, d.Seq, d.Offset, d.Fin, len(d.Payload))
	return append(b, d.Payload...)
}

// AppendDataHeader appends the header and the fixed fields of a DATA frame
// whose payload is n bytes long, but not the payload: the caller writes those
// n bytes right after, from their own buffer (net.Buffers, writev), so that
// they are never copied. Like Append it does not check its arguments.
func AppendDataHeader(b []byte, request, seq uint32, offset uint64, fin bool, n int) []byte {
	var flags uint8
	if fin {
		flags = FlagFin
	}
	b = appendHeader(b, TypeData, flags, dataFixedLen+n)
	b = binary.BigEndian.AppendUint32(b, request)
	b = binary.BigEndian.AppendUint32(b, seq)
	return binary.BigEndian.AppendUint64(b, offset)
}

func parseData(flags uint8, p []byte) (Data, error) {
	const t = TypeData
	if err := fixed(t, p, dataFixedLen); err != nil {
		return Data{}, err
	}
	d := Data{
		Request: binary.BigEndian.Uint32(p[0:]),
		Seq:     binary.BigEndian.Uint32(p[4:]),
		Offset:  binary.BigEndian.Uint64(p[8:]),
		Fin:     flags&FlagFin != 0,
		Payload: p[dataFixedLen:len(p):len(p)],
	}
	if err := nonZero(t, "request", d.Request); err != nil {
		return Data{}, err
	}
	if len(d.Payload) == 0 && !d.Fin {
		return Data{}, errorf(t, "empty without FIN")
	}
	if d.Offset > MaxObjectSize-uint64(len(d.Payload)) {
		return Data{}, errorf(t, "offset %d + %d bytes > max %d", d.Offset, len(d.Payload), uint64(MaxObjectSize))
	}
	return d, nil
}

// DataPrefixLen is the length of a DATA frame's fixed fields, which come
// before its bytes.
const DataPrefixLen = dataFixedLen

// ParseDataPrefix decodes the fixed fields of a DATA frame, for a reader that
// reads the frame's bytes straight into their destination instead of
// through a frame buffer. h is the frame's header, as ParseHeader returned
// it; prefix holds the first DataPrefixLen bytes of the payload. It applies
// every rule ParsePayload applies to DATA and returns the frame with a nil
// Payload, and the number of payload bytes that follow the prefix.
func ParseDataPrefix(h Header, prefix []byte) (Data, int, error) {
	const t = TypeData
	if h.Type != t {
		return Data{}, 0, errorf(h.Type, "not a DATA frame")
	}
	if h.Length < dataFixedLen || len(prefix) != dataFixedLen {
		return Data{}, 0, errorf(t, "payload length %d, prefix %d: want at least %d", h.Length, len(prefix), dataFixedLen)
	}
	if h.Flags&^FlagFin != 0 {
		return Data{}, 0, errorf(t, "flags %#x", h.Flags)
	}
	n := int(h.Length) - dataFixedLen
	d := Data{
		Request: binary.BigEndian.Uint32(prefix[0:]),
		Seq:     binary.BigEndian.Uint32(prefix[4:]),
		Offset:  binary.BigEndian.Uint64(prefix[8:]),
		Fin:     h.Flags&FlagFin != 0,
	}
	if err := nonZero(t, "request", d.Request); err != nil {
		return Data{}, 0, err
	}
	if n == 0 && !d.Fin {
		return Data{}, 0, errorf(t, "empty without FIN")
	}
	if d.Offset > MaxObjectSize-uint64(n) {
		return Data{}, 0, errorf(t, "offset %d + %d bytes > max %d", d.Offset, n, uint64(MaxObjectSize))
	}
	return d, n, nil
}
