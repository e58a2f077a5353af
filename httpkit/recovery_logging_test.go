package httpkit_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
)

// TestRecoveryInsideLogging: Recovery mounted right inside Logging (where it
// shares Logging's writer) answers a panic before the response started with
// a 500 problem that Logging logs as 500, and aborts one that started, which
// Logging logs as a panic with the status that was sent.
func TestRecoveryInsideLogging(t *testing.T) {
	t.Parallel()
	t.Run("before the response", func(t *testing.T) {
		t.Parallel()
		c := &capture{}
		l := slog.New(c)
		h := httpkit.Chain(httpkit.Logging(l), httpkit.Recovery(l))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("boom")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != problem.ContentType {
			t.Errorf("response %d %q; want a 500 problem", rec.Code, rec.Header().Get("Content-Type"))
		}
		access := findRecord(t, c, "http request")
		if got := access.attrs["status"].Int64(); got != 500 {
			t.Errorf("logged status %d; want 500", got)
		}
		if _, ok := access.attrs["panic"]; ok {
			t.Errorf("access line has panic=true; Recovery handled the panic")
		}
		findRecord(t, c, "http handler panic")
	})
	t.Run("after the response started", func(t *testing.T) {
		t.Parallel()
		c := &capture{}
		l := slog.New(c)
		h := httpkit.Chain(httpkit.Logging(l), httpkit.Recovery(l))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "part")
			panic("boom")
		}))
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				v := recover()
				if err, ok := v.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
					t.Errorf("panic %v; want http.ErrAbortHandler", v)
				}
			}()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		}()
		if rec.Code != http.StatusAccepted || rec.Body.String() != "part" {
			t.Errorf("response %d %q; want the partial 202 untouched", rec.Code, rec.Body)
		}
		access := findRecord(t, c, "http request")
		if got := access.attrs["status"].Int64(); got != http.StatusAccepted {
			t.Errorf("logged status %d; want 202", got)
		}
		if !access.attrs["panic"].Bool() || access.level != slog.LevelError {
			t.Errorf("access line level %v, panic %v; want Error and true", access.level, access.attrs["panic"])
		}
		findRecord(t, c, "http handler panic")
	})
}

func findRecord(t *testing.T, c *capture, msg string) captured {
	t.Helper()
	for _, r := range c.all() {
		if r.msg == msg {
			return r
		}
	}
	t.Fatalf("no %q record in %v", msg, c.all())
	return captured{}
}
