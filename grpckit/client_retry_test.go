package grpckit_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/retry"
)

const (
	checkMethod = healthpb.Health_Check_FullMethodName
	listMethod  = healthpb.Health_List_FullMethodName
)

// fastRetry retries quickly: tests wait a millisecond at most between tries.
var fastRetry = retry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}

// flakyHealth is a health server whose Check, List and Watch answer as
// script says for the n-th call (1-based, all methods counted together).
type flakyHealth struct {
	healthpb.UnimplementedHealthServer
	script func(ctx context.Context, n int) error

	mu    sync.Mutex
	calls int
}

func (f *flakyHealth) next(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	return f.script(ctx, n)
}

func (f *flakyHealth) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *flakyHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := f.next(ctx); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (f *flakyHealth) List(ctx context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	if err := f.next(ctx); err != nil {
		return nil, err
	}
	return &healthpb.HealthListResponse{}, nil
}

func (f *flakyHealth) Watch(_ *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	return f.next(stream.Context())
}

// failFirst fails the first n calls with err, then succeeds.
func failFirst(n int, err error) func(context.Context, int) error {
	return func(_ context.Context, k int) error {
		if k <= n {
			return err
		}
		return nil
	}
}

// serveFlaky serves script on a bare server over bufconn and returns a
// health client dialed with DialOptions(opts...), and the server.
func serveFlaky(t testing.TB, script func(context.Context, int) error, opts ...grpckit.DialOption) (healthpb.HealthClient, *flakyHealth) {
	t.Helper()
	srv := &flakyHealth{script: script}
	conn := startServer(t, nil, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) }, grpckit.DialOptions(opts...)...)
	return healthpb.NewHealthClient(conn), srv
}

// withPushback returns err after setting the grpc-retry-pushback-ms trailer.
func withPushback(ctx context.Context, ms string, err error) error {
	_ = grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", ms))
	return err
}

var errUnavailable = status.Error(codes.Unavailable, "try later")

// An idempotent call that fails with Unavailable is retried; each attempt
// is a client span of its own and each retry counts in
// chassis.grpc.client.retries.
func TestWithRetryUnavailable(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	spans := newSpanWaiter()
	client, srv := serveFlaky(t, failFirst(2, errUnavailable),
		grpckit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		grpckit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		grpckit.WithRetry(fastRetry), grpckit.Idempotent(checkMethod))
	resp, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check() = %v, %v; want SERVING after two retries", resp, err)
	}
	if n := srv.count(); n != 3 {
		t.Errorf("server calls = %d; want 3", n)
	}
	ended := spans.waitEnded(t, 3)
	var codes []string
	for _, s := range ended {
		codes = append(codes, s.Status().Code.String())
	}
	if len(ended) != 3 || codes[0] != "Error" || codes[2] != "Unset" {
		t.Errorf("client spans = %d with statuses %v; want 3, one per attempt, the last one not an error", len(ended), codes)
	}
	if got := counters(t, reader)["chassis.grpc.client.retries/rpc.method=grpc.health.v1.Health/Check"]; got != 2 {
		t.Errorf("chassis.grpc.client.retries = %d; want 2", got)
	}
}

// What is never retried: a method not declared idempotent, codes other
// than Unavailable, ResourceExhausted without a delay from the server, a
// server that says not to retry, and streams.
func TestWithRetryNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script func(context.Context, int) error
		call   func(context.Context, healthpb.HealthClient) error
		want   codes.Code
	}{
		{
			name:   "not idempotent",
			script: failFirst(1, errUnavailable),
			call: func(ctx context.Context, c healthpb.HealthClient) error {
				_, err := c.List(ctx, &healthpb.HealthListRequest{})
				return err
			},
			want: codes.Unavailable,
		},
		{
			name:   "invalid argument",
			script: failFirst(1, status.Error(codes.InvalidArgument, "bad")),
			want:   codes.InvalidArgument,
		},
		{
			name:   "internal",
			script: failFirst(1, status.Error(codes.Internal, "oops")),
			want:   codes.Internal,
		},
		{
			name:   "resource exhausted without a delay",
			script: failFirst(1, status.Error(codes.ResourceExhausted, "quota")),
			want:   codes.ResourceExhausted,
		},
		{
			name: "negative pushback",
			script: func(ctx context.Context, n int) error {
				if n == 1 {
					return withPushback(ctx, "-1", errUnavailable)
				}
				return nil
			},
			want: codes.Unavailable,
		},
		{
			name: "malformed pushback",
			script: func(ctx context.Context, n int) error {
				if n == 1 {
					return withPushback(ctx, "soon", errUnavailable)
				}
				return nil
			},
			want: codes.Unavailable,
		},
		{
			name:   "stream",
			script: failFirst(1, errUnavailable),
			call: func(ctx context.Context, c healthpb.HealthClient) error {
				stream, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
				if err != nil {
					return err
				}
				_, err = stream.Recv()
				return err
			},
			want: codes.Unavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, srv := serveFlaky(t, tc.script, grpckit.WithRetry(fastRetry),
				grpckit.Idempotent(checkMethod, healthpb.Health_Watch_FullMethodName))
			call := tc.call
			if call == nil {
				call = func(ctx context.Context, c healthpb.HealthClient) error {
					_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
					return err
				}
			}
			err := call(t.Context(), client)
			if status.Code(err) != tc.want {
				t.Errorf("call err = %v; want %v", err, tc.want)
			}
			if n := srv.count(); n != 1 {
				t.Errorf("server calls = %d; want 1 (no retry)", n)
			}
		})
	}
}

// sequenceLimiter is a guard.Limiter that denies its first call for
// retryAfter, then allows every call.
type sequenceLimiter struct {
	retryAfter time.Duration
	mu         sync.Mutex
	calls      int
}

func (l *sequenceLimiter) Allow(context.Context, string) (guard.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	lim := guard.Limit{Rate: 1, Per: time.Second, Burst: 1}
	if l.calls == 1 {
		return guard.Decision{Allowed: false, Limit: lim, RetryAfter: l.retryAfter, ResetAfter: l.retryAfter}, nil
	}
	return guard.Decision{Allowed: true, Limit: lim}, nil
}

// ResourceExhausted from grpckit's own rate limiting carries RetryInfo: the
// client waits the delay the server asked for, then retries.
func TestWithRetryResourceExhaustedRetryInfo(t *testing.T) {
	t.Parallel()
	const delay = 5 * time.Millisecond
	limiter := &sequenceLimiter{retryAfter: delay}
	sopts := grpckit.ServerOptions(slog.New(slog.DiscardHandler), grpckit.WithRateLimit(grpckit.RateLimitConfig{
		Limiter: limiter,
		Key:     func(context.Context) (string, error) { return "k", nil },
		Exempt:  chargeAll,
	}))
	srv := &flakyHealth{script: failFirst(0, nil)}
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) },
		grpckit.DialOptions(grpckit.WithRetry(retry.Policy{BaseDelay: time.Hour}), grpckit.Idempotent(checkMethod))...)
	start := time.Now()
	_, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Check() err = %v; want success after the server's delay", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("Check() took %v; want at least the RetryInfo delay %v", took, delay)
	}
	if srv.count() != 1 || limiter.calls != 2 {
		t.Errorf("handler calls = %d, limiter calls = %d; want 1 and 2", srv.count(), limiter.calls)
	}
}

// The grpc-retry-pushback-ms trailer is a delay from the server, as
// RetryInfo is: it makes ResourceExhausted retryable, and replaces the
// backoff of Unavailable.
func TestWithRetryPushback(t *testing.T) {
	t.Parallel()
	for _, code := range []codes.Code{codes.Unavailable, codes.ResourceExhausted} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			client, srv := serveFlaky(t, func(ctx context.Context, n int) error {
				if n == 1 {
					return withPushback(ctx, "5", status.Error(code, "later"))
				}
				return nil
			}, grpckit.WithRetry(retry.Policy{BaseDelay: time.Hour}), grpckit.Idempotent(checkMethod))
			start := time.Now()
			if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatalf("Check() err = %v; want success after the pushback", err)
			}
			if took := time.Since(start); took < 5*time.Millisecond {
				t.Errorf("Check() took %v; want at least the 5ms pushback", took)
			}
			if n := srv.count(); n != 2 {
				t.Errorf("server calls = %d; want 2", n)
			}
		})
	}
}

// A retry never outlives the caller's deadline: when the wait (the
// server's delay or the backoff) would end after it, the last error is
// returned at once.
func TestWithRetryDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy retry.Policy
		script func(context.Context, int) error
	}{
		{
			name:   "server delay",
			policy: retry.Policy{BaseDelay: time.Millisecond, MaxDelay: time.Hour},
			script: func(ctx context.Context, _ int) error { return withPushback(ctx, "60000", errUnavailable) },
		},
		{
			name:   "backoff",
			policy: retry.Policy{BaseDelay: time.Hour, MaxDelay: time.Hour},
			script: func(context.Context, int) error { return errUnavailable },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, srv := serveFlaky(t, tc.script, grpckit.WithRetry(tc.policy), grpckit.Idempotent(checkMethod))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("Check() err = %v; want the server's Unavailable at once", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Check() took %v; want it to return at once", took)
			}
			if n := srv.count(); n != 1 {
				t.Errorf("server calls = %d; want 1", n)
			}
		})
	}
}

// When the caller's context ends during a wait, the call ends at once with
// grpc-go's status for that context.
func TestWithRetryCanceledDuringWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	client, _ := serveFlaky(t, func(context.Context, int) error {
		time.AfterFunc(2*time.Millisecond, cancel) // while the client waits
		return errUnavailable
	}, grpckit.WithRetry(retry.Policy{BaseDelay: time.Hour, MaxDelay: time.Hour}), grpckit.Idempotent(checkMethod))
	start := time.Now()
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	// Canceled is the usual answer; Unavailable if the cancellation came
	// between the answer and the decision to wait.
	if c := status.Code(err); c != codes.Canceled && c != codes.Unavailable {
		t.Errorf("Check() err = %v; want a Canceled status", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Check() took %v; want it to end with the context", took)
	}
}

// Retryable replaces the code test: here Aborted is retried too.
func TestWithRetryRetryable(t *testing.T) {
	t.Parallel()
	p := fastRetry
	p.Retryable = func(err error) bool { return status.Code(err) == codes.Aborted }
	client, srv := serveFlaky(t, failFirst(1, status.Error(codes.Aborted, "conflict")),
		grpckit.WithRetry(p), grpckit.IdempotentFunc(func(m string) bool { return strings.HasSuffix(m, "/Check") }))
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check() err = %v; want success after retrying Aborted", err)
	}
	if n := srv.count(); n != 2 {
		t.Errorf("server calls = %d; want 2", n)
	}
}

// The retry budget is shared: once spent, failures are returned at once.
func TestWithRetryBudget(t *testing.T) {
	t.Parallel()
	p := fastRetry
	p.Budget = retry.NewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: -1}) // no retries at all
	client, srv := serveFlaky(t, func(context.Context, int) error { return errUnavailable }, grpckit.WithRetry(p), grpckit.Idempotent(checkMethod))
	_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable || srv.count() != 1 {
		t.Errorf("Check() with an empty budget = %v after %d calls; want Unavailable after 1", err, srv.count())
	}
}

func TestDialOptionsPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"retry", func() { grpckit.WithRetry(retry.Policy{MaxAttempts: -1}) }, "grpckit.WithRetry: MaxAttempts is -1"},
		{"breaker", func() { grpckit.WithBreaker(breaker.Policy{FailureRatio: 2}) }, "grpckit.WithBreaker: FailureRatio 2 is outside"},
		{"hedge delay", func() { grpckit.WithHedge(grpckit.HedgePolicy{}) }, "grpckit.WithHedge: Delay is not positive"},
		{"hedge count", func() { grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Second, MaxHedges: -1}) }, "grpckit.WithHedge: MaxHedges is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				v := recover()
				if s, _ := v.(string); !strings.HasPrefix(s, tc.want) {
					t.Errorf("panic = %v; want a message starting %q", v, tc.want)
				}
			}()
			tc.f()
		})
	}
}

// A nil DialOption is ignored and nil values mean the defaults.
func TestDialNilOptions(t *testing.T) {
	t.Parallel()
	client, srv := serveFlaky(t, failFirst(1, errUnavailable), nil, grpckit.WithMeterProvider(nil),
		grpckit.IdempotentFunc(nil), grpckit.Idempotent(), grpckit.Idempotent(checkMethod), grpckit.WithRetry(fastRetry))
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || srv.count() != 2 {
		t.Errorf("Check() = %v after %d calls; want success after 2", err, srv.count())
	}
}

// counters collects reader and returns every Int64 sum data point as
// "name/attr=value,..." → value.
func counters(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect() err = %v", err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if !strings.HasPrefix(m.Name, "chassis.grpc.client.") {
				continue
			}
			if sm.Scope.Name != "github.com/chassis-go/chassis/grpckit" {
				t.Errorf("%s scope = %q; want grpckit's", m.Name, sm.Scope.Name)
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				var kv []string
				for _, a := range dp.Attributes.ToSlice() {
					kv = append(kv, string(a.Key)+"="+a.Value.String())
				}
				out[m.Name+"/"+strings.Join(kv, ",")] += dp.Value
			}
		}
	}
	return out
}

// The client-only options are not ServerOptions: giving one to
// ServerOptions does not compile.
func TestDialOnlyOptionTypes(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]grpckit.DialOption{
		"WithRetry":      grpckit.WithRetry(retry.Policy{}),
		"WithBreaker":    grpckit.WithBreaker(breaker.Policy{}),
		"WithHedge":      grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Second}),
		"Idempotent":     grpckit.Idempotent(checkMethod),
		"IdempotentFunc": grpckit.IdempotentFunc(func(string) bool { return true }),
	} {
		if _, ok := o.(grpckit.ServerOption); ok {
			t.Errorf("%s is a ServerOption; want a client-only option", name)
		}
	}
}
