package problem_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/problem"
)

func TestWriteRequestIDSource(t *testing.T) {
	tests := []struct {
		name       string
		ctxID      string
		respHeader string
		reqHeader  string
		want       string
	}{
		{"context wins over both headers", "ctx-1", "resp-1", "req-1", "ctx-1"},
		{"response header without context", "", "resp-1", "req-1", "resp-1"},
		{"request header last", "", "", "req-1", "req-1"},
		{"invalid header ignored", "", "bad id!", "", ""},
		{"none", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.ctxID != "" {
				var info *reqmeta.Info
				r, info = reqmeta.Ensure(r)
				info.SetRequestID(tc.ctxID)
			}
			if tc.reqHeader != "" {
				r.Header.Set(problem.RequestIDHeader, tc.reqHeader)
			}
			w := httptest.NewRecorder()
			if tc.respHeader != "" {
				w.Header().Set(problem.RequestIDHeader, tc.respHeader)
			}
			problem.Write(w, r, problem.NotFound("no such note"))
			var body struct {
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body.RequestID != tc.want {
				t.Errorf("request_id = %q; want %q", body.RequestID, tc.want)
			}
		})
	}
}

func TestWriteNilIs500(t *testing.T) {
	w := httptest.NewRecorder()
	problem.Write(w, httptest.NewRequest(http.MethodGet, "/", nil), nil)
	if w.Code != http.StatusInternalServerError {
		t.Errorf("Write(nil) status = %d; want 500", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Write(nil) Content-Type = %q; want %q", ct, problem.ContentType)
	}
}
