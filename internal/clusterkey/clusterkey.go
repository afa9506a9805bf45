package clusterkey

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

// EnvVar names the environment variable that may hold the key.
const EnvVar = "AQUEDUCT_KEY"

// ErrMissing reports that a role needs a key and none was given. Its message
// tells the user how to make one.
var ErrMissing = errors.New("no cluster key: create one with \"aqueduct keygen > cluster.key\" " +
	"and pass it with --key-file cluster.key or in the environment as " + EnvVar)

// Load reads the key from file if file is not empty, else from the
// environment variable AQUEDUCT_KEY. It returns ErrMissing if neither gives
// one.
func Load(file string) (peer.Key, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return peer.Key{}, fmt.Errorf("clusterkey: read key file: %w", err)
		}
		k, err := peer.ParseKey(string(b))
		if err != nil {
			return peer.Key{}, fmt.Errorf("%w (in %s)", err, file)
		}
		return k, nil
	}
	if v, ok := os.LookupEnv(EnvVar); ok && strings.TrimSpace(v) != "" {
		k, err := peer.ParseKey(v)
		if err != nil {
			return peer.Key{}, fmt.Errorf("%w (in $%s)", err, EnvVar)
		}
		return k, nil
	}
	return peer.Key{}, ErrMissing
}
