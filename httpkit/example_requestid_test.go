package httpkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/chassis-go/chassis/httpkit"
)

func ExampleRequestID() {
	var seen string // what the handler sees
	handler := httpkit.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpkit.RequestIDFrom(r.Context())
	}))

	// A valid inbound id is kept.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Request-ID", "edge-7f3a")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(seen, rec.Header().Get("X-Request-ID"))

	// An invalid one is replaced by 32 random hex digits.
	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Request-ID", "<script>")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	id := rec.Header().Get("X-Request-ID")
	fmt.Println(len(id), id == seen)
	// Output:
	// edge-7f3a edge-7f3a
	// 32 true
}
