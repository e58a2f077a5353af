package httpkit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
)

func TestMuxErrors(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("a routed handler lost http.Flusher")
		}
		if r.PathValue("id") == "0" {
			http.NotFound(w, r) // the handler's own 404 is left alone
			return
		}
		_, _ = w.Write([]byte("note " + r.PathValue("id")))
	})
	mux.HandleFunc("GET /dir/", func(w http.ResponseWriter, r *http.Request) {})
	h := httpkit.RequestID(httpkit.MuxErrors(mux))

	tests := []struct {
		name, method, target string
		status               int
		problem              bool
		allow                string
	}{
		{"routed", "GET", "/notes/7", 200, false, ""},
		{"no route", "GET", "/nope", 404, true, ""},
		{"handler's own 404", "GET", "/notes/0", 404, false, ""},
		{"wrong method", "DELETE", "/notes/7", 405, true, "GET, HEAD"},
		{"redirect to canonical path passes through", "GET", "/dir", 307, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Header.Set("X-Request-ID", "rid-1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("%s %s status = %d; want %d", tc.method, tc.target, rec.Code, tc.status)
			}
			isProblem := rec.Header().Get("Content-Type") == problem.ContentType
			if isProblem != tc.problem {
				t.Fatalf("%s %s Content-Type = %q; problem+json %v, want %v", tc.method, tc.target, rec.Header().Get("Content-Type"), isProblem, tc.problem)
			}
			if tc.problem {
				var body struct {
					Status    int    `json:"status"`
					RequestID string `json:"request_id"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q is not JSON: %v", rec.Body, err)
				}
				if body.Status != tc.status || body.RequestID != "rid-1" {
					t.Errorf("body = %+v; want status %d and request_id rid-1", body, tc.status)
				}
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q; want %q", got, tc.allow)
			}
		})
	}
}

func BenchmarkMuxErrorsRouted(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notes/{id}", func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare mux", mux}, {"MuxErrors", httpkit.MuxErrors(mux)}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/notes/7", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(w, req)
			}
		})
	}
}
