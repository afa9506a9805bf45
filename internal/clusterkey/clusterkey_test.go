package clusterkey

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("  " + k.Encode() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Fatal("parsed key differs")
	}
	k2, _ := Generate()
	if k2 == k {
		t.Fatal("two generated keys are equal")
	}
}

func TestParseRejects(t *testing.T) {
	k, _ := Generate()
	enc := k.Encode()
	for name, s := range map[string]string{
		"empty":       "",
		"no prefix":   enc[len(prefix):],
		"short":       enc[:len(enc)-1],
		"long":        enc + "AA",
		"bad char":    enc[:10] + "!" + enc[11:],
		"std base64+": strings.Replace(enc, enc[10:11], "+", 1),
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("%s: Parse(%q) accepted", name, s)
		}
	}
}

func TestRedacted(t *testing.T) {
	k, _ := Generate()
	secret := k.Encode()[len(prefix):]
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", k)
	if strings.Contains(buf.String(), secret) || strings.Contains(k.String(), secret) {
		t.Fatal("key leaked into text output")
	}
}

func TestLoad(t *testing.T) {
	k, _ := Generate()
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
