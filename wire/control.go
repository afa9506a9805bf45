package wire

import "encoding/binary"

// Payload sizes of the control frames, GOAWAY with an empty message.
const (
	idLen          = 4
	pingLen        = 8
	goAwayFixedLen = 2 + 2
)

// Cancel asks the server to stop a request. The request still ends with
// exactly one terminal frame.
type Cancel struct {
	Request uint32 // non-zero
}

// Type returns TypeCancel.
func (Cancel) Type() FrameType { return TypeCancel }

// Len returns the encoded length of the frame.
func (Cancel) Len() int { return HeaderLen + idLen }

// Append appends the encoded frame to b.
func (c Cancel) Append(b []byte) []byte {
	b = appendHeader(b, TypeCancel, 0, idLen)
	return binary.BigEndian.AppendUint32(b, c.Request)
}

func parseCancel(p []byte) (Cancel, error) {
	if err := size(TypeCancel, p, idLen); err != nil {
		return Cancel{}, err
	}
	c := Cancel{Request: binary.BigEndian.Uint32(p)}
	if err := nonZero(TypeCancel, "request", c.Request); err != nil {
		return Cancel{}, err
	}
	return c, nil
}

// Close releases a handle and cancels its outstanding requests.
type Close struct {
	Handle uint32 // non-zero
}

// Type returns TypeClose.
func (Close) Type() FrameType { return TypeClose }

// Len returns the encoded length of the frame.
func (Close) Len() int { return HeaderLen + idLen }

// Append appends the encoded frame to b.
func (c Close) Append(b []byte) []byte {
	b = appendHeader(b, TypeClose, 0, idLen)
	return binary.BigEndian.AppendUint32(b, c.Handle)
}

func parseClose(p []byte) (Close, error) {
	if err := size(TypeClose, p, idLen); err != nil {
		return Close{}, err
	}
	c := Close{Handle: binary.BigEndian.Uint32(p)}
	if err := nonZero(TypeClose, "handle", c.Handle); err != nil {
		return Close{}, err
	}
	return c, nil
}

// Ping asks the peer for a PONG with the same Opaque.
type Ping struct {
	Opaque uint64
}

// Type returns TypePing.
func (Ping) Type() FrameType { return TypePing }

// Len returns the encoded length of the frame.
func (Ping) Len() int { return HeaderLen + pingLen }

// Append appends the encoded frame to b.
func (p Ping) Append(b []byte) []byte {
	b = appendHeader(b, TypePing, 0, pingLen)
	return binary.BigEndian.AppendUint64(b, p.Opaque)
}

func parsePing(p []byte) (Ping, error) {
	if err := size(TypePing, p, pingLen); err != nil {
		return Ping{}, err
	}
	return Ping{Opaque: binary.BigEndian.Uint64(p)}, nil
}

// Pong answers a PING.
type Pong struct {
	Opaque uint64 // the PING's
}

// Type returns TypePong.
func (Pong) Type() FrameType { return TypePong }

// Len returns the encoded length of the frame.
func (Pong) Len() int { return HeaderLen + pingLen }

// Append appends the encoded frame to b.
func (p Pong) Append(b []byte) []byte {
	b = appendHeader(b, TypePong, 0, pingLen)
	return binary.BigEndian.AppendUint64(b, p.Opaque)
}

func parsePong(p []byte) (Pong, error) {
	if err := size(TypePong, p, pingLen); err != nil {
		return Pong{}, err
	}
	return Pong{Opaque: binary.BigEndian.Uint64(p)}, nil
}

// GoAway says that its sender takes no new requests and closes the
// connection once its outstanding requests have ended.
type GoAway struct {
	Code    Code   // a valid code, usually CodeShuttingDown
	Message string // at most MaxMessageLen bytes of UTF-8
}

// Type returns TypeGoAway.
func (GoAway) Type() FrameType { return TypeGoAway }

// Len returns the encoded length of the frame.
func (g GoAway) Len() int { return HeaderLen + goAwayFixedLen + len(g.Message) }

// Append appends the encoded frame to b.
func (g GoAway) Append(b []byte) []byte {
	b = grow(b, g.Len())
	b = appendHeader(b, TypeGoAway, 0, g.Len()-HeaderLen)
	b = binary.BigEndian.AppendUint16(b, uint16(g.Code))
	b = binary.BigEndian.AppendUint16(b, uint16(len(g.Message)))
	return append(b, g.Message...)
}

func parseGoAway(p []byte) (GoAway, error) {
	const t = TypeGoAway
	if err := fixed(t, p, goAwayFixedLen); err != nil {
		return GoAway{}, err
	}
	g := GoAway{Code: Code(binary.BigEndian.Uint16(p))}
	if err := validCode(t, g.Code); err != nil {
		return GoAway{}, err
	}
	msg, off, err := str16(t, "message", p, 2, MaxMessageLen)
	if err != nil {
		return GoAway{}, err
	}
	if err := exact(t, p, off); err != nil {
		return GoAway{}, err
	}
	if g.Message, err = text(t, "message", msg); err != nil {
		return GoAway{}, err
	}
	return g, nil
}
