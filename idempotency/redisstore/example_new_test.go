package redisstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/idempotency/redisstore"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // stands in for the Redis every replica shares
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	idem := idempotency.Middleware(idempotency.Config{
		Store: redisstore.New(rdb, redisstore.WithPrefix("payments:idem:")),
		Key:   func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
	})
	h := idem(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "payment 1")
	}))
	for range 2 {
		r := httptest.NewRequest("POST", "/payments", strings.NewReader(`{"amount": 100}`))
		r.Header.Set("X-User", "alice")
		r.Header.Set("Idempotency-Key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d %s replayed=%s\n", w.Code, w.Body, w.Header().Get("Idempotent-Replayed"))
	}
	// Output:
	// 201 payment 1 replayed=
	// 201 payment 1 replayed=true
}
