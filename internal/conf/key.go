package conf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

// KeyEnv names the environment variable that may hold the cluster key
// itself (key_file names a file that holds it).
const KeyEnv = "AQUEDUCT_KEY"

// ErrNoKey reports that a node needs a cluster key and none was given. Its
// message tells the user how to make one.
var ErrNoKey = errors.New("no cluster key: create one with \"aqueduct keygen > cluster.key\" " +
	"and pass it with --key-file cluster.key (key_file in a --config file) or in the environment as " + KeyEnv)

// LoadKey sets c.Key from the file c.KeyFile names, else from $AQUEDUCT_KEY
// (env, usually os.LookupEnv). It returns ErrNoKey if neither gives one.
func (c *Config) LoadKey(env func(string) (string, bool)) error {
	k, err := loadKey(c.KeyFile, env)
	if err != nil {
		return err
	}
	c.Key = k
	return nil
}

func loadKey(file string, env func(string) (string, bool)) (peer.Key, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return peer.Key{}, fmt.Errorf("conf: key_file: %w", err)
		}
		k, err := peer.ParseKey(string(b))
		if err != nil {
			return peer.Key{}, fmt.Errorf("conf: key_file %s: %w", file, err)
		}
		return k, nil
	}
	if env != nil {
		if v, ok := env(KeyEnv); ok && strings.TrimSpace(v) != "" {
			k, err := peer.ParseKey(v)
			if err != nil {
				return peer.Key{}, fmt.Errorf("conf: $%s: %w", KeyEnv, err)
			}
			return k, nil
		}
	}
	return peer.Key{}, ErrNoKey
}
