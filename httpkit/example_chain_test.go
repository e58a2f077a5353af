package httpkit_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/chassis-go/chassis/httpkit"
)

func ExampleChain() {
	// A text logger without the varying time and duration, for the example.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" || a.Key == "stack" {
				return slog.Attr{}
			}
			return a
		},
	}))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "user "+r.PathValue("id"))
	})
	mux.HandleFunc("GET /crash", func(w http.ResponseWriter, r *http.Request) {
		panic("nil map")
	})
	// The recommended order (see the package doc): Recovery innermost.
	handler := httpkit.Chain(
		httpkit.RequestID,
		httpkit.Tracing(),
		httpkit.Logging(logger),
		httpkit.Recovery(logger),
	)(mux)

	for _, target := range []string{"/users/42?token=secret", "/crash"} {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("X-Request-ID", "req-1")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// level=INFO msg="http request" method=GET route=/users/{id} path=/users/42 client=192.0.2.1 status=200 bytes=7 request_id=req-1
	// 200 user 42
	// level=ERROR msg="http handler panic" panic="nil map" method=GET path=/crash route=/crash request_id=req-1
	// level=ERROR msg="http request" method=GET route=/crash path=/crash client=192.0.2.1 status=500 bytes=114 request_id=req-1
	// 500 {"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error","request_id":"req-1"}
}
