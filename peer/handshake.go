package peer

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Labels of the two proofs; they differ so that one side's proof can never
// be reflected as the other's.
const (
	serverLabel = "aqueduct/1 server\x00"
	clientLabel = "aqueduct/1 client\x00"
)

// session is what a finished handshake established.
type session struct {
	version      uint16
	peerName     string
	peerMaxFrame uint32
}

func transcript(hello wire.Hello, ch wire.Challenge) []byte {
	h := sha256.New()
	h.Write(hello.AppendPayload(nil))
	h.Write(ch.AppendPayloadForTranscript(nil))
	return h.Sum(nil)
}

func proof(key Key, label string, t []byte) [32]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(label))
	m.Write(t)
	var out [32]byte
	m.Sum(out[:0])
	return out
}

func writeFrames(nc net.Conn, prefix []byte, frames ...wire.Frame) error {
	b := prefix
	for _, f := range frames {
		b = f.Append(b)
	}
	_, err := nc.Write(b)
	return err
}

// clientHandshake runs the client side on nc. It returns once the server
// has sent READY.
func clientHandshake(nc net.Conn, fr *frameReader, cfg Config) (session, error) {
	if err := nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return session{}, err
	}
	hello := wire.Hello{MinVersion: wire.Version1, MaxVersion: wire.Version1, MaxFrame: cfg.MaxFrame, Name: cfg.Name}
	if _, err := rand.Read(hello.Nonce[:]); err != nil {
		return session{}, err
	}
	if err := writeFrames(nc, []byte(wire.Preface), hello); err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	fr.max = wire.HandshakeMaxPayload
	if err := sniff(fr.br, nc.RemoteAddr()); err != nil {
		return session{}, err
	}
	f, err := fr.next()
	if err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	var ch wire.Challenge
	switch f := f.(type) {
	case wire.Challenge:
		ch = f
	case wire.Error:
		return session{}, fmt.Errorf("peer: handshake refused: %w", &Error{Code: f.Code, Message: f.Message})
	default:
		return session{}, fmt.Errorf("peer: handshake: %w", unexpected(f, "instead of CHALLENGE"))
	}
	if ch.Version != wire.Version1 {
		return session{}, fmt.Errorf("peer: handshake: server chose version %d, we speak %d", ch.Version, wire.Version1)
	}
	t := transcript(hello, ch)
	want := proof(cfg.Key, serverLabel, t)
	if !hmac.Equal(want[:], ch.MAC[:]) {
		// Say why before closing, so that the server's log says so too.
		_ = writeFrames(nc, nil, wire.Error{Code: wire.CodeAuth, Message: "your proof did not verify: we hold different cluster keys"})
		return session{}, fmt.Errorf("peer: handshake: server %q does not hold our cluster key: %w", ch.Name, ErrAuth)
	}
	if err := writeFrames(nc, nil, wire.Auth{MAC: proof(cfg.Key, clientLabel, t)}); err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	f, err = fr.next()
	if err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	switch f := f.(type) {
	case wire.Ready:
	case wire.Error:
		return session{}, fmt.Errorf("peer: handshake refused: %w", &Error{Code: f.Code, Message: f.Message})
	default:
		return session{}, fmt.Errorf("peer: handshake: %w", unexpected(f, "instead of READY"))
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return session{}, err
	}
	fr.max = cfg.MaxFrame
	fr.enlarge()
	return session{version: ch.Version, peerName: ch.Name, peerMaxFrame: ch.MaxFrame}, nil
}

// errNoPreface reports a connection that does not speak the protocol.
var errNoPreface = fmt.Errorf("peer: no protocol preface")

// serverHandshake runs the server side on nc. On failure it has told the
// client why where the protocol allows, and the caller closes nc.
func serverHandshake(nc net.Conn, fr *frameReader, cfg Config) (session, error) {
	if err := nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return session{}, err
	}
	var pre [len(wire.Preface)]byte
	if _, err := io.ReadFull(fr.br, pre[:]); err != nil {
		return session{}, fmt.Errorf("%w: %w", errNoPreface, err)
	}
	if !bytes.Equal(pre[:], []byte(wire.Preface)) {
		return session{}, errNoPreface
	}
	fr.max = wire.HandshakeMaxPayload
	refuse := func(code wire.Code, msg string, cause error) (session, error) {
		_ = writeFrames(nc, nil, wire.Error{Code: code, Message: msg})
		return session{}, cause
	}
	f, err := fr.next()
	if err != nil {
		if pe := (*wire.ProtocolError)(nil); asProtocol(err, &pe) {
			return refuse(wire.CodeProtocol, pe.Error(), err)
		}
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	hello, ok := f.(wire.Hello)
	if !ok {
		return refuse(wire.CodeProtocol, "expected HELLO", unexpected(f, "instead of HELLO"))
	}
	if hello.MinVersion > wire.Version1 || hello.MaxVersion < wire.Version1 {
		msg := fmt.Sprintf("this node speaks version %d; the client offers %d..%d", wire.Version1, hello.MinVersion, hello.MaxVersion)
		return refuse(wire.CodeVersion, msg, fmt.Errorf("peer: handshake: %s", msg))
	}
	ch := wire.Challenge{Version: wire.Version1, MaxFrame: cfg.MaxFrame, Name: cfg.Name}
	if _, err := rand.Read(ch.Nonce[:]); err != nil {
		return session{}, err
	}
	t := transcript(hello, ch)
	ch.MAC = proof(cfg.Key, serverLabel, t)
	if err := writeFrames(nc, nil, ch); err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	f, err = fr.next()
	if err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	if e, ok := f.(wire.Error); ok && e.Code == wire.CodeAuth {
		return session{}, fmt.Errorf("peer: handshake: client %q refused our proof (%s): %w", hello.Name, e.Message, ErrAuth)
	}
	auth, ok := f.(wire.Auth)
	if !ok {
		return refuse(wire.CodeProtocol, "expected AUTH", unexpected(f, "instead of AUTH"))
	}
	want := proof(cfg.Key, clientLabel, t)
	if !hmac.Equal(want[:], auth.MAC[:]) {
		return refuse(wire.CodeAuth, "authentication failed", fmt.Errorf("peer: handshake: client %q does not hold the cluster key: %w", hello.Name, ErrAuth))
	}
	if err := writeFrames(nc, nil, wire.Ready{}); err != nil {
		return session{}, fmt.Errorf("peer: handshake: %w", err)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return session{}, err
	}
	fr.max = cfg.MaxFrame
	fr.enlarge()
	return session{version: wire.Version1, peerName: hello.Name, peerMaxFrame: hello.MaxFrame}, nil
}

// ErrNotPeer reports a server that answered the handshake in another
// protocol: an HTTP, TLS or SSH server at the address given as a peer's.
// Retrying will not help; the address is wrong.
var ErrNotPeer = errors.New("peer: not an Aqueduct peer port")

// sniff looks at the start of the server's first answer and says what
// else the server is, if it speaks HTTP, TLS or SSH. A peer sends a
// CHALLENGE frame, whose first bytes are a small length.
func sniff(br *bufio.Reader, addr net.Addr) error {
	b, err := br.Peek(5)
	if err != nil {
		return nil // fr.next reports it
	}
	var what string
	switch {
	case bytes.HasPrefix(b, []byte("HTTP/")):
		line, _, _ := bytes.Cut(b, []byte("\r"))
		if n := br.Buffered(); n > len(line) {
			all, _ := br.Peek(min(n, 80))
			line, _, _ = bytes.Cut(all, []byte("\r"))
		}
		what = fmt.Sprintf("an HTTP server (it answered %q)", line)
	case (b[0] == 0x15 || b[0] == 0x16) && b[1] == 3:
		what = "a TLS server"
	case bytes.HasPrefix(b, []byte("SSH-")):
		what = "an SSH server"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s is %s: give the address of an Aqueduct peer server, not of its HTTP port",
		ErrNotPeer, addr, what)
}
