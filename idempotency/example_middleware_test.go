package idempotency_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/chassis-go/chassis/idempotency"
)

func ExampleMiddleware() {
	idem := idempotency.Middleware(idempotency.Config{
		Store: idempotency.NewMemoryStore(),
		Key:   func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil }, // the authenticated user
	})
	payments := 0
	mux := http.NewServeMux()
	mux.Handle("POST /payments", idem(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payments++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "payment %d", payments)
	})))

	for range 2 { // the client retries after a timeout
		r := httptest.NewRequest("POST", "/payments", strings.NewReader(`{"amount": 100}`))
		r.Header.Set("X-User", "alice")
		r.Header.Set("Idempotency-Key", `"8e03978e-40d5-43e8-bc93-6894a57f9324"`)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Printf("%d %s replayed=%s\n", w.Code, w.Body, w.Header().Get("Idempotent-Replayed"))
	}
	fmt.Println("payments made:", payments)
	// Output:
	// 201 payment 1 replayed=
	// 201 payment 1 replayed=true
	// payments made: 1
}
