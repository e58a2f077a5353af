package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/chassis-go/chassis/call"
)

// smallBody is the response body of BenchmarkClientGet's server.
const smallBody = `{"id":42,"name":"widget","price":1999,"tags":["a","b"]}`

// newTransport returns a fresh transport configured like
// http.DefaultTransport, so every implementation has its own connection pool
// with the same settings.
func newTransport() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }

// BenchmarkClientGet is one GET to a loopback httptest.Server answering
// 200 with a 55-byte JSON body, read to EOF and closed, one request at a
// time over a kept-alive connection. Nothing fails, so no implementation
// retries; what is measured is the cost of having the policies on.
//
//   - chassis: call.Client.Do with retries (3 attempts), the default retry
//     budget, a per-host breaker, the default 30s per-attempt timeout and
//     the telemetry hooks (global no-op OpenTelemetry providers).
//   - bare: http.Client with no policy at all; the floor.
//   - retryablehttp: hashicorp/go-retryablehttp with its defaults (4
//     retries), its logger off. It has no breaker and no per-attempt
//     timeout.
//   - failsafehttp: failsafe-go's RoundTripper with its HTTP retry policy (2
//     retries) and a circuit breaker (5 consecutive failures, 30s), in an
//     http.Client. No per-attempt timeout.
func BenchmarkClientGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, smallBody)
	}))
	defer srv.Close()
	url := srv.URL + "/items/42"

	run := func(b *testing.B, do func() (*http.Response, error)) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := do()
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if err != nil || n != int64(len(smallBody)) || resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d, %d bytes, err %v", resp.StatusCode, n, err)
			}
		}
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("chassis", func(b *testing.B) {
		c := call.New(
			call.WithTransport(newTransport()),
			call.WithRetry(call.RetryPolicy{}),
			call.WithBreaker(call.BreakerPolicy{}),
		)
		defer c.CloseIdleConnections()
		run(b, func() (*http.Response, error) { return c.Do(req) })
	})
	b.Run("bare", func(b *testing.B) {
		c := &http.Client{Transport: newTransport()}
		defer c.CloseIdleConnections()
		run(b, func() (*http.Response, error) { return c.Do(req) })
	})
	b.Run("retryablehttp", func(b *testing.B) {
		c := retryablehttp.NewClient()
		c.Logger = nil
		c.HTTPClient = &http.Client{Transport: newTransport()}
		defer c.HTTPClient.CloseIdleConnections()
		rreq, err := retryablehttp.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, func() (*http.Response, error) { return c.Do(rreq) })
	})
	b.Run("failsafehttp", func(b *testing.B) {
		cb := circuitbreaker.NewBuilder[*http.Response]().
			HandleIf(func(resp *http.Response, err error) bool {
				return err != nil || resp != nil && resp.StatusCode >= 500
			}).
			WithFailureThreshold(5).
			WithDelay(30 * time.Second).
			Build()
		t := newTransport()
		c := &http.Client{Transport: failsafehttp.NewRoundTripper(t, failsafehttp.NewRetryPolicyBuilder().Build(), cb)}
		defer t.CloseIdleConnections()
		run(b, func() (*http.Response, error) { return c.Do(req) })
	})
}
