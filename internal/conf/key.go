package conf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// LoadKey sets c.Key from the file c.KeyFile names, or from $AQUEDUCT_KEY
// (env, usually os.LookupEnv), with the layers' precedence: a key_file given
// by a flag or $AQUEDUCT_KEY_FILE wins over $AQUEDUCT_KEY, which wins over a
// key_file from the configuration file. It returns ErrNoKey if neither
// gives one.
func (c *Config) LoadKey(env func(string) (string, bool)) error {
	file := c.KeyFile
	if src := c.from["key_file"]; file != "" && src != "" && !strings.HasPrefix(src, "--") && !strings.HasPrefix(src, "$") {
		if v, ok := lookup(env, KeyEnv); ok && strings.TrimSpace(v) != "" {
			file = "" // the environment's key over the file's key_file
		}
	}
	k, err := loadKey(file, env)
	if err != nil {
		return err
	}
	c.Key = k
	return nil
}

func lookup(env func(string) (string, bool), k string) (string, bool) {
	if env == nil {
		return "", false
	}
	return env(k)
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
	if v, ok := lookup(env, KeyEnv); ok && strings.TrimSpace(v) != "" {
		k, err := peer.ParseKey(v)
		if err != nil {
			return peer.Key{}, fmt.Errorf("conf: $%s: %w", KeyEnv, err)
		}
		return k, nil
	}
	return peer.Key{}, ErrNoKey
}

// CheckEnvironment checks what the node will need when it starts, beyond
// the shape Validate checks: the cluster key (from key_file or
// $AQUEDUCT_KEY, which env looks up), the content directory of an origin,
// the parent of a cache directory that does not exist yet. It reports
// every problem, each as an [*Error] naming its key, joined with
// errors.Join.
func (c *Config) CheckEnvironment(env func(string) (string, bool)) error {
	var errs []error
	if err := c.LoadKey(env); err != nil {
		errs = append(errs, &Error{Source: c.from["key_file"], Key: "key_file", Err: err})
	}
	if c.Role == RoleOrigin {
		if fi, err := os.Stat(c.Origin.Root); err != nil {
			errs = append(errs, &Error{Source: c.from["origin.root"], Key: "origin.root", Err: err})
		} else if !fi.IsDir() {
			errs = append(errs, &Error{Source: c.from["origin.root"], Key: "origin.root", Err: fmt.Errorf("%s is not a directory", c.Origin.Root)})
		}
	}
	if c.Role != RoleOrigin && c.Cache.Dir != "" {
		if _, err := os.Stat(c.Cache.Dir); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Dir(filepath.Clean(c.Cache.Dir))); err != nil {
				errs = append(errs, &Error{Source: c.from["cache.dir"], Key: "cache.dir", Err: fmt.Errorf("cannot be created: %w", err)})
			}
		} else if err != nil {
			errs = append(errs, &Error{Source: c.from["cache.dir"], Key: "cache.dir", Err: err})
		}
	}
	return errors.Join(errs...)
}
