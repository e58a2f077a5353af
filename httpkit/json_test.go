package httpkit_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

type person struct {
	Name    string `json:"name"`
	Age     int    `json:"age"`
	Address struct {
		Zip string `json:"zip"`
	} `json:"address"`
	Tags []string `json:"tags"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ct     string
		body   string
		opts   []httpkit.DecodeOption
		status int
		detail string
		limit  string
	}{
		{"ok", "application/json", `{"name":"Ada","age":36,"tags":["x"]}`, nil, 0, "", ""},
		{"charset utf-8", "application/json; charset=UTF-8", `{"name":"Ada"}`, nil, 0, "", ""},
		{"+json", "application/merge-patch+json", `{"name":"Ada"}`, nil, 0, "", ""},
		{"trailing whitespace", "application/json", "{\"name\":\"Ada\"} \n\t", nil, 0, "", ""},
		{"unknown field ignored by default", "application/json", `{"nmae":"Ada"}`, nil, 0, "", ""},
		{"unknown field", "application/json", `{"nmae":"Ada"}`, []httpkit.DecodeOption{httpkit.DisallowUnknownFields()}, 400, `body: unknown field "nmae"`, ""},
		{"no content type", "", `{}`, nil, 415, "body: Content-Type must be application/json", ""},
		{"form", "application/x-www-form-urlencoded", `a=1`, nil, 415, "body: Content-Type must be application/json", ""},
		{"text/json", "text/json", `{}`, nil, 415, "body: Content-Type must be application/json", ""},
		{"bad media type", "application/json; =", `{}`, nil, 415, "body: Content-Type must be application/json", ""},
		{"latin1", "application/json; charset=latin1", `{}`, nil, 415, "body: charset must be utf-8", ""},
		{"empty", "application/json", ``, nil, 400, "body: empty", ""},
		{"syntax", "application/json", `{"name": "Ada",}`, nil, 400, "body: invalid JSON at offset 15: invalid character '}' looking for beginning of object key string", ""},
		{"truncated", "application/json", `{"name": "Ada"`, nil, 400, "body: unexpected end of JSON input", ""},
		{"wrong type", "application/json", `{"age":"36"}`, nil, 400, `body: field "age": expected integer, got string`, ""},
		{"wrong type nested", "application/json", `{"address":{"zip":1}}`, nil, 400, `body: field "address.zip": expected string, got number`, ""},
		{"float for int", "application/json", `{"age":1.5}`, nil, 400, `body: field "age": expected integer, got number 1.5`, ""},
		{"wrong top-level type", "application/json", `[1]`, nil, 400, `body: expected object, got array`, ""},
		{"trailing value", "application/json", `{} {}`, nil, 400, "body: unexpected data after the JSON value", ""},
		{"trailing garbage", "application/json", `{}x`, nil, 400, "body: unexpected data after the JSON value", ""},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", 200) + `"}`,
			[]httpkit.DecodeOption{httpkit.WithLimits(secval.Limits{MaxBytes: 100})}, 413, "body: exceeds 100 bytes", "max_bytes"},
		{"too large in trailing whitespace", "application/json", `{}` + strings.Repeat(" ", 200),
			[]httpkit.DecodeOption{httpkit.WithLimits(secval.Limits{MaxBytes: 100})}, 413, "body: exceeds 100 bytes", "max_bytes"},
		{"no size limit", "application/json", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`,
			[]httpkit.DecodeOption{httpkit.WithLimits(secval.Limits{MaxBytes: -1, MaxStringLen: -1})}, 0, "", ""},
		{"proto", "application/json", `{"name":"x","\u005f_proto__":{"admin":true}}`, nil, 400, `body: JSON key "__proto__" is not allowed`, "deny_keys"},
		{"depth", "application/json", `{"tags":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, nil, 400, "body: JSON nesting exceeds 32 levels", "max_depth"},
		{"limit in trailing value", "application/json", `{} {"__proto__":1}`, nil, 400, "body: unexpected data after the JSON value", ""},
		{"nil option ignored", "application/json", `{}`, []httpkit.DecodeOption{nil}, 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", "/", iotest.HalfReader(strings.NewReader(tc.body)))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			var p person
			err := httpkit.DecodeJSON(httptest.NewRecorder(), req, &p, tc.opts...)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON(%.60q) = %v; want nil", tc.body, err)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("DecodeJSON(%.60q) = %v (%T); want a *problem.Error", tc.body, err, err)
			}
			if pe.Status != tc.status || pe.Detail != tc.detail {
				t.Errorf("DecodeJSON(%.60q) = %d %q; want %d %q", tc.body, pe.Status, pe.Detail, tc.status, tc.detail)
			}
			if got, _ := pe.Extensions["limit"].(string); got != tc.limit {
				t.Errorf("DecodeJSON(%.60q) limit extension = %q; want %q", tc.body, got, tc.limit)
			}
		})
	}
}

func TestDecodeJSONDecodes(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"Ada","age":36,"address":{"zip":"8000"},"tags":["a","b"]}`))
	req.Header.Set("Content-Type", "application/json")
	var p person
	if err := httpkit.DecodeJSON(httptest.NewRecorder(), req, &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "Ada" || p.Age != 36 || p.Address.Zip != "8000" || len(p.Tags) != 2 {
		t.Errorf("decoded %+v", p)
	}
}

func TestDecodeJSONNotPointer(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	var p person
	err := httpkit.DecodeJSON(httptest.NewRecorder(), req, p)
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Status != 500 || strings.Contains(pe.Detail, "person") {
		t.Errorf("DecodeJSON(non-pointer) = %v; want a 500 without internals in the detail", err)
	}
}

// problemUnmarshaler rejects itself with a 422.
type problemUnmarshaler struct{}

func (*problemUnmarshaler) UnmarshalJSON([]byte) error { return problem.New(422, "not today") }

// opaqueUnmarshaler fails with an internal error.
type opaqueUnmarshaler struct{}

func (*opaqueUnmarshaler) UnmarshalJSON([]byte) error { return errors.New("db password is hunter2") }

func TestDecodeJSONUnmarshalerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		v      any
		status int
		detail string
	}{
		{"problem kept", &struct{ X problemUnmarshaler }{}, 422, "body: not today"},
		{"other hidden", &struct{ X opaqueUnmarshaler }{}, 400, "body: invalid value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", "/", strings.NewReader(`{"X":1}`))
			req.Header.Set("Content-Type", "application/json")
			err := httpkit.DecodeJSON(httptest.NewRecorder(), req, tc.v)
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Status != tc.status || pe.Detail != tc.detail {
				t.Errorf("DecodeJSON = %v; want %d %q", err, tc.status, tc.detail)
			}
		})
	}
}

func TestDecodeJSONProblemResponse(t *testing.T) {
	t.Parallel()
	h := httpkit.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p person
		if err := httpkit.DecodeJSON(w, r, &p); err != nil {
			problem.Write(w, r, err)
		}
	}))
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"age":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "r1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	want := `{"type":"about:blank","title":"Bad Request","status":400,"detail":"body: field \"age\": expected integer, got string","request_id":"r1"}`
	if rec.Code != 400 || rec.Body.String() != want {
		t.Errorf("response %d %s; want 400 %s", rec.Code, rec.Body, want)
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		status      int
		v           any
		wantStatus  int
		wantBody    string
		wantCT      string
		wantErr     bool
		wantProblem bool
	}{
		{"object", "GET", 201, map[string]int{"a": 1}, 201, "{\"a\":1}\n", "application/json", false, false},
		{"html escaped", "GET", 200, "<b>", 200, "\"\\u003cb\\u003e\"\n", "application/json", false, false},
		{"head", "HEAD", 200, map[string]int{"a": 1}, 200, "", "application/json", false, false},
		{"no content", "DELETE", 204, map[string]int{"a": 1}, 204, "", "", false, false},
		{"not modified", "GET", 304, nil, 304, "", "", false, false},
		{"unencodable", "GET", 200, map[string]any{"c": make(chan int)}, 500, "", "application/problem+json", true, true},
		{"MarshalJSON failure", "GET", 200, failingMarshaler{}, 500, "", "application/problem+json", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/", nil)
			req.Header.Set("X-Request-ID", "w1")
			err := httpkit.WriteJSON(rec, req, tc.status, tc.v)
			if (err != nil) != tc.wantErr {
				t.Errorf("WriteJSON err = %v; want error %v", err, tc.wantErr)
			}
			if rec.Code != tc.wantStatus || rec.Header().Get("Content-Type") != tc.wantCT {
				t.Errorf("WriteJSON response %d %q; want %d %q", rec.Code, rec.Header().Get("Content-Type"), tc.wantStatus, tc.wantCT)
			}
			if tc.wantProblem {
				var body map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != 500.0 || body["request_id"] != "w1" {
					t.Errorf("body %s; want a 500 problem with request_id w1", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "chan") || strings.Contains(rec.Body.String(), "nope") {
					t.Errorf("problem body %s reveals the encoding error", rec.Body)
				}
				return
			}
			if rec.Body.String() != tc.wantBody {
				t.Errorf("body %q; want %q", rec.Body, tc.wantBody)
			}
			if cl := rec.Header().Get("Content-Length"); tc.wantBody != "" && cl != strconv.Itoa(len(tc.wantBody)) {
				t.Errorf("Content-Length = %q; want %d", cl, len(tc.wantBody))
			}
		})
	}
}

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("nope") }

func TestWriteJSONWriteError(t *testing.T) {
	t.Parallel()
	w := errWriter{httptest.NewRecorder()}
	if err := httpkit.WriteJSON(w, nil, 200, 1); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("WriteJSON to a failing writer = %v; want io.ErrClosedPipe", err)
	}
}

type errWriter struct{ *httptest.ResponseRecorder }

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
