package peer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Error is an error with a protocol code: what a peer sent in an ERROR or
// GOAWAY frame, or what a Handler returns to choose the code and message it
// sends.
type Error struct {
	Code    wire.Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("peer: %s", e.Code)
	}
	return fmt.Sprintf("peer: %s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, &Error{Code: c}) match any Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Errorf returns an *Error with the given code.
func Errorf(code wire.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrClosed    = errors.New("peer: connection closed")
	ErrAuth      = &Error{Code: wire.CodeAuth}
	ErrNotFound  = &Error{Code: wire.CodeNotFound}
	ErrTooMany   = errors.New("peer: too many outstanding requests")
	ErrGoingAway = errors.New("peer: peer is going away")
)

// CodeOf returns the code to send for err, and a message safe to send: the
// Error's own for an *Error, a generic one otherwise, so that internal
// details never leave the node.
func CodeOf(err error) (wire.Code, string) {
	var pe *Error
	switch {
	case errors.As(err, &pe):
		return pe.Code, pe.Message
	case errors.Is(err, fs.ErrNotExist):
		return wire.CodeNotFound, "no such object"
	case errors.Is(err, fs.ErrPermission):
		return wire.CodeForbidden, "forbidden"
	case errors.Is(err, context.Canceled):
		return wire.CodeCancelled, "cancelled"
	default:
		return wire.CodeInternal, "internal error"
	}
}

func asProtocol(err error, target **wire.ProtocolError) bool { return errors.As(err, target) }

// ErrorForStatus converts an HTTP status from a path check (400, 403, 404)
// into the Error to send, with a message safe for the peer.
func ErrorForStatus(status int, msg string) *Error {
	code := wire.CodeInternal
	switch status {
	case 400:
		code = wire.CodeBadRequest
	case 403:
		code = wire.CodeForbidden
	case 404:
		code = wire.CodeNotFound
	case 502, 503, 504:
		code = wire.CodeUnavailable
	}
	return &Error{Code: code, Message: msg}
}

// HTTPStatus is the HTTP status an edge answers with when an upstream
// failed a request with err.
func HTTPStatus(err error) int {
	var pe *Error
	if !errors.As(err, &pe) {
		return 502
	}
	switch pe.Code {
	case wire.CodeNotFound:
		return 404
	case wire.CodeForbidden:
		return 403
	case wire.CodeBadRequest:
		return 400
	case wire.CodeTooMany, wire.CodeShuttingDown, wire.CodeUnavailable:
		return 503
	}
	return 502
}

var errNotSocket = errors.New("peer: not a socket")
