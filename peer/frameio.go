package peer

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// frameReader reads whole frames from a connection. Its buffer grows as
// large frames arrive, never past max.
type frameReader struct {
	nc   net.Conn
	br   *bufio.Reader
	buf  []byte
	max  uint32
	idle time.Duration // read deadline per frame; 0 = none
	hdr  [wire.HeaderLen]byte
}

func newFrameReader(nc net.Conn, max uint32) *frameReader {
	return &frameReader{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), max: max}
}

// next reads one frame. Byte slices in the frame alias the reader's buffer
// and are valid until the next call.
func (r *frameReader) next() (wire.Frame, error) {
	if r.idle > 0 {
		if err := r.nc.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
			return nil, err
		}
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return nil, err
	}
	h, err := wire.ParseHeader(r.hdr[:], r.max)
	if err != nil {
		return nil, err
	}
	if int(h.Length) > cap(r.buf) {
		r.buf = make([]byte, min(max(int(h.Length), 2*cap(r.buf), 4096), int(r.max)))
	}
	p := r.buf[:h.Length]
	if _, err := io.ReadFull(r.br, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return wire.ParsePayload(h, p)
}

// unexpected reports a frame that is valid but not allowed here.
func unexpected(f wire.Frame, where string) error {
	return &Error{Code: wire.CodeProtocol, Message: fmt.Sprintf("unexpected %s frame %s", f.Type(), where)}
}
