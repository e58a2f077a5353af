package guard_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/problem"
)

// mwEcho reads the whole body and answers 200 with its length; a failed
// read gets the handler's own 400, which MaxBody must turn into a 413.
func mwEcho(calls *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			problem.Write(w, r, problem.BadRequest("cannot read the body"))
			return
		}
		fmt.Fprintf(w, "read %d bytes", len(b))
	}
}

// mwUnknownLength hides a reader's length so that requests carry it chunked.
type mwUnknownLength struct{ io.Reader }

func TestMaxBodyPanicsOnMisuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"negative n", func() { guard.MaxBody(-1) }, "guard.MaxBody: n is -1"},
		{"nil next", func() { guard.MaxBody(1)(nil) }, "guard.MaxBody: next handler is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, _ := mwRecover(tc.f).(string); !strings.HasPrefix(s, tc.want) {
				t.Errorf("panic %q; want a message starting %q", s, tc.want)
			}
		})
	}
}

func TestMaxBodyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit       int64
		size        int
		chunked     bool
		want        int
		wantHandler bool // whether next runs
	}{
		{limit: 10, size: 10, want: http.StatusOK, wantHandler: true},
		{limit: 10, size: 11, want: http.StatusRequestEntityTooLarge},
		{limit: 10, size: 10, chunked: true, want: http.StatusOK, wantHandler: true},
		{limit: 10, size: 11, chunked: true, want: http.StatusRequestEntityTooLarge, wantHandler: true},
		{limit: 10, size: 5000, chunked: true, want: http.StatusRequestEntityTooLarge, wantHandler: true},
		{limit: 0, size: 0, want: http.StatusOK, wantHandler: true},
		{limit: 0, size: 1, want: http.StatusRequestEntityTooLarge},
		{limit: 0, size: 1, chunked: true, want: http.StatusRequestEntityTooLarge, wantHandler: true},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("limit=%d,size=%d,chunked=%v", tc.limit, tc.size, tc.chunked)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Over the network, so that chunked encoding and net/http's own
			// body handling are real.
			var calls atomic.Int64
			srv := mwServer(t, guard.MaxBody(tc.limit)(mwEcho(&calls)), false, nil)
			var body io.Reader = strings.NewReader(strings.Repeat("x", tc.size))
			if tc.chunked {
				body = mwUnknownLength{body}
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.chunked {
				req.ContentLength = -1
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("MaxBody(%d) with %d bytes = %d %s; want %d", tc.limit, tc.size, resp.StatusCode, got, tc.want)
			}
			if tc.want == http.StatusRequestEntityTooLarge {
				if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
					t.Errorf("413 Content-Type = %q; want %q", ct, problem.ContentType)
				}
				if want := fmt.Sprintf("larger than %d bytes", tc.limit); !strings.Contains(string(got), want) {
					t.Errorf("413 body = %s; want it to contain %q", got, want)
				}
			}
			if ran := calls.Load() > 0; ran != tc.wantHandler {
				t.Errorf("next ran = %v; want %v", ran, tc.wantHandler)
			}
		})
	}
}

func TestMaxBodyReplacesHandlerResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"handler writes its own error", func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err == nil {
				t.Error("ReadAll succeeded; want the limit error")
			}
			w.Header().Set("X-Handler", "1")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			for _, s := range []string{"handler ", "error"} {
				if n, err := io.WriteString(w, s); n != len(s) || err != nil {
					t.Errorf("discarded Write = %d, %v; want %d, nil", n, err, len(s))
				}
			}
			http.NewResponseController(w).Flush()
		}},
		{"handler writes without a status", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			io.WriteString(w, "partial data")
		}},
		{"handler writes nothing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", "1")
			io.ReadAll(r.Body)
		}},
		{"handler uses ReadFrom", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.(io.ReaderFrom).ReadFrom(strings.NewReader("copied"))
		}},
		{"handler checks errors.As", func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			if mbe, ok := errors.AsType[*http.MaxBytesError](err); !ok || mbe.Limit != 4 {
				t.Errorf("ReadAll error = %v; want *http.MaxBytesError with Limit 4", err)
			}
			problem.Write(w, r, err)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := guard.MaxBody(4)(tc.handler)
			req := httptest.NewRequest(http.MethodPost, "/", mwUnknownLength{strings.NewReader("too long")})
			req.ContentLength = -1
			rec := httptest.NewRecorder()
			rec.Header().Set("X-Outer", "kept")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d; want 413", rec.Code)
			}
			if !strings.Contains(rec.Body.String(), `"status":413`) || strings.Contains(rec.Body.String(), "handler") ||
				strings.Contains(rec.Body.String(), "partial") || strings.Contains(rec.Body.String(), "copied") {
				t.Errorf("body = %s; want only the 413 problem", rec.Body)
			}
			if rec.Header().Get("X-Handler") != "" || rec.Header().Get("X-Outer") != "kept" {
				t.Errorf("headers = %v; want the outer X-Outer kept and the handler's X-Handler dropped", rec.Header())
			}
		})
	}
}

func TestMaxBodyLeavesStartedResponse(t *testing.T) {
	t.Parallel()
	h := guard.MaxBody(4)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "started;")
		_, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "err=%v", err != nil)
	}))
	req := httptest.NewRequest(http.MethodPost, "/", mwUnknownLength{strings.NewReader("too long")})
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "started;err=true" {
		t.Errorf("response = %d %q; want 200 %q", rec.Code, rec.Body, "started;err=true")
	}
}

func TestMaxBodyResponseController(t *testing.T) {
	t.Parallel()
	var flushErr error
	var unwrapped http.ResponseWriter
	h := guard.MaxBody(100)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		flushErr = http.NewResponseController(w).Flush()
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
			unwrapped = u.Unwrap()
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("body")))
	if flushErr != nil || !rec.Flushed {
		t.Errorf("Flush = %v, flushed = %v; want nil, true", flushErr, rec.Flushed)
	}
	if unwrapped != rec {
		t.Errorf("Unwrap() = %v; want the recorder", unwrapped)
	}
}

func TestMaxBodyMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := guard.MaxBody(2, guard.WithMeterProvider(mp))(mwEcho(nil))
	for _, body := range []string{"ok", "declared too long", "chunked too long"} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		if strings.HasPrefix(body, "chunked") {
			req = httptest.NewRequest(http.MethodPost, "/", mwUnknownLength{strings.NewReader(body)})
			req.ContentLength = -1
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if got := mwCounter(t, reader, "chassis.guard.rejections", "chassis.guard", "maxbody"); got != 2 {
		t.Errorf("chassis.guard.rejections{chassis.guard=maxbody} = %d; want 2", got)
	}
}

func BenchmarkMaxBody(b *testing.B) {
	h := guard.MaxBody(1 << 20)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}))
	w := &mwDiscard{h: http.Header{}}
	body := strings.NewReader(strings.Repeat("x", 1024))
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Body, req.ContentLength = io.NopCloser(body), 1024
	b.ReportAllocs()
	for b.Loop() {
		body.Seek(0, io.SeekStart)
		h.ServeHTTP(w, req)
	}
}

// TestMaxBodyPublishesRoute: the route a ServeMux inside MaxBody matched
// reaches the middleware outside through the request metadata, with a body
// or without.
func TestMaxBodyPublishesRoute(t *testing.T) {
	t.Parallel()
	for _, body := range []io.Reader{nil, strings.NewReader("abc")} {
		mux := http.NewServeMux()
		mux.Handle("POST /notes", mwEcho(nil))
		h := guard.MaxBody(8)(mux)
		r, info := reqmeta.Ensure(httptest.NewRequest(http.MethodPost, "/notes", body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Fatalf("MaxBody = %d; want 200", rec.Code)
		}
		if got := info.Pattern(r); got != "POST /notes" {
			t.Errorf("body %v: published route = %q; want %q", body != nil, got, "POST /notes")
		}
		// A request without a body is passed on as it is (a mux inside
		// sets its Pattern, as without MaxBody); one with a body is copied.
		if body != nil && r.Pattern != "" {
			t.Errorf("caller's r.Pattern = %q; want it untouched", r.Pattern)
		}
	}
}
