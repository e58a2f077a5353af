package httpkit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

// FuzzDecodeJSON checks that DecodeJSON never panics, fails only with a
// 400, 413 or 415 *problem.Error, and, for a JSON Content-Type, accepts a
// body exactly when secval.Limits.Check (which agrees with json.Valid
// within the limits) accepts it.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []struct{ body, ct string }{
		{`{"a":1}`, "application/json"},
		{`{"a":1} `, "application/json; charset=utf-8"},
		{`{"__proto__":1}`, "application/json"},
		{`[1,2,3]`, "application/problem+json"},
		{`{} {}`, "application/json"},
		{`{"a":`, "application/json"},
		{``, "application/json"},
		{`1e999`, "application/json"},
		{`{}`, "text/plain"},
		{`{}`, "application/json; charset=\"latin1\""},
		{`{}`, "application/json;;"},
	} {
		f.Add([]byte(s.body), s.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		var v json.RawMessage
		err := httpkit.DecodeJSON(httptest.NewRecorder(), req, &v)
		if err != nil {
			var p *problem.Error
			if !errors.As(err, &p) || (p.Status != 400 && p.Status != 413 && p.Status != 415) {
				t.Fatalf("DecodeJSON(%q, %q) = %v; want a 400, 413 or 415 *problem.Error", body, ct, err)
			}
			if p.Status == 415 {
				return
			}
		}
		if ct != "application/json" {
			return
		}
		if checkErr := (secval.Limits{}).Check(body); (err == nil) != (checkErr == nil) {
			t.Fatalf("DecodeJSON(%q) = %v but Check = %v; want both nil or both errors", body, err, checkErr)
		}
	})
}
