package httpkit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		inbound string
		keep    bool
	}{
		{"none", "", false},
		{"valid", "abc-123_X.y", true},
		{"max length", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
		{"space", "abc def", false},
		{"injection", "abc\r\nSet-Cookie: x=1", false},
		{"unicode", "abcé", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var inCtx, inHeader string
			h := httpkit.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = httpkit.RequestIDFrom(r.Context())
				inHeader = w.Header().Get("X-Request-ID") // set before next runs
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tc.inbound != "" {
				req.Header["X-Request-Id"] = []string{tc.inbound}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-ID")
			if tc.keep && got != tc.inbound {
				t.Errorf("X-Request-ID = %q; want the inbound %q", got, tc.inbound)
			}
			if !tc.keep && !generatedID.MatchString(got) {
				t.Errorf("X-Request-ID = %q; want 32 generated hex digits", got)
			}
			if inCtx != got || inHeader != got {
				t.Errorf("RequestIDFrom = %q, header seen by next = %q; want both %q", inCtx, inHeader, got)
			}
		})
	}
}

func TestRequestIDUnique(t *testing.T) {
	t.Parallel()
	h := httpkit.RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := map[string]bool{}
	for range 1000 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		id := rec.Header().Get("X-Request-ID")
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestRequestIDNestedKeepsOuter(t *testing.T) {
	t.Parallel()
	var inner string
	h := httpkit.Chain(httpkit.RequestID, httpkit.RequestID)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = httpkit.RequestIDFrom(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Get("X-Request-ID"); got != inner || inner == "" {
		t.Errorf("header %q, inner context %q; want one id", got, inner)
	}
}

func TestRequestIDInProblem(t *testing.T) {
	t.Parallel()
	h := httpkit.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.NotFound("no such user"))
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Request-ID", "req-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.RequestID != "req-1" {
		t.Errorf("problem body %s: request_id = %q, %v; want req-1", rec.Body, body.RequestID, err)
	}
}

func TestRequestIDFromEmpty(t *testing.T) {
	t.Parallel()
	if got := httpkit.RequestIDFrom(t.Context()); got != "" {
		t.Errorf("RequestIDFrom(no id) = %q; want empty", got)
	}
}
