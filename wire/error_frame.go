package wire

import "encoding/binary"

// errorFixedLen is the payload size of ERROR with an empty message.
const errorFixedLen = 4 + 2 + 2

// Error ends a request with a failure, or, with Request 0, the whole
// connection (its sender then closes it).
type Error struct {
	Request uint32 // the request it ends, or 0 for the connection
	Code    Code   // a valid code
	// Message is for humans: at most MaxMessageLen bytes of UTF-8, never
	// internal details such as file system paths.
	Message string
}

// Type returns TypeError.
func (Error) Type() FrameType { return TypeError }

// Len returns the encoded length of the frame.
func (e Error) Len() int { return HeaderLen + errorFixedLen + len(e.Message) }

// Append appends the encoded frame to b.
func (e Error) Append(b []byte) []byte {
	b = grow(b, e.Len())
	b = appendHeader(b, TypeError, 0, e.Len()-HeaderLen)
	b = binary.BigEndian.AppendUint32(b, e.Request)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Code))
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.Message)))
	return append(b, e.Message...)
}

func parseError(p []byte) (Error, error) {
	const t = TypeError
	if err := fixed(t, p, errorFixedLen); err != nil {
		return Error{}, err
	}
	e := Error{
		Request: binary.BigEndian.Uint32(p[0:]),
		Code:    Code(binary.BigEndian.Uint16(p[4:])),
	}
	if err := validCode(t, e.Code); err != nil {
		return Error{}, err
	}
	msg, off, err := str16(t, "message", p, 6, MaxMessageLen)
	if err != nil {
		return Error{}, err
	}
	if err := exact(t, p, off); err != nil {
		return Error{}, err
	}
	if e.Message, err = text(t, "message", msg); err != nil {
		return Error{}, err
	}
	return e, nil
}
