package panicval

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type stringer struct{}

func (stringer) String() string { return "stringer" }

type panicky struct{}

func (panicky) Error() string { panic("boom") }

type myInt int

func TestString(t *testing.T) {
	selfRef := map[string]any{}
	selfRef["me"] = selfRef
	long := strings.Repeat("é", MaxLen) // 2 bytes a rune: cut mid-rune
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "<nil>"},
		{"string", "boom", "boom"},
		{"error", errors.New("bad"), "bad"},
		{"stringer", stringer{}, "stringer"},
		{"int", 42, "42"},
		{"named int", myInt(-3), "-3"},
		{"uint", uint8(7), "7"},
		{"float", 1.5, "1.5"},
		{"bool", true, "true"},
		{"self-referencing map", selfRef, "(map[string]interface {})"},
		{"struct", struct{ A int }{1}, "(struct { A int })"},
		{"panicking Error", panicky{}, "(panicval.panicky whose text method panicked)"},
		{"long string", long, long[:MaxLen] + truncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := String(tc.v); got != tc.want {
				t.Errorf("String(%s) = %.80q; want %.80q", tc.name, got, tc.want)
			}
		})
	}
}

func TestStringBounded(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	for _, v := range []any{huge, errors.New(huge)} {
		if got := String(v); len(got) > MaxLen+len(truncated) {
			t.Errorf("String(10 MiB %T) has %d bytes; want at most %d", v, len(got), MaxLen+len(truncated))
		}
	}
}
