package idempotency

import (
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{[]string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{[]string{` "a b" `}, "a b", true},
		{[]string{`"a\"b\\c"`}, `a"b\c`, true},
		{[]string{"abc+/=="}, "abc+/==", true},
		{[]string{strings.Repeat("k", 255)}, strings.Repeat("k", 255), true},
		{[]string{strings.Repeat("k", 256)}, "", false},
		{[]string{`"` + strings.Repeat("k", 256) + `"`}, "", false},
		{[]string{"a", "b"}, "", false},
		{[]string{""}, "", false},
		{[]string{`""`}, "", false},
		{[]string{`"abc`}, "", false},
		{[]string{`"abc";p=1`}, "", false},
		{[]string{`"a\nb"`}, "", false},
		{[]string{`"a\x"`}, "", false},
		{[]string{"a b"}, "", false},
		{[]string{"a,b"}, "", false},
		{[]string{"é"}, "", false},
		{[]string{"\"é\""}, "", false},
	}
	for _, tc := range tests {
		got, err := parseKey(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseKey(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseKey checks that any accepted key is 1–255 bytes of printable
// ASCII and that a bare key round-trips through its quoted form.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"abc", `"abc"`, `"a\"b"`, `"`, `\`, "", " x ", strings.Repeat("k", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, err := parseKey([]string{v})
		if err != nil {
			return
		}
		if len(k) == 0 || len(k) > MaxKeyLength {
			t.Fatalf("parseKey(%q) = %q: length %d out of range", v, k, len(k))
		}
		for i := 0; i < len(k); i++ {
			if k[i] < 0x20 || k[i] > 0x7e {
				t.Fatalf("parseKey(%q) = %q: byte %#x not printable ASCII", v, k, k[i])
			}
		}
		q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
		if k2, err := parseKey([]string{q}); err != nil || k2 != k {
			t.Fatalf("parseKey(%q) = %q, %v; want %q (quoted form of %q)", q, k2, err, k, v)
		}
	})
}
