package peer

import (
	"bufio"
	"bytes"
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

// Read buffer sizes: small during the handshake, which anyone may start,
// and larger once the other end has proved it holds the key.
const (
	handshakeBuffer = wire.HeaderLen + wire.HandshakeMaxPayload
	sessionBuffer   = 64 << 10
)

func newFrameReader(nc net.Conn, max uint32) *frameReader {
	return &frameReader{nc: nc, br: bufio.NewReaderSize(nc, handshakeBuffer), max: max}
}

// enlarge gives the reader the session's read buffer, keeping the bytes
// already buffered (a client may send requests right behind AUTH).
func (r *frameReader) enlarge() {
	if r.br.Size() >= sessionBuffer {
		return
	}
	var src io.Reader = r.nc
	if n := r.br.Buffered(); n > 0 {
		rest, _ := r.br.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(rest)), r.nc)
	}
	r.br = bufio.NewReaderSize(src, sessionBuffer)
}

// next reads one frame. Byte slices in the frame alias the reader's buffer
// and are valid until the next call.
func (r *frameReader) next() (wire.Frame, error) {
	h, err := r.header()
	if err != nil {
		return nil, err
	}
	return r.payload(h)
}

// header reads and checks the next frame header.
func (r *frameReader) header() (wire.Header, error) {
	if r.idle > 0 {
		if err := r.nc.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
			return wire.Header{}, err
		}
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return wire.Header{}, err
	}
	return wire.ParseHeader(r.hdr[:], r.max)
}

// payload reads and decodes the payload of the frame whose header was
// just read.
func (r *frameReader) payload(h wire.Header) (wire.Frame, error) {
	if int(h.Length) > cap(r.buf) {
		r.buf = make([]byte, min(max(int(h.Length), 2*cap(r.buf), 4096), int(r.max)))
	}
	p := r.buf[:h.Length]
	if err := r.readFull(p); err != nil {
		return nil, err
	}
	return wire.ParsePayload(h, p)
}

// readFull reads exactly len(p) bytes of the current frame.
func (r *frameReader) readFull(p []byte) error {
	_, err := io.ReadFull(r.br, p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readFullProgress is readFull calling progress after each read that got
// bytes. Reads of a large p go straight from the connection into it, as
// io.ReadFull's do.
func (r *frameReader) readFullProgress(p []byte, progress func()) error {
	for got := 0; got < len(p); {
		n, err := r.br.Read(p[got:])
		got += n
		if n > 0 {
			progress()
		}
		switch {
		case err == nil:
		case got == len(p):
			return nil
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
	return nil
}

// unexpected reports a frame that is valid but not allowed here.
func unexpected(f wire.Frame, where string) error {
	return &Error{Code: wire.CodeProtocol, Message: fmt.Sprintf("unexpected %s frame %s", f.Type(), where)}
}
