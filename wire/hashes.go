package wire

import "encoding/binary"

// Payload sizes of GETHASHES, and of HASHES without its hashes.
const (
	getHashesLen   = 4 + 4 + 4 + 4
	hashesFixedLen = 4 + 4
)

// GetHashes asks for the hashes of blocks First to First+Count-1 of the
// object bound to Handle.
type GetHashes struct {
	Request uint32 // non-zero request id; HASHES or ERROR ends it
	Handle  uint32 // non-zero
	First   uint32 // index of the first block
	Count   uint32 // number of blocks, 1 to MaxHashCount
}

// Type returns TypeGetHashes.
func (GetHashes) Type() FrameType { return TypeGetHashes }

// Len returns the encoded length of the frame.
func (GetHashes) Len() int { return HeaderLen + getHashesLen }

// Append appends the encoded frame to b.
func (g GetHashes) Append(b []byte) []byte {
	b = appendHeader(b, TypeGetHashes, 0, getHashesLen)
	b = binary.BigEndian.AppendUint32(b, g.Request)
	b = binary.BigEndian.AppendUint32(b, g.Handle)
	b = binary.BigEndian.AppendUint32(b, g.First)
	return binary.BigEndian.AppendUint32(b, g.Count)
}

func parseGetHashes(p []byte) (GetHashes, error) {
	const t = TypeGetHashes
	if err := size(t, p, getHashesLen); err != nil {
		return GetHashes{}, err
	}
	g := GetHashes{
		Request: binary.BigEndian.Uint32(p[0:]),
		Handle:  binary.BigEndian.Uint32(p[4:]),
		First:   binary.BigEndian.Uint32(p[8:]),
		Count:   binary.BigEndian.Uint32(p[12:]),
	}
	if err := nonZero(t, "request", g.Request); err != nil {
		return GetHashes{}, err
	}
	if err := nonZero(t, "handle", g.Handle); err != nil {
		return GetHashes{}, err
	}
	if g.Count < 1 || g.Count > MaxHashCount {
		return GetHashes{}, errorf(t, "count %d outside [1, %d]", g.Count, MaxHashCount)
	}
	return g, nil
}

// Hashes answers a GETHASHES with the hashes of blocks First to
// First+Count()-1.
type Hashes struct {
	Request uint32 // the GETHASHES's request id; non-zero
	First   uint32 // index of the first block
	// Hashes holds the block hashes back to back, DigestLen bytes each: at
	// least one and at most MaxHashCount. A decoded Hashes aliases the
	// buffer it was decoded from.
	Hashes []byte
}

// Type returns TypeHashes.
func (Hashes) Type() FrameType { return TypeHashes }

// Len returns the encoded length of the frame.
func (h Hashes) Len() int { return HeaderLen + hashesFixedLen + len(h.Hashes) }

// Count returns the number of hashes.
func (h Hashes) Count() int { return len(h.Hashes) / DigestLen }

// Hash returns the i-th hash, that of block First+i. It panics if i is not
// in [0, Count()).
func (h Hashes) Hash(i int) Digest {
	return Digest(h.Hashes[i*DigestLen : (i+1)*DigestLen])
}

// Append appends the encoded frame to b.
func (h Hashes) Append(b []byte) []byte {
	b = grow(b, h.Len())
	b = appendHeader(b, TypeHashes, 0, h.Len()-HeaderLen)
	b = binary.BigEndian.AppendUint32(b, h.Request)
	b = binary.BigEndian.AppendUint32(b, h.First)
	return append(b, h.Hashes...)
}

func parseHashes(p []byte) (Hashes, error) {
	const t = TypeHashes
	if err := fixed(t, p, hashesFixedLen+DigestLen); err != nil {
		return Hashes{}, err
	}
	h := Hashes{
		Request: binary.BigEndian.Uint32(p[0:]),
		First:   binary.BigEndian.Uint32(p[4:]),
		Hashes:  p[hashesFixedLen:len(p):len(p)],
	}
	if err := nonZero(t, "request", h.Request); err != nil {
		return Hashes{}, err
	}
	// The header check bounds the payload to [40, MaxMaxFrame], so the
	// count lies in [1, (MaxMaxFrame-8)/32], below MaxHashCount.
	if len(h.Hashes)%DigestLen != 0 {
		return Hashes{}, errorf(t, "%d bytes of hashes, not a multiple of %d", len(h.Hashes), DigestLen)
	}
	return h, nil
}
