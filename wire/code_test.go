package wire

import "testing"

func TestCode(t *testing.T) {
	names := []string{"", "PROTOCOL", "VERSION", "AUTH", "NOT_FOUND", "FORBIDDEN", "BAD_REQUEST",
		"TOO_MANY", "UNAVAILABLE", "CANCELLED", "INTERNAL", "SHUTTING_DOWN", "CHANGED", "LOOP"}
	for c := range Code(len(names)) {
		if c == 0 {
			continue
		}
		if !c.Valid() || c.String() != names[c] {
			t.Errorf("Code(%d): Valid() = %v, String() = %q; want true, %q", c, c.Valid(), c.String(), names[c])
		}
	}
	if CodeProtocol != 1 || CodeShuttingDown != 11 || CodeChanged != 12 || CodeLoop != 13 {
		t.Fatal("codes do not match the specification")
	}
	for _, c := range []Code{0, 14, 0x100, 0xffff} {
		want := "Code(" + formatCode(c) + ")"
		if c.Valid() || c.String() != want {
			t.Errorf("Code(%d): Valid() = %v, String() = %q; want false, %q", c, c.Valid(), c.String(), want)
		}
	}
}

func formatCode(c Code) string {
	switch c {
	case 0:
		return "0"
	case 14:
		return "14"
	case 0x100:
		return "256"
	}
	return "65535"
}

func TestCode_classes(t *testing.T) {
	tests := []struct {
		c                         Code
		final, refusal, transient bool
	}{
		{CodeProtocol, false, false, false},
		{CodeVersion, false, false, false},
		{CodeAuth, false, false, false},
		{CodeNotFound, false, true, false},
		{CodeForbidden, true, true, false},
		{CodeBadRequest, true, true, false},
		{CodeTooMany, false, false, false},
		{CodeUnavailable, false, false, true},
		{CodeCancelled, false, false, false},
		{CodeInternal, false, false, true},
		{CodeShuttingDown, false, false, false},
		{CodeChanged, false, true, false},
		{CodeLoop, false, true, false},
	}
	for _, tc := range tests {
		if tc.c.Final() != tc.final || tc.c.Refusal() != tc.refusal || tc.c.Transient() != tc.transient {
			t.Errorf("%s: Final %v Refusal %v Transient %v; want %v %v %v", tc.c,
				tc.c.Final(), tc.c.Refusal(), tc.c.Transient(), tc.final, tc.refusal, tc.transient)
		}
	}
	for c := CodeProtocol; c.Valid(); c++ {
		found := false
		for _, tc := range tests {
			found = found || tc.c == c
		}
		if !found {
			t.Errorf("%s: not classified by this test", c)
		}
	}
}
