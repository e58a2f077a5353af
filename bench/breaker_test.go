package bench

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/call"
)

// stubTransport answers every request with a canned, bodiless response of
// its current status, without any I/O. Each call allocates one
// *http.Response and its header map, the same for every implementation.
type stubTransport struct{ status atomic.Int32 }

func newStubTransport(status int) *stubTransport {
	t := &stubTransport{}
	t.status.Store(int32(status))
	return t
}

func (t *stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: int(t.status.Load()),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  make(http.Header),
		Body:    http.NoBody,
		Request: req,
	}, nil
}

// errServer turns a 5xx into an error for the breakers that only judge
// errors (gobreaker).
var errServer = errors.New("server error")

// Breaker settings shared by every implementation: open after 5 consecutive
// failures, stay open 30s (far longer than a benchmark).
const (
	breakerFailures = 5
	breakerOpenFor  = 30 * time.Second
)

// breakerImpl is one implementation of "send through a circuit breaker".
type breakerImpl struct {
	name    string
	do      func(stub *stubTransport) func(*http.Request) (*http.Response, error)
	errOpen error // what do returns (wrapped) while the breaker is open
}

// breakerImpls lists the implementations:
//
//   - chassis: call.Client.Do with WithBreaker only (one attempt, no
//     per-attempt timeout, global no-op OpenTelemetry providers). It includes
//     everything Do does besides the breaker: http.Client's redirect loop,
//     the per-attempt shallow request copy and the telemetry hooks. It is an
//     upper bound on the breaker's cost.
//   - chassis_rt: the same Client's Transport().RoundTrip, without
//     http.Client.Do around it: a tighter upper bound.
//   - gobreaker: sony/gobreaker/v2 CircuitBreaker.Execute around
//     stub.RoundTrip, with a 5xx turned into an error.
//   - failsafe: failsafe-go circuitbreaker (HandleIf err or 5xx) through
//     failsafe.With(cb).Get around stub.RoundTrip.
func breakerImpls() []breakerImpl {
	chassisClient := func(stub *stubTransport) *call.Client {
		return call.New(
			call.WithTransport(stub),
			call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
			call.WithTimeout(0),
			call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: breakerFailures, OpenTimeout: breakerOpenFor}),
		)
	}
	return []breakerImpl{
		{"chassis", func(stub *stubTransport) func(*http.Request) (*http.Response, error) {
			return chassisClient(stub).Do
		}, call.ErrCircuitOpen},
		{"chassis_rt", func(stub *stubTransport) func(*http.Request) (*http.Response, error) {
			return chassisClient(stub).Transport().RoundTrip
		}, call.ErrCircuitOpen},
		{"gobreaker", func(stub *stubTransport) func(*http.Request) (*http.Response, error) {
			cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
				Timeout:     breakerOpenFor,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerFailures },
			})
			return func(req *http.Request) (*http.Response, error) {
				return cb.Execute(func() (*http.Response, error) {
					resp, err := stub.RoundTrip(req)
					if err == nil && resp.StatusCode >= 500 {
						return resp, errServer
					}
					return resp, err
				})
			}
		}, gobreaker.ErrOpenState},
		{"failsafe", func(stub *stubTransport) func(*http.Request) (*http.Response, error) {
			cb := circuitbreaker.NewBuilder[*http.Response]().
				HandleIf(func(resp *http.Response, err error) bool {
					return err != nil || resp != nil && resp.StatusCode >= 500
				}).
				WithFailureThreshold(breakerFailures).
				WithDelay(breakerOpenFor).
				Build()
			exec := failsafe.With[*http.Response](cb)
			return func(req *http.Request) (*http.Response, error) {
				return exec.Get(func() (*http.Response, error) { return stub.RoundTrip(req) })
			}
		}, circuitbreaker.ErrOpen},
	}
}

// BenchmarkBreakerClosed is one request admitted by a closed breaker and
// recorded as a success (the stub answers 200).
func BenchmarkBreakerClosed(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://api.example.test/items", nil)
	for _, impl := range breakerImpls() {
		b.Run(impl.name, func(b *testing.B) {
			do := impl.do(newStubTransport(http.StatusOK))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := do(req)
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
			}
		})
	}
}

// BenchmarkBreakerOpen is one request rejected by an open breaker: the stub
// answers 503 until the breaker trips (5 failures), then every call in the
// loop fails fast without reaching the stub.
func BenchmarkBreakerOpen(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://api.example.test/items", nil)
	for _, impl := range breakerImpls() {
		b.Run(impl.name, func(b *testing.B) {
			do := impl.do(newStubTransport(http.StatusServiceUnavailable))
			for i := 0; ; i++ {
				resp, err := do(req)
				if errors.Is(err, impl.errOpen) {
					break
				}
				if resp != nil {
					_ = resp.Body.Close()
				}
				if i > 2*breakerFailures {
					b.Fatalf("breaker still closed after %d failures", i)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := do(req)
				if !errors.Is(err, impl.errOpen) {
					b.Fatalf("err = %v; want %v", err, impl.errOpen)
				}
				if resp != nil {
					_ = resp.Body.Close()
				}
			}
		})
	}
}

// BenchmarkDoNoBreaker is call.Client.Do with the same options as
// BenchmarkBreakerClosed/chassis but no breaker, against the same stub. It
// has no peer: subtract it from BenchmarkBreakerClosed/chassis to estimate
// what the breaker itself costs.
func BenchmarkDoNoBreaker(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://api.example.test/items", nil)
	b.Run("chassis", func(b *testing.B) {
		c := call.New(
			call.WithTransport(newStubTransport(http.StatusOK)),
			call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
			call.WithTimeout(0),
		)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_ = resp.Body.Close()
		}
	})
}

// executeImpl is one implementation of "run a function through a circuit
// breaker", without HTTP: the function returns an int and an error, and
// the breaker opens after breakerFailures consecutive failures.
type executeImpl struct {
	name    string
	new     func() func(fn func() (int, error)) (int, error)
	errOpen error
}

// executeImpls lists the implementations:
//
//   - chassis: breaker.Execute (the function gets the context).
//   - gobreaker: sony/gobreaker/v2 CircuitBreaker[int].Execute.
//   - failsafe: failsafe-go circuitbreaker through failsafe.With(cb).Get.
func executeImpls() []executeImpl {
	ctx := context.Background()
	return []executeImpl{
		{"chassis", func() func(fn func() (int, error)) (int, error) {
			b := breaker.New(breaker.Policy{ConsecutiveFailures: breakerFailures, OpenTimeout: breakerOpenFor})
			return func(fn func() (int, error)) (int, error) {
				return breaker.Execute(ctx, b, func(context.Context) (int, error) { return fn() })
			}
		}, breaker.ErrOpen},
		{"gobreaker", func() func(fn func() (int, error)) (int, error) {
			cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
				Timeout:     breakerOpenFor,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerFailures },
			})
			return cb.Execute
		}, gobreaker.ErrOpenState},
		{"failsafe", func() func(fn func() (int, error)) (int, error) {
			cb := circuitbreaker.NewBuilder[int]().
				WithFailureThreshold(breakerFailures).
				WithDelay(breakerOpenFor).
				Build()
			return failsafe.With[int](cb).Get
		}, circuitbreaker.ErrOpen},
	}
}

var errDown = errors.New("down")

func succeed() (int, error) { return 1, nil }
func fail() (int, error)    { return 0, errDown }

// BenchmarkBreakerExecuteClosed is one call admitted by a closed breaker
// and recorded as a success.
func BenchmarkBreakerExecuteClosed(b *testing.B) {
	for _, impl := range executeImpls() {
		b.Run(impl.name, func(b *testing.B) {
			exec := impl.new()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := exec(succeed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBreakerExecuteOpen is one call rejected by an open breaker,
// after breakerFailures failures tripped it.
func BenchmarkBreakerExecuteOpen(b *testing.B) {
	for _, impl := range executeImpls() {
		b.Run(impl.name, func(b *testing.B) {
			exec := impl.new()
			for range breakerFailures {
				_, _ = exec(fail)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := exec(succeed); !errors.Is(err, impl.errOpen) {
					b.Fatalf("err = %v; want %v", err, impl.errOpen)
				}
			}
		})
	}
}
