package problem_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/problem"
)

// TestPreparedMatchesWrite: a Prepared sends byte for byte what Write sends
// for the same error (status, headers, body), whatever the request id source
// and method.
func TestPreparedMatchesWrite(t *testing.T) {
	ext := problem.TooManyRequests("slow down")
	ext.Instance = "/items/1"
	ext.Extensions = map[string]any{"limit": 10, "zz": "é", "bad\xff": 1, "fn": func() {}, "title": "x"}
	errs := map[string]error{
		"429":        problem.TooManyRequests("rate limit exceeded"),
		"extensions": ext,
		"wrapped":    fmt.Errorf("outer: %w", problem.NotFound("no such note")),
		"plain":      errors.New("boom"),
		"nil":        nil,
		"maxbytes":   &http.MaxBytesError{Limit: 10},
	}
	ids := []struct {
		name           string
		ctx, resp, req string
	}{
		{"none", "", "", ""},
		{"context", "ctx-1", "resp-1", "req-1"},
		{"context needing escapes", "a\"b\\c\x01é", "", ""},
		{"response header", "", "resp-1", "req-1"},
		{"request header", "", "", "req-1"},
		{"invalid header", "", "bad id!", ""},
	}
	for ename, err := range errs {
		prep := problem.Prepare(err)
		for _, id := range ids {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				t.Run(ename+"/"+id.name+"/"+method, func(t *testing.T) {
					run := func(write func(http.ResponseWriter, *http.Request)) *httptest.ResponseRecorder {
						r := httptest.NewRequest(method, "/", nil)
						if id.ctx != "" {
							var info *reqmeta.Info
							r, info = reqmeta.Ensure(r)
							info.SetRequestID(id.ctx)
						}
						if id.req != "" {
							r.Header.Set(problem.RequestIDHeader, id.req)
						}
						w := httptest.NewRecorder()
						w.Header().Set("Content-Encoding", "gzip")
						w.Header().Set("X-Other", "kept")
						if id.resp != "" {
							w.Header().Set(problem.RequestIDHeader, id.resp)
						}
						write(w, r)
						return w
					}
					want := run(func(w http.ResponseWriter, r *http.Request) { problem.Write(w, r, err) })
					got := run(prep.Write)
					if got.Code != want.Code {
						t.Errorf("status %d; Write sends %d", got.Code, want.Code)
					}
					if !reflect.DeepEqual(got.Header(), want.Header()) {
						t.Errorf("headers %v; Write sends %v", got.Header(), want.Header())
					}
					if got.Body.String() != want.Body.String() {
						t.Errorf("body %s; Write sends %s", got.Body, want.Body)
					}
				})
			}
		}
	}
}

// TestPreparedSnapshot: a Prepared does not see later changes to its error,
// and its header values are not shared between responses.
func TestPreparedSnapshot(t *testing.T) {
	e := problem.TooManyRequests("rate limit exceeded")
	prep := problem.Prepare(e)
	e.Detail = "changed"
	w1 := httptest.NewRecorder()
	prep.Write(w1, httptest.NewRequest(http.MethodGet, "/", nil))
	want := httptest.NewRecorder()
	problem.Write(want, httptest.NewRequest(http.MethodGet, "/", nil), problem.TooManyRequests("rate limit exceeded"))
	if w1.Body.String() != want.Body.String() {
		t.Errorf("body %s; want %s", w1.Body, want.Body)
	}
	w1.Header()["Content-Type"][0] = "text/plain"
	w2 := httptest.NewRecorder()
	prep.Write(w2, httptest.NewRequest(http.MethodGet, "/", nil))
	if ct := w2.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type %q after a change to another response's header; want %q", ct, problem.ContentType)
	}
}

func BenchmarkPreparedWrite(b *testing.B) {
	prep := problem.Prepare(problem.TooManyRequests("rate limit exceeded"))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r, info := reqmeta.Ensure(r)
	info.SetRequestID("0123456789abcdef0123456789abcdef")
	w := &headerDiscardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		prep.Write(w, r)
	}
}

// headerDiscardWriter discards the body and keeps a header map that the
// benchmark clears between responses.
type headerDiscardWriter struct{ h http.Header }

func (w *headerDiscardWriter) Header() http.Header         { return w.h }
func (w *headerDiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerDiscardWriter) WriteHeader(int)             {}
