package secval_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/chassis-go/chassis/secval"
)

// TestDenyKeysNearMisses pins the documented rule for keys that look like a
// deny key: a key is denied exactly when encoding/json would decode it into
// a struct field named by the deny key (after unescaping, with Unicode
// simple case folding). Keys that only resemble one (a trailing NUL,
// fullwidth or zero-width characters, spaces) are allowed: neither
// encoding/json nor a JavaScript engine resolves them to the denied
// property. The test checks both halves against encoding/json itself.
func TestDenyKeysNearMisses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key    string // as written in the JSON text, between quotes
		denied bool
	}{
		{`__proto__`, true},
		{`__PROTO__`, true},
		{`__Proto__`, true},
		{`\u005f_proto__`, true},
		{`__pro\u0074o__`, true},
		{`__proto\u005F\u005f`, true},
		{`__pro\u0074\u004F__`, true},
		{`__proto__\u0000`, false},                    // trailing NUL: another key in Go and JS
		{`__proto__` + "\u0000", false},               // raw NUL is a syntax error, see below
		{"\uff3f\uff3fproto\uff3f\uff3f", false},      // fullwidth low lines
		{`\uff3f\uff3fproto\uff3f\uff3f`, false},      // the same, escaped
		{"__\uff50\uff52\uff4f\uff54\uff4f__", false}, // fullwidth letters
		{"__pro\u200bto__", false},                    // zero-width space inside
		{`__proto__ `, false},
		{` __proto__`, false},
		{`__proto_`, false},
		{`_proto__`, false},
		{`__proto__x`, false},
	}
	type target struct {
		P int `json:"__proto__"`
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.key), func(t *testing.T) {
			t.Parallel()
			doc := []byte(`{"` + tc.key + `":1}`)
			var tg target
			if json.Valid(doc) {
				if err := json.Unmarshal(doc, &tg); err != nil {
					t.Fatal(err)
				}
				if matched := tg.P == 1; matched != tc.denied {
					t.Fatalf("encoding/json matches %q to __proto__: %v; the table says denied=%v", tc.key, matched, tc.denied)
				}
			}
			err := secval.Limits{}.Check(doc)
			if !json.Valid(doc) {
				if err == nil {
					t.Errorf("Check(%s) = nil; want a syntax error", doc)
				}
				return
			}
			if gotDenied := err != nil; gotDenied != tc.denied {
				t.Errorf("Check(%s) = %v; want denied=%v", doc, err, tc.denied)
			}
		})
	}
}

// TestNilOptions shows the zero rules of Limits, which has no options: the
// zero Limits means every default, and a nil DenyKeys means
// DefaultDenyKeys while an empty one denies nothing.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"constructor":1}`)
	if err := (secval.Limits{DenyKeys: nil}).Check(doc); err == nil {
		t.Error("Limits{DenyKeys: nil}.Check(constructor) = nil; want the default deny list")
	}
	if err := (secval.Limits{DenyKeys: []string{}}).Check(doc); err != nil {
		t.Errorf("Limits{DenyKeys: []string{}}.Check(constructor) = %v; want nil", err)
	}
}
