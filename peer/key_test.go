package peer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestKey_roundTrip(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseKey("  " + k.Encode() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Fatal("parsed key differs")
	}
	if k2, _ := GenerateKey(); k2 == k {
		t.Fatal("two generated keys are equal")
	}
}

func TestParseKey_rejects(t *testing.T) {
	k, _ := GenerateKey()
	enc := k.Encode()
	for name, s := range map[string]string{
		"empty":       "",
		"no prefix":   enc[len(keyPrefix):],
		"short":       enc[:len(enc)-1],
		"long":        enc + "AA",
		"bad char":    enc[:10] + "!" + enc[11:],
		"std base64+": strings.Replace(enc, enc[10:11], "+", 1),
	} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("%s: ParseKey(%q) accepted", name, s)
		}
	}
}

func TestKey_redacted(t *testing.T) {
	k, _ := GenerateKey()
	secret := k.Encode()[len(keyPrefix):]
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", k)
	if strings.Contains(buf.String(), secret) || strings.Contains(k.String(), secret) {
		t.Fatal("key leaked into text output")
	}
}
