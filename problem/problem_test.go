package problem_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/problem"
)

func TestConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		p      *problem.Error
		status int
		code   problem.Code
	}{
		{"BadRequest", problem.BadRequest("x"), 400, problem.CodeInvalidArgument},
		{"Unauthorized", problem.Unauthorized("x"), 401, problem.CodeUnauthenticated},
		{"Forbidden", problem.Forbidden("x"), 403, problem.CodePermissionDenied},
		{"NotFound", problem.NotFound("x"), 404, problem.CodeNotFound},
		{"Conflict", problem.Conflict("x"), 409, problem.CodeAborted},
		{"PayloadTooLarge", problem.PayloadTooLarge("x"), 413, problem.CodeResourceExhausted},
		{"UnsupportedMediaType", problem.UnsupportedMediaType("x"), 415, problem.CodeInvalidArgument},
		{"TooManyRequests", problem.TooManyRequests("x"), 429, problem.CodeResourceExhausted},
		{"Internal", problem.Internal("x"), 500, problem.CodeInternal},
		{"Unavailable", problem.Unavailable("x"), 503, problem.CodeUnavailable},
		{"Timeout", problem.Timeout("x"), 504, problem.CodeDeadlineExceeded},
		{"New422", problem.New(422, "x"), 422, problem.CodeInvalidArgument},
		{"New418", problem.New(418, "x"), 418, problem.CodeUnknown},
		{"New200", problem.New(200, "x"), 500, problem.CodeInternal},
		{"New999", problem.New(999, "x"), 500, problem.CodeInternal},
		{"ExplicitCode", problem.NotFound("x").WithCode(problem.CodeDataLoss), 404, problem.CodeDataLoss},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.p.Status != tc.status {
				t.Errorf("Status = %d; want %d", tc.p.Status, tc.status)
			}
			if got := tc.p.GRPCCode(); got != tc.code {
				t.Errorf("GRPCCode() = %v; want %v", got, tc.code)
			}
			if tc.p.Detail != "x" {
				t.Errorf("Detail = %q; want %q", tc.p.Detail, "x")
			}
		})
	}
}

func TestImmutable(t *testing.T) {
	t.Parallel()
	base := problem.NotFound("base").With("a", 1)
	cause := errors.New("db: no rows")
	derived := base.With("b", 2).WithDetail("derived").WithType("https://example.com/t").
		WithTitle("T").WithInstance("/x/1").WithCode(problem.CodeDataLoss).Wrap(cause)

	if base.Detail != "base" || base.Type != "" || base.Title != "" || base.Instance != "" ||
		base.Code != problem.CodeOK || base.Unwrap() != nil || len(base.Extensions) != 1 {
		t.Fatalf("base changed: %+v", base)
	}
	if _, ok := base.Extensions["b"]; ok {
		t.Fatal("With modified the receiver's Extensions")
	}
	if derived.Extensions["a"] != 1 || derived.Extensions["b"] != 2 {
		t.Errorf("derived.Extensions = %v; want a=1 b=2", derived.Extensions)
	}
	if !errors.Is(derived, cause) {
		t.Error("errors.Is(derived, cause) = false; want true")
	}
}

func TestFrom(t *testing.T) {
	t.Parallel()
	nf := problem.NotFound("no such note")
	secret := errors.New("pq: password authentication failed for user admin")
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"problem", nf, 404, "no such note"},
		{"wrapped problem", fmt.Errorf("load: %w", nf), 404, "no such note"},
		{"joined problem", errors.Join(secret, nf), 404, "no such note"},
		{"422 stays 422", fmt.Errorf("x: %w", problem.New(422, "bad field")), 422, "bad field"},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 504, "the request took too long"},
		{"canceled", context.Canceled, 499, "the request was cancelled"},
		{"max bytes", &http.MaxBytesError{Limit: 10}, 413, "request body exceeds 10 bytes"},
		{"unknown", secret, 500, "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := problem.From(tc.err)
			if p.Status != tc.status || p.Detail != tc.detail {
				t.Errorf("From(%v) = %d %q; want %d %q", tc.err, p.Status, p.Detail, tc.status, tc.detail)
			}
			if !errors.Is(p, tc.err) && p != tc.err && !errors.Is(tc.err, p) {
				t.Errorf("From(%v) lost the original error", tc.err)
			}
		})
	}
	if problem.From(nil) != nil {
		t.Error("From(nil) != nil")
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		method     string
		reqID      string
		respID     string
		wantStatus int
		wantBody   string
	}{
		{
			name: "not found", err: problem.NotFound("no note 7"), method: "GET",
			wantStatus: 404,
			wantBody:   `{"type":"about:blank","title":"Not Found","status":404,"detail":"no note 7"}`,
		},
		{
			name: "internal hides cause", err: errors.New("secret dsn=postgres://u:pw@h"), method: "GET",
			wantStatus: 500,
			wantBody:   `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error"}`,
		},
		{
			name: "nil error", err: nil, method: "GET", wantStatus: 500,
			wantBody: `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error"}`,
		},
		{
			name: "extensions flattened, reserved kept",
			err: problem.TooManyRequests("slow down").With("status", 200).With("title", "ok").
				With("retry_after", 3).With("zeta", []int{1}).With("request_id", "forged").
				With("bad", make(chan int)).WithInstance("/notes"),
			method: "GET", respID: "abc-123", wantStatus: 429,
			wantBody: `{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down","instance":"/notes","retry_after":3,"zeta":[1],"request_id":"abc-123"}`,
		},
		{
			name: "request header id", err: problem.BadRequest("x"), method: "GET", reqID: "from-client",
			wantStatus: 400,
			wantBody:   `{"type":"about:blank","title":"Bad Request","status":400,"detail":"x","request_id":"from-client"}`,
		},
		{
			name: "invalid request id dropped", err: problem.BadRequest("x"), method: "GET", reqID: "<script>",
			wantStatus: 400,
			wantBody:   `{"type":"about:blank","title":"Bad Request","status":400,"detail":"x"}`,
		},
		{
			name: "client closed", err: context.Canceled, method: "GET", wantStatus: 499,
			wantBody: `{"type":"about:blank","title":"Client Closed Request","status":499,"detail":"the request was cancelled"}`,
		},
		{name: "head has no body", err: problem.NotFound("x"), method: "HEAD", wantStatus: 404, wantBody: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, "/notes?token=secret", nil)
			if tc.reqID != "" {
				r.Header.Set("X-Request-ID", tc.reqID)
			}
			w := httptest.NewRecorder()
			if tc.respID != "" {
				w.Header().Set("X-Request-ID", tc.respID)
			}
			problem.Write(w, r, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d; want %d", w.Code, tc.wantStatus)
			}
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type = %q; want %q", ct, problem.ContentType)
			}
			if got := w.Body.String(); got != tc.wantBody {
				t.Errorf("body =\n%s\nwant\n%s", got, tc.wantBody)
			}
		})
	}
}

func TestMarshalJSONRoundTrip(t *testing.T) {
	t.Parallel()
	p := problem.Conflict("version mismatch").WithType("https://errors.example.com/conflict").With("current", 3)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", b, err)
	}
	want := map[string]any{"type": "https://errors.example.com/conflict", "title": "Conflict", "status": 409.0, "detail": "version mismatch", "current": 3.0}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("Marshal = %v; want %v", m, want)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	p := problem.NotFound("no note").Wrap(io.EOF)
	if got, want := p.Error(), "problem: 404 Not Found: no note: EOF"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	if got := (&problem.Error{}).Error(); !strings.HasPrefix(got, "problem: 500") {
		t.Errorf("zero Error() = %q; want 500", got)
	}
}

func TestCodeMapping(t *testing.T) {
	t.Parallel()
	for c := problem.CodeOK; c <= problem.CodeUnauthenticated; c++ {
		if c.String() == "" || strings.HasPrefix(c.String(), "CODE(") {
			t.Errorf("Code(%d).String() = %q", c, c.String())
		}
		st := c.HTTPStatus()
		if c != problem.CodeOK && (st < 400 || st > 599) {
			t.Errorf("Code(%v).HTTPStatus() = %d; want 4xx/5xx", c, st)
		}
	}
	if got := problem.Code(99).String(); got != "CODE(99)" {
		t.Errorf("Code(99).String() = %q", got)
	}
	// Round trips for codes with a one-to-one status.
	for _, c := range []problem.Code{problem.CodeNotFound, problem.CodeUnauthenticated, problem.CodePermissionDenied,
		problem.CodeResourceExhausted, problem.CodeUnavailable, problem.CodeDeadlineExceeded, problem.CodeUnimplemented, problem.CodeCanceled} {
		if got := problem.CodeForStatus(c.HTTPStatus()); got != c {
			t.Errorf("CodeForStatus(%v.HTTPStatus()) = %v", c, got)
		}
	}
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"": false, "a": true, "A-b_c.9": true, strings.Repeat("x", 128): true, strings.Repeat("x", 129): false,
		"a b": false, "a/b": false, "é": false, "a\n": false,
	} {
		if got := problem.ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%q) = %v; want %v", id, got, want)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	p := problem.TooManyRequests("slow down").With("retry_after", 3)
	r := httptest.NewRequest("GET", "/", nil)
	w := discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		problem.Write(w, r, p)
	}
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
