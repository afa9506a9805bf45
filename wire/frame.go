package wire

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// A Frame is one decoded frame: a value of type Hello, Challenge, Auth,
// Ready, Open, Object, GetHashes, Hashes, Read, Data, Cancel, Close, Error,
// Ping, Pong or GoAway. All implement Frame with value receivers, so a
// pointer to one does too; the decoder returns values.
type Frame interface {
	// Type returns the frame type.
	Type() FrameType
	// Len returns the length of the encoded frame, header included: exactly
	// the number of bytes Append appends.
	Len() int
	// Append appends the encoded frame, header and payload, to b and returns
	// the extended buffer. It does not validate the fields: a frame with
	// values outside their limits encodes to bytes that ParseFrame rejects.
	Append(b []byte) []byte
}

var (
	_ Frame = Hello{}
	_ Frame = Challenge{}
	_ Frame = Auth{}
	_ Frame = Ready{}
	_ Frame = Open{}
	_ Frame = Object{}
	_ Frame = GetHashes{}
	_ Frame = Hashes{}
	_ Frame = Read{}
	_ Frame = Data{}
	_ Frame = Cancel{}
	_ Frame = Close{}
	_ Frame = Error{}
	_ Frame = Ping{}
	_ Frame = Pong{}
	_ Frame = GoAway{}
)

// ErrShort is returned by ParseFrame and ParseHeader when the buffer does not
// yet hold a whole frame or header. It is not a protocol error: the caller
// reads more bytes and calls again.
var ErrShort = errors.New("wire: need more bytes")

// ProtocolError reports a frame that breaks a rule of the protocol. The
// receiver of such a frame answers ERROR(0, PROTOCOL) if it can and closes
// the connection.
type ProtocolError struct {
	Type   FrameType // type of the offending frame, as read from its header
	Reason string    // what is wrong, e.g. "path length 5000 > max 4096"
}

// Error returns "wire: <TYPE> frame: <reason>".
func (e *ProtocolError) Error() string {
	if _, ok := e.Type.info(); ok {
		return "wire: " + e.Type.String() + " frame: " + e.Reason
	}
	return fmt.Sprintf("wire: frame type 0x%02x: %s", uint8(e.Type), e.Reason)
}

func errorf(t FrameType, format string, args ...any) error {
	return &ProtocolError{Type: t, Reason: fmt.Sprintf(format, args...)}
}

// ParseFrame decodes the frame at the start of b, which may hold more bytes
// after it. It returns the frame and the number of bytes it used, header
// included.
//
// If b does not yet hold the whole frame it returns [ErrShort], after
// checking the header if b holds that much; the caller reads more and calls
// again. A frame whose payload is longer than maxPayload (see [ParseHeader])
// or that breaks any other rule of the protocol gives a [*ProtocolError].
// On error the frame is nil and n is 0.
//
// ParseFrame never panics, and allocates nothing whose size comes from b.
// The []byte fields of the frame (Data.Payload, Hashes.Hashes) alias b;
// strings are copied. Decoding DATA allocates nothing at all as long as the
// caller does not let the returned Frame escape (switching on its type in
// place is fine).
func ParseFrame(b []byte, maxPayload uint32) (f Frame, n int, err error) {
	// DATA carries the bulk of the bytes, so decoding it must not allocate.
	// Converting a Data to a Frame does allocate, unless the conversion
	// happens in a function inlined into a caller that keeps the Frame on
	// its stack. So parseFrame returns a DATA frame apart, as d, and this
	// function is kept within the inlining budget (TestParseFrame_dataAllocs
	// checks it): a valid DATA frame has a non-zero request, and d is zero
	// for every other result.
	var d Data
	if d, f, n, err = parseFrame(b, maxPayload); d.Request != 0 {
		f = d
	}
	return
}

// parseFrame is ParseFrame, except that a DATA frame is returned as d, with
// f nil. d is zero for any other frame and on error.
func parseFrame(b []byte, maxPayload uint32) (d Data, f Frame, n int, err error) {
	h, err := ParseHeader(b, maxPayload)
	if err != nil {
		return Data{}, nil, 0, err
	}
	n = HeaderLen + int(h.Length)
	if len(b) < n {
		return Data{}, nil, 0, ErrShort
	}
	if d, f, err = parseBody(h, b[HeaderLen:n]); err != nil {
		return Data{}, nil, 0, err
	}
	return d, f, n, nil
}

// ParsePayload decodes the payload of a frame whose header the caller has
// already parsed with [ParseHeader] and whose payload it has read in full:
// len(payload) must equal h.Length. It checks the header again (type, flags
// and the length bounds of the type, but not the caller's maxPayload) and
// returns a [*ProtocolError] for anything wrong. Like ParseFrame it never
// panics, and the []byte fields of the frame alias payload.
func ParsePayload(h Header, payload []byte) (f Frame, err error) {
	var d Data // see ParseFrame
	if d, f, err = parsePayloadChecked(h, payload); d.Request != 0 {
		f = d
	}
	return
}

// parsePayloadChecked is ParsePayload, except that a DATA frame is returned
// as d, with f nil. d is zero for any other frame and on error.
func parsePayloadChecked(h Header, payload []byte) (d Data, f Frame, err error) {
	if err := h.check(); err != nil {
		return Data{}, nil, err
	}
	if len(payload) != int(h.Length) {
		return Data{}, nil, errorf(h.Type, "payload of %d bytes, header says %d", len(payload), h.Length)
	}
	return parseBody(h, payload)
}

// parseBody decodes the payload of a checked header (len(p) == h.Length),
// returning a DATA frame as d and any other as f. d is zero on error and
// for other frames; a decoded DATA frame has a non-zero request.
func parseBody(h Header, p []byte) (d Data, f Frame, err error) {
	if h.Type == TypeData {
		d, err = parseData(h.Flags, p)
	} else {
		f, err = parseOther(h, p)
	}
	if err != nil {
		return Data{}, nil, err
	}
	return d, f, nil
}

// parseOther decodes the payload of a checked header of any type but DATA.
func parseOther(h Header, p []byte) (Frame, error) {
	switch h.Type {
	case TypeHello:
		return ret(parseHello(p))
	case TypeChallenge:
		return ret(parseChallenge(p))
	case TypeAuth:
		return ret(parseAuth(p))
	case TypeReady:
		return ret(parseReady(p))
	case TypeOpen:
		return ret(parseOpen(p))
	case TypeObject:
		return ret(parseObject(h.Flags, p))
	case TypeGetHashes:
		return ret(parseGetHashes(p))
	case TypeHashes:
		return ret(parseHashes(p))
	case TypeRead:
		return ret(parseRead(p))
	case TypeCancel:
		return ret(parseCancel(p))
	case TypeClose:
		return ret(parseClose(p))
	case TypeError:
		return ret(parseError(p))
	case TypePing:
		return ret(parsePing(p))
	case TypePong:
		return ret(parsePong(p))
	case TypeGoAway:
		return ret(parseGoAway(p))
	}
	return nil, errorf(h.Type, "unexpected type") // unreachable
}

// ret converts the result of a typed parse function, returning a nil Frame
// (not a zero frame) on error.
func ret[F Frame](f F, err error) (Frame, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Helpers for the payload decoders. Each decoder first checks that the
// payload holds its fixed fields, so fixed offsets can be read directly;
// length-prefixed fields are read with str8 and str16, which check their
// lengths against the rest of the payload.

// str8 reads the str8 field at p[off:] and returns its bytes (aliasing p)
// and the offset after it.
func str8(t FrameType, field string, p []byte, off int) ([]byte, int, error) {
	if off >= len(p) {
		return nil, 0, errorf(t, "%s length missing", field)
	}
	n := int(p[off])
	off++
	if n > len(p)-off {
		return nil, 0, errorf(t, "%s length %d > %d bytes left", field, n, len(p)-off)
	}
	return p[off : off+n], off + n, nil
}

// str16 reads the str16 field at p[off:], which may be at most max bytes
// long, and returns its bytes (aliasing p) and the offset after it.
func str16(t FrameType, field string, p []byte, off, max int) ([]byte, int, error) {
	if off+2 > len(p) {
		return nil, 0, errorf(t, "%s length missing", field)
	}
	n := int(p[off])<<8 | int(p[off+1])
	off += 2
	if n > max {
		return nil, 0, errorf(t, "%s length %d > max %d", field, n, max)
	}
	if n > len(p)-off {
		return nil, 0, errorf(t, "%s length %d > %d bytes left", field, n, len(p)-off)
	}
	return p[off : off+n], off + n, nil
}

// text checks that s is valid UTF-8 and returns a copy of it as a string.
func text(t FrameType, field string, s []byte) (string, error) {
	if !utf8.Valid(s) {
		return "", errorf(t, "%s is not valid UTF-8", field)
	}
	return string(s), nil
}

// path checks an OPEN path (its length is already within MaxPathLen).
func path(t FrameType, s []byte) (string, error) {
	if len(s) == 0 {
		return "", errorf(t, "empty path")
	}
	if bytes.IndexByte(s, 0) >= 0 {
		return "", errorf(t, "path holds a NUL byte")
	}
	return text(t, "path", s)
}

// fixed checks that p holds at least the n bytes of the fixed fields.
func fixed(t FrameType, p []byte, n int) error {
	if len(p) < n {
		return errorf(t, "payload of %d bytes < %d", len(p), n)
	}
	return nil
}

// exact checks that a decoder used the whole payload.
func exact(t FrameType, p []byte, off int) error {
	if off != len(p) {
		return errorf(t, "%d trailing bytes", len(p)-off)
	}
	return nil
}

// nonZero checks a request or handle id.
func nonZero(t FrameType, field string, v uint32) error {
	if v == 0 {
		return errorf(t, "%s is 0", field)
	}
	return nil
}

// maxFrame checks a max_frame field.
func maxFrame(t FrameType, v uint32) error {
	if v < MinMaxFrame || v > MaxMaxFrame {
		return errorf(t, "max_frame %d outside [%d, %d]", v, MinMaxFrame, MaxMaxFrame)
	}
	return nil
}

// grow makes room for the n bytes of a frame in b, so that Append
// reallocates at most once.
func grow(b []byte, n int) []byte { return slices.Grow(b, n) }

// size checks the payload of a fixed-size frame.
func size(t FrameType, p []byte, n int) error {
	if len(p) != n {
		return errorf(t, "payload of %d bytes, want %d", len(p), n)
	}
	return nil
}
