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
