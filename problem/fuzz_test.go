package problem_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/chassis-go/chassis/problem"
)

// FuzzWrite checks that arbitrary details, extension keys and values and
// request ids never panic and always produce one valid JSON object whose
// reserved members are the ones Write set.
func FuzzWrite(f *testing.F) {
	f.Add("detail", "key", "value", 404, "req-1")
	f.Add("", "status", "200", 0, "")
	f.Add("\xff\xfe", "\xff", "\x00<script>", 599, "\xff")
	f.Add("a\u2028b", "request_id", "x", 422, "a b")
	f.Fuzz(func(t *testing.T, detail, key, value string, status int, reqID string) {
		p := problem.New(status, detail).With(key, value).With(key+"2", []any{value, status}).With("f", float64(status)/3)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-ID", reqID)
		w := httptest.NewRecorder()
		problem.Write(w, r, p)
		body := w.Body.Bytes()
		if !json.Valid(body) {
			t.Fatalf("invalid JSON: %q", body)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("not an object: %v", err)
		}
		if int(m["status"].(float64)) != w.Code {
			t.Fatalf("status member %v != response %d", m["status"], w.Code)
		}
		if w.Code < 400 || w.Code > 599 {
			t.Fatalf("status %d outside 4xx/5xx", w.Code)
		}
		if id, ok := m["request_id"]; ok && (id != reqID || !problem.ValidRequestID(reqID)) {
			t.Fatalf("request_id = %v; sent %q", id, reqID)
		}
	})
}
