package wire

import (
	"bytes"
	"testing"
)

// ParseDataPrefix accepts exactly the DATA frames ParsePayload accepts and
// decodes the same fields.
func FuzzParseDataPrefix(f *testing.F) {
	for _, d := range []Data{
		{Request: 1, Seq: 0, Offset: 0, Payload: []byte("abc")},
		{Request: 7, Seq: 3, Offset: 1 << 40, Fin: true, Payload: []byte("x")},
		{Request: 2, Fin: true},
		{Request: 0, Payload: []byte("a")},
		{Request: 1, Offset: MaxObjectSize, Payload: []byte("a")},
		{Request: 1},
	} {
		f.Add(d.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderLen {
			return
		}
		h, err := ParseHeader(b[:HeaderLen], MaxMaxFrame)
		if err != nil || h.Type != TypeData || int(h.Length) > len(b)-HeaderLen || h.Length < DataPrefixLen {
			return
		}
		payload := b[HeaderLen : HeaderLen+int(h.Length)]
		full, errFull := ParsePayload(h, payload)
		d, n, errPrefix := ParseDataPrefix(h, payload[:DataPrefixLen])
		if (errFull == nil) != (errPrefix == nil) {
			t.Fatalf("ParsePayload: %v, ParseDataPrefix: %v", errFull, errPrefix)
		}
		if errFull != nil {
			return
		}
		fd := full.(Data)
		if n != len(fd.Payload) || d.Request != fd.Request || d.Seq != fd.Seq || d.Offset != fd.Offset || d.Fin != fd.Fin || d.Payload != nil {
			t.Fatalf("prefix %+v (%d bytes), full %+v", d, n, fd)
		}
		if !bytes.Equal(payload[DataPrefixLen:], fd.Payload) {
			t.Fatal("payload differs")
		}
	})
}

func TestParseDataPrefix_rejects(t *testing.T) {
	h := Header{Type: TypeData, Length: DataPrefixLen + 1}
	if _, _, err := ParseDataPrefix(Header{Type: TypeRead, Length: 20}, make([]byte, DataPrefixLen)); err == nil {
		t.Error("READ accepted")
	}
	if _, _, err := ParseDataPrefix(h, make([]byte, 3)); err == nil {
		t.Error("short prefix accepted")
	}
	if _, _, err := ParseDataPrefix(Header{Type: TypeData, Length: 3}, make([]byte, DataPrefixLen)); err == nil {
		t.Error("short length accepted")
	}
	if _, _, err := ParseDataPrefix(h, make([]byte, DataPrefixLen)); err == nil {
		t.Error("request 0 accepted")
	}
}
