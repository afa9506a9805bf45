package wire

import "strconv"

// Code is the error code of an ERROR or GOAWAY frame.
type Code uint16

// Error codes of version 1. Any other value is a protocol error.
const (
	CodeProtocol     Code = 1  // malformed or unexpected frame
	CodeVersion      Code = 2  // no common protocol version
	CodeAuth         Code = 3  // authentication failed
	CodeNotFound     Code = 4  // no object at that path
	CodeForbidden    Code = 5  // the path is refused
	CodeBadRequest   Code = 6  // unknown handle, range outside the object, id in use
	CodeTooMany      Code = 7  // a per-connection limit is reached
	CodeUnavailable  Code = 8  // the server cannot reach its upstreams now; try elsewhere
	CodeCancelled    Code = 9  // the request was cancelled
	CodeInternal     Code = 10 // the server failed
	CodeShuttingDown Code = 11 // the server is going away and takes no new requests
	CodeChanged      Code = 12 // the object changed under the handle; open it again
	CodeLoop         Code = 13 // the OPEN came back to a node it passed (the upstreams form a loop), or passed too many
)

var codeNames = [...]string{
	CodeProtocol:     "PROTOCOL",
	CodeVersion:      "VERSION",
	CodeAuth:         "AUTH",
	CodeNotFound:     "NOT_FOUND",
	CodeForbidden:    "FORBIDDEN",
	CodeBadRequest:   "BAD_REQUEST",
	CodeTooMany:      "TOO_MANY",
	CodeUnavailable:  "UNAVAILABLE",
	CodeCancelled:    "CANCELLED",
	CodeInternal:     "INTERNAL",
	CodeShuttingDown: "SHUTTING_DOWN",
	CodeChanged:      "CHANGED",
	CodeLoop:         "LOOP",
}

// Valid reports whether c is a code of version 1.
func (c Code) Valid() bool { return c >= CodeProtocol && c <= CodeLoop }

// String returns the name of the code as the specification writes it
// ("PROTOCOL", "NOT_FOUND", ...), or "Code(99)" for an unknown code.
func (c Code) String() string {
	if c.Valid() {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

func validCode(t FrameType, c Code) error {
	if !c.Valid() {
		return errorf(t, "unknown code %d", uint16(c))
	}
	return nil
}

// A code also says what the node that receives it should do next. Every
// valid code is in exactly one of these classes; [Code.Final] codes are
// refusals too.
//
//   - Final: the path's own answer, which every node gives alike because
//     every node applies the same path rules (FORBIDDEN, BAD_REQUEST):
//     fail the request at once, asking no other upstream.
//   - Refusal: this server cannot serve this object (NOT_FOUND, CHANGED,
//     LOOP, and the final codes), which another upstream may: ask the others; a relay
//     passes the answer on to its downstream; the server is not asked for
//     the object again for a while. NOT_FOUND is the answer for the object
//     only when no upstream has it.
//   - Transient: the server failed for now (UNAVAILABLE, INTERNAL): ask
//     elsewhere, and this server again soon.
//   - Anything else is about the connection or the request, not the object
//     (PROTOCOL, VERSION, AUTH, TOO_MANY, CANCELLED, SHUTTING_DOWN).

// Final reports whether c is the path's own answer, the same at every node.
func (c Code) Final() bool { return c == CodeForbidden || c == CodeBadRequest }

// Refusal reports whether c says that the server cannot serve the object,
// which another upstream may; final codes are refusals.
func (c Code) Refusal() bool {
	return c.Final() || c == CodeNotFound || c == CodeChanged || c == CodeLoop
}

// Transient reports whether c says that the server failed for now.
func (c Code) Transient() bool { return c == CodeUnavailable || c == CodeInternal }
