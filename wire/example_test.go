package wire_test

import (
	"errors"
	"fmt"
	"net"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// A read loop decodes frames from a buffer that it refills from the
// connection whenever ParseFrame asks for more bytes.
func ExampleParseFrame() {
	var in []byte // bytes received so far
	in = wire.Open{Request: 1, Handle: 1, Path: "videos/intro.mp4"}.Append(in)
	in = wire.Data{Request: 2, Seq: 0, Offset: 0, Fin: true, Payload: []byte("hi")}.Append(in)
	in = append(in, 0, 0) // the start of a frame still arriving

	for {
		f, n, err := wire.ParseFrame(in, wire.DefaultMaxFrame)
		if errors.Is(err, wire.ErrShort) {
			fmt.Printf("need more bytes after %d\n", len(in))
			break // read more into the buffer, then parse again
		}
		var pe *wire.ProtocolError
		if errors.As(err, &pe) {
			fmt.Println("closing:", err) // send ERROR(0, PROTOCOL) and close
			break
		}
		switch f := f.(type) {
		case wire.Open:
			fmt.Printf("OPEN %d %q\n", f.Request, f.Path)
		case wire.Data:
			// f.Payload aliases in: use it before in is reused.
			fmt.Printf("DATA %d seq %d at %d: %q fin=%v\n", f.Request, f.Seq, f.Offset, f.Payload, f.Fin)
		}
		in = in[n:]
	}
	// Output:
	// OPEN 1 "videos/intro.mp4"
	// DATA 2 seq 0 at 0: "hi" fin=true
	// need more bytes after 2
}

// A server sends a large DATA payload from its own buffer, without copying
// it into the frame.
func ExampleAppendDataHeader() {
	block := make([]byte, 128<<10) // e.g. a block read from the cache
	hdr := wire.AppendDataHeader(nil, 7, 3, 1<<20, false, len(block))
	bufs := net.Buffers{hdr, block} // bufs.WriteTo(conn) uses writev
	fmt.Println(len(hdr), len(bufs[0])+len(bufs[1]))
	// Output: 24 131096
}
