package secval_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

// splits are the ways a body may arrive: all at once, a byte at a time, in
// halves, and with the final error in the same call as the last data.
var splits = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data err", iotest.DataErrReader},
}

func TestReaderDecode(t *testing.T) {
	t.Parallel()
	small := secval.Limits{MaxDepth: 2, MaxBytes: 40, MaxKeys: 2, MaxElements: 3, MaxStringLen: 5}
	tests := []struct {
		name   string
		in     string
		status int
		limit  string
	}{
		{"ok", `{"a":[1,2,3],"b":"12345"}`, 0, ""},
		{"depth", `[[[1]]]`, 400, "max_depth"},
		{"keys", `{"a":1,"b":2,"c":3}`, 400, "max_keys"},
		{"elements", `[1,2,3,4]`, 400, "max_elements"},
		{"string", `{"a":"123456"}`, 400, "max_string_len"},
		{"deny", `{"\u005f_proto__":1}`, 400, "deny_keys"},
		{"deny at end of chunk", `{"__proto__":1}`, 400, "deny_keys"},
		{"bytes", `[` + strings.Repeat(" ", 50) + `1]`, 413, "max_bytes"},
		{"top-level number cut by bytes", strings.Repeat("1", 41), 413, "max_bytes"},
	}
	for _, tc := range tests {
		for _, sp := range splits {
			t.Run(tc.name+"/"+sp.name, func(t *testing.T) {
				t.Parallel()
				var v any
				l := small
				if strings.HasPrefix(tc.name, "deny") {
					l.MaxStringLen = 0
				}
				err := json.NewDecoder(l.Reader(sp.wrap(strings.NewReader(tc.in)))).Decode(&v)
				if tc.status == 0 {
					if err != nil {
						t.Fatalf("Decode(%q) = %v; want nil", tc.in, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("Decode(%q) = nil (decoded %v); want %d %s", tc.in, v, tc.status, tc.limit)
				}
				status, limit := limitOf(t, err)
				if status != tc.status || limit != tc.limit {
					t.Errorf("Decode(%q) = %d %s; want %d %s", tc.in, status, limit, tc.status, tc.limit)
				}
			})
		}
	}
}

func TestReaderLeavesSyntaxToDecoder(t *testing.T) {
	t.Parallel()
	for _, sp := range splits {
		t.Run(sp.name, func(t *testing.T) {
			t.Parallel()
			// The "__proto__" after the syntax error is never reached.
			in := `{"a":1,,"__proto__":1}`
			var v any
			want := json.Unmarshal([]byte(in), &v)
			err := json.NewDecoder(secval.Limits{}.Reader(sp.wrap(strings.NewReader(in)))).Decode(&v)
			var se, wantSE *json.SyntaxError
			if !errors.As(want, &wantSE) || !errors.As(err, &se) || *se != *wantSE {
				t.Errorf("Decode(%q) = %v; want %v, as without secval", in, err, want)
			}
		})
	}
}

func TestReaderStream(t *testing.T) {
	t.Parallel()
	for _, sp := range splits {
		t.Run(sp.name, func(t *testing.T) {
			t.Parallel()
			in := `{"a":1} 2 "x"` + "\n" + `{"constructor":1} {"b":2}`
			dec := json.NewDecoder(secval.Limits{}.Reader(sp.wrap(strings.NewReader(in))))
			var got []any
			var err error
			for {
				var v any
				if err = dec.Decode(&v); err != nil {
					break
				}
				got = append(got, v)
			}
			if len(got) != 3 {
				t.Errorf("decoded %v before the error; want the 3 values before the denied key", got)
			}
			if _, limit := limitOf(t, err); limit != "deny_keys" {
				t.Errorf("stream error = %v; want deny_keys", err)
			}
		})
	}
}

func TestReaderStickyError(t *testing.T) {
	t.Parallel()
	r := secval.Limits{MaxDepth: 1}.Reader(strings.NewReader(`[[1]] and more`))
	buf := make([]byte, 64)
	n, err1 := r.Read(buf)
	if n != 1 || err1 == nil {
		t.Fatalf("Read = %d, %v; want 1 byte ('[') and the depth error", n, err1)
	}
	n, err2 := r.Read(buf)
	if n != 0 || !errors.Is(err2, secval.ErrLimit) {
		t.Errorf("second Read = %d, %v; want 0, the same error", n, err2)
	}
	var p *problem.Error
	if !errors.As(err2, &p) || p.Detail != "JSON nesting exceeds 1 levels" {
		t.Errorf("second Read error = %v; want detail JSON nesting exceeds 1 levels", err2)
	}
}

func TestReaderConforms(t *testing.T) {
	t.Parallel()
	doc := `{"users":[{"name":"a\u00e9","tags":["x","y"],"age":42}]}`
	if err := iotest.TestReader(secval.Limits{}.Reader(strings.NewReader(doc)), []byte(doc)); err != nil {
		t.Error(err)
	}
}

func TestReaderExactlyMaxBytes(t *testing.T) {
	t.Parallel()
	doc := `[1, 2]`
	b, err := io.ReadAll(secval.Limits{MaxBytes: int64(len(doc))}.Reader(iotest.OneByteReader(strings.NewReader(doc))))
	if err != nil || string(b) != doc {
		t.Errorf("ReadAll at exactly MaxBytes = %q, %v; want %q, nil", b, err, doc)
	}
}

func TestReaderNilPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "secval.Limits.Reader: ") {
			t.Errorf("Reader(nil) panic = %v; want secval.Limits.Reader: ...", r)
		}
	}()
	secval.Limits{}.Reader(nil)
}
