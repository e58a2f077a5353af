package httpkit_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/httpkit"
)

// middlewares returns each middleware of the package, and the full chain.
func middlewares(logger *slog.Logger) []struct {
	name string
	mw   func(http.Handler) http.Handler
} {
	return []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{
		{"RequestID", httpkit.RequestID},
		{"Logging", httpkit.Logging(logger)},
		{"Recovery", httpkit.Recovery(logger)},
		{"Tracing", httpkit.Tracing()},
		{"Chain", httpkit.Chain(httpkit.Recovery(logger), httpkit.RequestID, httpkit.Tracing(), httpkit.Logging(logger))},
	}
}

// readFromRecorder records whether ReadFrom was used.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	used bool
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.used = true
	return io.Copy(r.ResponseRecorder, src)
}

func TestWritersKeepInterfaces(t *testing.T) {
	t.Parallel()
	for _, m := range middlewares(slog.New(slog.DiscardHandler)) {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			t.Run("Flush", func(t *testing.T) {
				rec := httptest.NewRecorder()
				var err error
				m.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					err = http.NewResponseController(w).Flush()
				})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if err != nil || !rec.Flushed {
					t.Errorf("ResponseController.Flush() = %v, recorder flushed = %v; want nil, true", err, rec.Flushed)
				}
			})
			t.Run("ReadFrom", func(t *testing.T) {
				rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
				m.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					// A reader without WriteTo, so io.Copy must use w's ReadFrom.
					_, _ = io.Copy(w, struct{ io.Reader }{strings.NewReader("abc")})
				})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if !rec.used || rec.Body.String() != "abc" {
					t.Errorf("ReadFrom used = %v, body %q; want true, abc", rec.used, rec.Body)
				}
			})
			t.Run("real connection", func(t *testing.T) {
				// Hijack, SetWriteDeadline and EnableFullDuplex reach the
				// server's writer through Unwrap.
				errs := make(chan error, 3)
				srv := httptest.NewServer(m.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rc := http.NewResponseController(w)
					errs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
					errs <- rc.EnableFullDuplex()
					conn, buf, err := rc.Hijack()
					errs <- err
					if err != nil {
						return
					}
					defer conn.Close()
					_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
					_ = buf.Flush()
				})))
				defer srv.Close()
				resp, err := srv.Client().Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, what := range []string{"SetWriteDeadline", "EnableFullDuplex", "Hijack"} {
					if err := <-errs; err != nil {
						t.Errorf("%s through %s = %v; want nil", what, m.name, err)
					}
				}
				if string(body) != "hijacked" {
					t.Errorf("body %q; want hijacked", body)
				}
			})
		})
	}
}

// TestServerSentEvents checks that a flushed event reaches the client while
// the handler is still running, through the whole chain.
func TestServerSentEvents(t *testing.T) {
	t.Parallel()
	logs := &capture{}
	logger := slog.New(logs)
	release := make(chan struct{})
	chain := httpkit.Chain(httpkit.RequestID, httpkit.Logging(logger), httpkit.Recovery(logger), httpkit.Tracing())
	srv := httptest.NewServer(chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush() = %v", err)
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: 2\n\n")
	})))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: 1\n" {
		t.Fatalf("first event = %q, %v; want it before the handler returns", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: 2\n\n" {
		t.Errorf("rest of stream = %q", rest)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on the event stream")
	}
}
