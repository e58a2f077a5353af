package call_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
)

// BenchmarkDo compares Client.Do with a bare http.Client on the same
// loopback server, one request at a time. The _deadline variants send a
// request whose context has a 10s deadline, shorter than the default
// per-attempt timeout, as a request from a server handler usually has.
func BenchmarkDo(b *testing.B) {
	s := newServer(b, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	run := func(b *testing.B, ctx context.Context, do func(*http.Request) (*http.Response, error)) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/items?page=2", nil)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	deadline := func(b *testing.B) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b.Cleanup(cancel)
		return ctx
	}
	b.Run("bare", func(b *testing.B) {
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		run(b, context.Background(), hc.Do)
	})
	b.Run("call_defaults", func(b *testing.B) {
		c := call.New()
		defer c.CloseIdleConnections()
		run(b, context.Background(), c.Do)
	})
	b.Run("call_breaker", func(b *testing.B) {
		c := call.New(call.WithBreaker(call.BreakerPolicy{}))
		defer c.CloseIdleConnections()
		run(b, context.Background(), c.Do)
	})
	b.Run("bare_deadline", func(b *testing.B) {
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		run(b, deadline(b), hc.Do)
	})
	b.Run("call_no_timeout", func(b *testing.B) {
		c := call.New(call.WithTimeout(0))
		defer c.CloseIdleConnections()
		run(b, context.Background(), c.Do)
	})
	b.Run("call_defaults_deadline", func(b *testing.B) {
		c := call.New()
		defer c.CloseIdleConnections()
		run(b, deadline(b), c.Do)
	})
}

// BenchmarkDoStub is Client.Do against an in-memory base transport that
// answers 200 with no body, so that only the Client's own work and
// allocations are measured: bare is an http.Client on the same stub.
func BenchmarkDoStub(b *testing.B) {
	stub := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: make(http.Header), Body: http.NoBody, Request: r}, nil
	})
	run := func(b *testing.B, do func(*http.Request) (*http.Response, error)) {
		req, _ := http.NewRequest(http.MethodGet, "http://svc.test/items", nil)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := do(req)
			if err != nil {
				b.Fatal(err)
			}
			_ = resp.Body.Close()
		}
	}
	b.Run("bare", func(b *testing.B) {
		run(b, (&http.Client{Transport: stub}).Do)
	})
	b.Run("call_one_attempt", func(b *testing.B) {
		run(b, call.New(call.WithTransport(stub), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}), call.WithTimeout(0)).Do)
	})
	b.Run("call_one_attempt_breaker", func(b *testing.B) {
		run(b, call.New(call.WithTransport(stub), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}), call.WithTimeout(0),
			call.WithBreaker(call.BreakerPolicy{})).Do)
	})
	b.Run("call_defaults", func(b *testing.B) {
		run(b, call.New(call.WithTransport(stub)).Do)
	})
}
