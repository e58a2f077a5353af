package idempotency_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/idempotency"
)

func benchHandler() http.Handler {
	return idempotency.Middleware(idempotency.Config{Store: idempotency.NewMemoryStore(), Key: clientHeader})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"p_1","status":"paid"}`))
		}))
}

const benchBody = `{"amount":100,"currency":"EUR","to":"acct_123"}`

// BenchmarkReplay measures a retry answered from the MemoryStore.
func BenchmarkReplay(b *testing.B) {
	h := benchHandler()
	h.ServeHTTP(httptest.NewRecorder(), newReq(step{key: "k", body: benchBody}))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newReq(step{key: "k", body: benchBody}))
		if w.Code != http.StatusCreated {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkFirst measures a request with a new key: claim, run, store.
func BenchmarkFirst(b *testing.B) {
	h := benchHandler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r := httptest.NewRequest("POST", "/pay", strings.NewReader(benchBody))
		r.Header.Set(idempotency.Header, "k"+strconv.Itoa(i))
		r.Header.Set("X-Client", "alice")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatal(w.Code)
		}
	}
}
