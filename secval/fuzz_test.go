package secval_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

// FuzzCheck checks the scanner against encoding/json:
//   - with only encoding/json's own depth limit (10000), Check accepts
//     exactly what json.Valid accepts;
//   - with small limits, Check accepts exactly the valid documents whose
//     depth, keys per object and elements per array (counted with
//     json.Decoder.Token) are within the limits and that have no key
//     matching the deny list once decoded by encoding/json;
//   - Limits.Reader, fed in chunks of any size, reports the same limit as
//     Check, and a json.Decoder reading from it fails whenever Check
//     reports a limit;
//   - nothing panics.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2,{"b":null}],"c":"x\u00e9\n"}`, `[[[[]]]]`, `{"a":1,"b":2,"c":3}`, `[1,2,3,4]`,
		`{"__proto__":1}`, `{"\u005f_proto__":1}`, `{"CONSTRUCTOR":{}}`, `{"con\u017ftructor":1}`,
		`{"\ud83d\ude00":1}`, `{"\ud83d\u0041":1}`, `"\udc00"`, "\"\xff\xfe\"", `-0.5e+10`, `01`, `1.`,
		`tru`, `nul`, `[1,]`, `{"a" 1}`, `{} {}`, ` `, ``, "\"\x01\"", `"\uZZZZ"`, `{"a":"b"}x`,
		`{"prototype":[true,false,null]}`, `123456789`, `[-]`, `{"":0}`, `"\/\b\f\r\t\\\""`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	noLimits := secval.Limits{MaxDepth: 10000, MaxBytes: -1, MaxKeys: -1, MaxElements: -1, MaxStringLen: -1, DenyKeys: []string{}}
	small := secval.Limits{MaxDepth: 3, MaxBytes: -1, MaxKeys: 2, MaxElements: 3, MaxStringLen: -1}
	tinyStrings := secval.Limits{MaxStringLen: 4, DenyKeys: []string{"ab", "\u212a"}} // Kelvin sign folds to k
	deny := secval.DefaultDenyKeys()

	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		valid := json.Valid(data)
		if err := noLimits.Check(data); (err == nil) != valid {
			t.Fatalf("Check(%q) without limits = %v; json.Valid = %v", data, err, valid)
		}

		err := small.Check(data)
		if want := valid && withinOracle(t, data, 3, 2, 3, deny); (err == nil) != want {
			t.Fatalf("Check(%q) with small limits = %v; oracle says accept = %v", data, err, want)
		}
		if err != nil && errors.Is(err, secval.ErrSyntax) && valid {
			t.Fatalf("Check(%q) = %v but json.Valid is true", data, err)
		}

		for _, l := range []secval.Limits{small, tinyStrings, {}} {
			checkErr := l.Check(data)
			if checkErr == nil && !valid {
				t.Fatalf("Check(%q, %+v) = nil but json.Valid is false", data, l)
			}
			compareReader(t, l, data, int(chunk%8)+1, checkErr)
		}
		if tinyStrings.Check(data) == nil && !withinOracle(t, data, 32, 1000, 10000, tinyStrings.DenyKeys) {
			t.Fatalf("Check(%q, %+v) = nil but the oracle rejects it", data, tinyStrings)
		}
	})
}

// compareReader reads data through l.Reader in chunks of n bytes and
// compares the outcome with Check's.
func compareReader(t *testing.T, l secval.Limits, data []byte, n int, checkErr error) {
	t.Helper()
	got, err := io.ReadAll(l.Reader(&chunkReader{data: data, n: n}))
	checkLimit := limitName(checkErr)
	switch {
	case checkErr == nil:
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Reader(%q) = %q, %v; want all bytes and nil (Check accepts)", data, got, err)
		}
	case checkLimit != "":
		if limitName(err) != checkLimit {
			t.Fatalf("Reader(%q) error = %v; want limit %s as Check reports", data, err, checkLimit)
		}
		var v any
		if derr := json.NewDecoder(l.Reader(&chunkReader{data: data, n: n})).Decode(&v); derr == nil {
			t.Fatalf("Decode through Reader(%q) = nil (got %v); want an error, Check reports %v", data, v, checkErr)
		}
	}
}

func limitName(err error) string {
	var p *problem.Error
	if !errors.Is(err, secval.ErrLimit) || !errors.As(err, &p) {
		return ""
	}
	s, _ := p.Extensions["limit"].(string)
	return s
}

type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// withinOracle walks valid JSON with encoding/json's tokenizer and reports
// whether depth, keys per object and elements per array are within the
// given bounds and no decoded key matches deny (case-insensitively).
func withinOracle(t *testing.T, data []byte, maxDepth, maxKeys, maxElems int, deny []string) bool {
	t.Helper()
	type level struct {
		obj       bool
		n         int
		expectKey bool
	}
	var stack []*level
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 1e999 is valid JSON but no float64
	ok := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return ok
		}
		if err != nil {
			t.Fatalf("Token() on valid %q = %v", data, err)
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.obj && top.expectKey {
			key := tok.(string)
			top.expectKey = false
			if top.n++; top.n > maxKeys {
				ok = false
			}
			for _, d := range deny {
				if strings.EqualFold(key, d) {
					ok = false
				}
			}
			continue
		}
		// A value.
		if top != nil {
			if top.obj {
				top.expectKey = true
			} else if top.n++; top.n > maxElems {
				ok = false
			}
		}
		if d, isDelim := tok.(json.Delim); isDelim {
			stack = append(stack, &level{obj: d == '{', expectKey: d == '{'})
			if len(stack) > maxDepth {
				ok = false
			}
		}
	}
}
