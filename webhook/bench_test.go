package webhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/webhook"
)

var benchBody = []byte(strings.Repeat(`{"type":"invoice.paid","amount":100}`, 28)) // ~1 KiB

func BenchmarkVerify(b *testing.B) {
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(fakeclock.New(vecTime).Now)
	sig, _ := webhook.Sign(vecSecret, vecID, vecTime, benchBody)
	h := headers(vecID, strconv.FormatInt(vecTime.Unix(), 10), sig)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareReplay measures the refusal of a replayed message:
// read, verify, look the id up.
func BenchmarkMiddlewareReplay(b *testing.B) {
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(fakeclock.New(vecTime).Now)
	h := v.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r0 := signed(b, vecSecret, "m", vecTime, string(benchBody))
	h.ServeHTTP(httptest.NewRecorder(), r0)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/hook", bytes.NewReader(benchBody))
		r.Header = r0.Header
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkMiddlewareAccept measures a fresh message accepted.
func BenchmarkMiddlewareAccept(b *testing.B) {
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(fakeclock.New(vecTime).Now)
	h := v.Middleware(webhook.WithReplayCache(webhook.NewMemoryReplayCache(webhook.MaxIDs(1 << 30))))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signed(b, vecSecret, "m"+strconv.Itoa(i), vecTime, string(benchBody)))
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
