package secval_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

// limitOf returns the status and "limit" extension of a secval error, or
// the status and "syntax" for a syntax error.
func limitOf(t *testing.T, err error) (int, string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T) is not a *problem.Error", err, err)
	}
	if errors.Is(err, secval.ErrSyntax) {
		return p.Status, "syntax"
	}
	if !errors.Is(err, secval.ErrLimit) {
		t.Fatalf("error %v wraps neither ErrLimit nor ErrSyntax", err)
	}
	l, _ := p.Extensions["limit"].(string)
	return p.Status, l
}

func TestCheck(t *testing.T) {
	t.Parallel()
	small := secval.Limits{MaxDepth: 2, MaxBytes: 64, MaxKeys: 2, MaxElements: 3, MaxStringLen: 5}
	tests := []struct {
		name   string
		limits secval.Limits
		in     string
		status int    // 0: accepted
		limit  string // "syntax" or the limit's name
	}{
		{"scalar", small, `1`, 0, ""},
		{"at every limit", small, `{"a":[1,2,3],"b":"12345"}`, 0, ""},
		{"depth", small, `[[[1]]]`, 400, "max_depth"},
		{"depth in object", small, `{"a":{"b":{}}}`, 400, "max_depth"},
		{"bytes", small, `"` + strings.Repeat("a", 70) + `"`, 413, "max_bytes"},
		{"keys", small, `{"a":1,"b":2,"c":3}`, 400, "max_keys"},
		{"duplicate keys count", small, `{"a":1,"a":2,"a":3}`, 400, "max_keys"},
		{"keys per object, not total", small, `[{"a":1,"b":2},{"a":1,"b":2}]`, 0, ""},
		{"elements", small, `[1,2,3,4]`, 400, "max_elements"},
		{"string", small, `"123456"`, 400, "max_string_len"},
		{"key length", small, `{"123456":1}`, 400, "max_string_len"},
		{"escapes count raw", small, `"\n\n\n"`, 400, "max_string_len"},
		{"unicode escape is 6 bytes", small, `"\u0041"`, 400, "max_string_len"},
		{"proto", secval.Limits{}, `{"__proto__":{"admin":true}}`, 400, "deny_keys"},
		{"proto nested", secval.Limits{}, `[{"a":{"constructor":{"prototype":1}}}]`, 400, "deny_keys"},
		{"proto escaped", secval.Limits{}, `{"\u005f_proto__":1}`, 400, "deny_keys"},
		{"proto all escaped", secval.Limits{}, `{"\u005F\u005F\u0070roto\u005f\u005f":1}`, 400, "deny_keys"},
		{"proto solidus escape", secval.Limits{}, `{"__pro\u0074o__":1}`, 400, "deny_keys"},
		{"proto upper case", secval.Limits{}, `{"__PROTO__":1}`, 400, "deny_keys"},
		{"long s folds to s", secval.Limits{}, `{"con\u017ftructor":1}`, 400, "deny_keys"},
		{"long s raw", secval.Limits{}, "{\"con\u017ftructor\":1}", 400, "deny_keys"},
		{"proto as value is fine", secval.Limits{}, `{"a":"__proto__"}`, 0, ""},
		{"proto prefix is fine", secval.Limits{}, `{"__proto__x":1,"x__proto__":2}`, 0, ""},
		{"empty deny list", secval.Limits{DenyKeys: []string{}}, `{"__proto__":1}`, 0, ""},
		{"custom deny", secval.Limits{DenyKeys: []string{"isAdmin"}}, `{"__proto__":1,"ISADMIN":true}`, 400, "deny_keys"},
		{"long deny key", secval.Limits{DenyKeys: []string{strings.Repeat("k", 40)}}, `{"` + strings.Repeat("K", 40) + `":1}`, 400, "deny_keys"},
		{"surrogate pair key", secval.Limits{DenyKeys: []string{"a😀"}}, `{"a\ud83d\ude00":1}`, 400, "deny_keys"},
		{"lone surrogate key", secval.Limits{DenyKeys: []string{"a\ufffdb"}}, `{"a\ud83db":1}`, 400, "deny_keys"},
		{"unlimited", secval.Limits{MaxDepth: -1, MaxBytes: -1, MaxKeys: -1, MaxElements: -1, MaxStringLen: -1},
			strings.Repeat("[", 100) + strings.Repeat("]", 100), 0, ""},
		{"default depth 32 ok", secval.Limits{}, strings.Repeat("[", 32) + strings.Repeat("]", 32), 0, ""},
		{"default depth 33", secval.Limits{}, strings.Repeat("[", 33) + strings.Repeat("]", 33), 400, "max_depth"},
		{"empty", secval.Limits{}, ``, 400, "syntax"},
		{"whitespace", secval.Limits{}, " \n\t\r ", 400, "syntax"},
		{"two values", secval.Limits{}, `{} {}`, 400, "syntax"},
		{"trailing comma", secval.Limits{}, `[1,]`, 400, "syntax"},
		{"leading zero", secval.Limits{}, `01`, 400, "syntax"},
		{"bad literal", secval.Limits{}, `tru`, 400, "syntax"},
		{"control char", secval.Limits{}, "\"a\x01\"", 400, "syntax"},
		{"bad escape", secval.Limits{}, `"\x"`, 400, "syntax"},
		{"numbers", secval.Limits{}, `[0,-0,1.5,-2e10,3E+2,4e-1,0.0e0]`, 0, ""},
		{"invalid utf8 in string is valid JSON", secval.Limits{}, "\"\xff\"", 0, ""},
		{"padded", secval.Limits{}, " \r\n\t{ \"a\" : [ 1 , true , null , false ] } \n", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.limits.Check([]byte(tc.in))
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("Check(%q) = %v; want nil", tc.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%q) = nil; want %d %s", tc.in, tc.status, tc.limit)
			}
			status, limit := limitOf(t, err)
			if status != tc.status || limit != tc.limit {
				t.Errorf("Check(%q) = %d %s (%v); want %d %s", tc.in, status, limit, err, tc.status, tc.limit)
			}
			if tc.limit == "syntax" && json.Valid([]byte(tc.in)) {
				t.Errorf("json.Valid(%q) = true, but Check says syntax error", tc.in)
			}
		})
	}
}

func TestCheckMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, detail string
	}{
		{strings.Repeat("[", 33), "JSON nesting exceeds 32 levels"},
		{`{"a":{"\u005f_proto__":1}}`, `JSON key "__proto__" is not allowed`},
		{`{"a" 1}`, "invalid JSON at offset 5"},
		{`[1,2`, "invalid JSON at offset 4"},
	}
	for _, tc := range tests {
		err := secval.Limits{}.Check([]byte(tc.in))
		var p *problem.Error
		if !errors.As(err, &p) || p.Detail != tc.detail {
			t.Errorf("Check(%q) = %v; want detail %q", tc.in, err, tc.detail)
		}
	}
	err := secval.Limits{MaxBytes: 3}.Check([]byte("1234"))
	var p *problem.Error
	if !errors.As(err, &p) || p.Status != http.StatusRequestEntityTooLarge || p.Detail != "JSON body exceeds 3 bytes" {
		t.Errorf("Check(1234, MaxBytes 3) = %v; want 413 JSON body exceeds 3 bytes", err)
	}
}

func TestDefaultDenyKeys(t *testing.T) {
	t.Parallel()
	a := secval.DefaultDenyKeys()
	a[0] = "x"
	if b := secval.DefaultDenyKeys(); b[0] != "__proto__" || len(b) != 3 {
		t.Errorf("DefaultDenyKeys() = %q after modifying an earlier result; want a fresh copy", b)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"users":[{"name":"a\u00e9","tags":["x","y"],"age":42,"ok":true,"n":null}]}`)
	l := secval.Limits{}
	allocs := testing.AllocsPerRun(100, func() {
		if err := l.Check(doc); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Check allocated %v times per run; want 0", allocs)
	}
}
