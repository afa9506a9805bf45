package clusterkey

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Size is the length of a key in bytes.
const Size = 32

// EnvVar names the environment variable that may hold the key.
const EnvVar = "AQUEDUCT_KEY"

const prefix = "aqk1-"

// Key is a cluster key.
type Key [Size]byte

// ErrMissing reports that a role needs a key and none was given. Its message
// tells the user how to make one.
var ErrMissing = errors.New("no cluster key: create one with \"aqueduct keygen > cluster.key\" " +
	"and pass it with --key-file cluster.key or in the environment as " + EnvVar)

// Generate returns a new random key.
func Generate() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("clusterkey: %w", err)
	}
	return k, nil
}

// Encode returns the secret text form of k, "aqk1-…".
func (k Key) Encode() string { return prefix + base64.RawURLEncoding.EncodeToString(k[:]) }

// String is redacted.
func (k Key) String() string { return prefix + "(redacted)" }

// LogValue keeps the key out of structured logs.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Parse decodes the text form. Surrounding white space is ignored.
func Parse(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, prefix) {
		return Key{}, fmt.Errorf("clusterkey: not an Aqueduct key (want %q followed by 43 base64url characters; make one with \"aqueduct keygen\")", prefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
	if err != nil || len(raw) != Size {
		return Key{}, fmt.Errorf("clusterkey: malformed key (want %q followed by 43 base64url characters; make one with \"aqueduct keygen\")", prefix)
	}
	var k Key
	copy(k[:], raw)
	return k, nil
}

// Load reads the key from file if file is not empty, else from the
// environment variable AQUEDUCT_KEY. It returns ErrMissing if neither gives
// one.
func Load(file string) (Key, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return Key{}, fmt.Errorf("clusterkey: read key file: %w", err)
		}
		k, err := Parse(string(b))
		if err != nil {
			return Key{}, fmt.Errorf("%w (in %s)", err, file)
		}
		return k, nil
	}
	if v, ok := os.LookupEnv(EnvVar); ok && strings.TrimSpace(v) != "" {
		k, err := Parse(v)
		if err != nil {
			return Key{}, fmt.Errorf("%w (in $%s)", err, EnvVar)
		}
		return k, nil
	}
	return Key{}, ErrMissing
}
