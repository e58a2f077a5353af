package guard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/overload"
)

// ExampleShed mounts load shedding in front of an API whose limit is
// reached: the API request gets a 503 at once, the exempt probe still
// answers.
func ExampleShed() {
	limiter := overload.NewLimiter(overload.Config{MaxQueue: 100}) // Gradient, 1..1000
	shed := guard.Shed(guard.ShedConfig{
		Limiter: limiter,
		Priority: func(r *http.Request) overload.Priority {
			p, _ := overload.ParsePriority(r.Header.Get("X-Priority")) // set by your gateway
			return p
		},
		Exempt: func(r *http.Request) bool { return r.URL.Path == "/readyz" || r.URL.Path == "/metrics" },
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	h := shed(mux)

	// Take the whole limit, as a flood of slow requests would.
	var held []*overload.Ticket
	for {
		t, err := limiter.Acquire(context.Background(), overload.Critical)
		if err != nil {
			break
		}
		held = append(held, t)
	}
	for _, path := range []string{"/api", "/readyz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code, rec.Header().Get("Retry-After"))
	}
	for _, t := range held {
		t.Done(overload.Ignored)
	}
	// Output:
	// /api 503 1
	// /readyz 200
}
