package wire

import "encoding/binary"

// Payload sizes of the handshake frames, HELLO and CHALLENGE with an empty
// name.
const (
	helloFixedLen     = 2 + 2 + 4 + 32 + 1
	challengeFixedLen = 2 + 4 + 32 + 32 + 1
	authLen           = 32
)

// Hello is the client's first frame, sent right after the [Preface].
type Hello struct {
	MinVersion, MaxVersion uint16   // versions the client speaks; 1 ≤ MinVersion ≤ MaxVersion
	MaxFrame               uint32   // largest payload the client accepts, in [MinMaxFrame, MaxMaxFrame]
	Nonce                  [32]byte // fresh random nonce Nc
	Name                   string   // for logs; at most 255 bytes of UTF-8
}

// Type returns TypeHello.
func (Hello) Type() FrameType { return TypeHello }

// Len returns the encoded length of the frame.
func (h Hello) Len() int { return HeaderLen + helloFixedLen + len(h.Name) }

// Append appends the encoded frame to b.
func (h Hello) Append(b []byte) []byte {
	b = grow(b, h.Len())
	b = appendHeader(b, TypeHello, 0, h.Len()-HeaderLen)
	return h.AppendPayload(b)
}

// AppendPayload appends the payload of the frame alone, without header, to
// b: the first part of the handshake transcript.
func (h Hello) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, h.MinVersion)
	b = binary.BigEndian.AppendUint16(b, h.MaxVersion)
	b = binary.BigEndian.AppendUint32(b, h.MaxFrame)
	b = append(b, h.Nonce[:]...)
	b = append(b, byte(len(h.Name)))
	return append(b, h.Name...)
}

func parseHello(p []byte) (Hello, error) {
	const t = TypeHello
	if err := fixed(t, p, helloFixedLen); err != nil {
		return Hello{}, err
	}
	h := Hello{
		MinVersion: binary.BigEndian.Uint16(p[0:]),
		MaxVersion: binary.BigEndian.Uint16(p[2:]),
		MaxFrame:   binary.BigEndian.Uint32(p[4:]),
		Nonce:      [32]byte(p[8:40]),
	}
	if h.MinVersion < 1 || h.MinVersion > h.MaxVersion {
		return Hello{}, errorf(t, "versions [%d, %d], want 1 ≤ min ≤ max", h.MinVersion, h.MaxVersion)
	}
	if err := maxFrame(t, h.MaxFrame); err != nil {
		return Hello{}, err
	}
	name, off, err := str8(t, "name", p, 40)
	if err != nil {
		return Hello{}, err
	}
	if err := exact(t, p, off); err != nil {
		return Hello{}, err
	}
	if h.Name, err = text(t, "name", name); err != nil {
		return Hello{}, err
	}
	return h, nil
}

// Challenge is the server's answer to HELLO.
type Challenge struct {
	Version  uint16   // the version the server picked; ≥ 1
	MaxFrame uint32   // largest payload the server accepts, in [MinMaxFrame, MaxMaxFrame]
	Nonce    [32]byte // fresh random nonce Ns
	MAC      [32]byte // HMAC-SHA256(K, "aqueduct/1 server" ‖ 0x00 ‖ T)
	Name     string   // for logs; at most 255 bytes of UTF-8
}

// Type returns TypeChallenge.
func (Challenge) Type() FrameType { return TypeChallenge }

// Len returns the encoded length of the frame.
func (c Challenge) Len() int { return HeaderLen + challengeFixedLen + len(c.Name) }

// Append appends the encoded frame to b.
func (c Challenge) Append(b []byte) []byte {
	b = grow(b, c.Len())
	b = appendHeader(b, TypeChallenge, 0, c.Len()-HeaderLen)
	return c.appendPayload(b, &c.MAC)
}

// AppendPayloadForTranscript appends the payload of the frame alone, without
// header and with its MAC field as 32 zero bytes, to b: the second part of
// the handshake transcript.
func (c Challenge) AppendPayloadForTranscript(b []byte) []byte {
	return c.appendPayload(b, &[32]byte{})
}

func (c Challenge) appendPayload(b []byte, mac *[32]byte) []byte {
	b = binary.BigEndian.AppendUint16(b, c.Version)
	b = binary.BigEndian.AppendUint32(b, c.MaxFrame)
	b = append(b, c.Nonce[:]...)
	b = append(b, mac[:]...)
	b = append(b, byte(len(c.Name)))
	return append(b, c.Name...)
}

func parseChallenge(p []byte) (Challenge, error) {
	const t = TypeChallenge
	if err := fixed(t, p, challengeFixedLen); err != nil {
		return Challenge{}, err
	}
	c := Challenge{
		Version:  binary.BigEndian.Uint16(p[0:]),
		MaxFrame: binary.BigEndian.Uint32(p[2:]),
		Nonce:    [32]byte(p[6:38]),
		MAC:      [32]byte(p[38:70]),
	}
	if c.Version < 1 {
		return Challenge{}, errorf(t, "version 0")
	}
	if err := maxFrame(t, c.MaxFrame); err != nil {
		return Challenge{}, err
	}
	name, off, err := str8(t, "name", p, 70)
	if err != nil {
		return Challenge{}, err
	}
	if err := exact(t, p, off); err != nil {
		return Challenge{}, err
	}
	if c.Name, err = text(t, "name", name); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// Auth is the client's proof that it holds the cluster key.
type Auth struct {
	MAC [32]byte // HMAC-SHA256(K, "aqueduct/1 client" ‖ 0x00 ‖ T)
}

// Type returns TypeAuth.
func (Auth) Type() FrameType { return TypeAuth }

// Len returns the encoded length of the frame.
func (Auth) Len() int { return HeaderLen + authLen }

// Append appends the encoded frame to b.
func (a Auth) Append(b []byte) []byte {
	b = appendHeader(b, TypeAuth, 0, authLen)
	return append(b, a.MAC[:]...)
}

func parseAuth(p []byte) (Auth, error) {
	if err := size(TypeAuth, p, authLen); err != nil {
		return Auth{}, err
	}
	return Auth{MAC: [32]byte(p)}, nil
}

// Ready ends the handshake: the server has checked AUTH.
type Ready struct{}

// Type returns TypeReady.
func (Ready) Type() FrameType { return TypeReady }

// Len returns the encoded length of the frame.
func (Ready) Len() int { return HeaderLen }

// Append appends the encoded frame to b.
func (Ready) Append(b []byte) []byte { return appendHeader(b, TypeReady, 0, 0) }

func parseReady(p []byte) (Ready, error) {
	if err := size(TypeReady, p, 0); err != nil {
		return Ready{}, err
	}
	return Ready{}, nil
}
