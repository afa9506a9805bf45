package peer

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
)

// KeySize is the length of a cluster key in bytes.
const KeySize = 32

// keyPrefix starts the text form of a key; the digit is the form's version.
const keyPrefix = "aqk1-"

// Key is a cluster key: the 32-byte secret that every node of one cluster
// shares and proves it holds when a connection starts (docs/protocol.md,
// "Connection start and authentication"). Its text form is "aqk1-"
// followed by the 32 bytes in unpadded base64url ([Key.Encode],
// [ParseKey]).
//
// A Key never prints itself: String and its slog value are redacted, so
// that a key cannot leak into logs by accident.
type Key [KeySize]byte

// GenerateKey returns a new random key.
func GenerateKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("peer: key: %w", err)
	}
	return k, nil
}

// Encode returns the secret text form of k, "aqk1-…".
func (k Key) Encode() string { return keyPrefix + base64.RawURLEncoding.EncodeToString(k[:]) }

// String is redacted.
func (k Key) String() string { return keyPrefix + "(redacted)" }

// LogValue keeps the key out of structured logs.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// ParseKey decodes the text form of a key. Surrounding white space is
// ignored.
func ParseKey(s string) (Key, error) {
	const want = "want %q followed by 43 base64url characters; make one with \"aqueduct keygen\""
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, keyPrefix) {
		return Key{}, fmt.Errorf("peer: not an Aqueduct key ("+want+")", keyPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(keyPrefix):])
	if err != nil || len(raw) != KeySize {
		return Key{}, fmt.Errorf("peer: malformed key ("+want+")", keyPrefix)
	}
	return Key(raw), nil
}
