package clusterkey

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

func TestLoad(t *testing.T) {
	k, _ := peer.GenerateKey()
	dir := t.TempDir()
	file := filepath.Join(dir, "k")
	if err := os.WriteFile(file, []byte(k.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, "")
	if _, err := Load(""); !errors.Is(err, ErrMissing) {
		t.Fatalf("Load with nothing = %v, want ErrMissing", err)
	}
	if !strings.Contains(ErrMissing.Error(), "aqueduct keygen") {
		t.Fatal("ErrMissing does not say how to make a key")
	}
	if got, err := Load(file); err != nil || got != k {
		t.Fatalf("Load(file) = %v, %v", got, err)
	}
	t.Setenv(EnvVar, k.Encode())
	if got, err := Load(""); err != nil || got != k {
		t.Fatalf("Load(env) = %v, %v", got, err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("Load(bad file) = %v, want error naming the file", err)
	}
}
