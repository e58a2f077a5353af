package grpckit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// The breaker opens after failures and then fails calls at once with
// Unavailable matching breaker.ErrOpen, without retrying them; after
// OpenTimeout a probe that succeeds closes it.
func TestWithBreakerOpensAndCloses(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reader := sdkmetric.NewManualReader()
	var mu sync.Mutex
	var changes []string
	var healthy bool
	client, srv := serveFlaky(t, func(context.Context, int) error {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return nil
		}
		return errUnavailable
	},
		grpckit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		grpckit.WithRetry(fastRetry), grpckit.Idempotent(checkMethod),
		grpckit.WithBreaker(breaker.Policy{
			ConsecutiveFailures: 3,
			OpenTimeout:         time.Minute,
			Clock:               clock.Now,
			OnStateChange: func(from, to breaker.State) {
				mu.Lock()
				changes = append(changes, from.String()+">"+to.String())
				mu.Unlock()
			},
		}))
	check := func() error {
		_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
		return err
	}
	// Three attempts (one call and its two retries) open the breaker.
	if err := check(); status.Code(err) != codes.Unavailable || errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Check() = %v; want the server's Unavailable", err)
	}
	if n := srv.count(); n != 3 {
		t.Fatalf("server calls = %d; want 3", n)
	}
	err := check()
	if status.Code(err) != codes.Unavailable || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Check() with the breaker open = %v; want Unavailable matching breaker.ErrOpen", err)
	}
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "circuit breaker open") || !strings.Contains(msg, "bufnet") {
		t.Errorf("open breaker's message = %q; want it to say so and name the target", msg)
	}
	if n := srv.count(); n != 3 {
		t.Errorf("server calls = %d; want still 3: an open breaker is neither sent nor retried", n)
	}
	if p := grpckit.ProblemFromStatus(err); p.Status != 503 || !errors.Is(p, breaker.ErrOpen) {
		t.Errorf("ProblemFromStatus(open breaker's error) = %d, wraps ErrOpen %v; want 503 wrapping it", p.Status, errors.Is(p, breaker.ErrOpen))
	}
	// After OpenTimeout one probe goes through; it succeeds and closes the breaker.
	mu.Lock()
	healthy = true
	mu.Unlock()
	clock.Advance(time.Minute)
	if err := check(); err != nil {
		t.Fatalf("Check() as the half-open probe = %v; want success", err)
	}
	if err := check(); err != nil {
		t.Fatalf("Check() after the probe = %v; want success", err)
	}
	mu.Lock()
	got := strings.Join(changes, " ")
	mu.Unlock()
	if got != "closed>open open>half_open half_open>closed" {
		t.Errorf("state changes = %q; want closed>open open>half_open half_open>closed", got)
	}
	c := counters(t, reader)
	const target = "chassis.grpc.target=passthrough:///bufnet"
	if c["chassis.grpc.client.breaker.rejections/"+target] != 1 ||
		c["chassis.grpc.client.breaker.transitions/chassis.breaker.state=open,"+target] != 1 ||
		c["chassis.grpc.client.breaker.transitions/chassis.breaker.state=closed,"+target] != 1 {
		t.Errorf("breaker metrics = %v; want 1 rejection, 1 transition to open and 1 to closed", c)
	}
}

// Which outcomes are failures: server-side trouble, a hung server (the
// caller's deadline); answers such as NotFound are successes, and a call
// the caller canceled is neither.
func TestWithBreakerOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		hang     string // "deadline" or "cancel": the server hangs until the caller gives up this way
		wantOpen bool
	}{
		{name: "unavailable", err: errUnavailable, wantOpen: true},
		{name: "internal", err: status.Error(codes.Internal, "x"), wantOpen: true},
		{name: "unknown", err: errors.New("plain"), wantOpen: true},
		{name: "resource exhausted", err: status.Error(codes.ResourceExhausted, "x"), wantOpen: true},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "x"), wantOpen: true},
		{name: "not found", err: status.Error(codes.NotFound, "x"), wantOpen: false},
		{name: "invalid argument", err: status.Error(codes.InvalidArgument, "x"), wantOpen: false},
		{name: "caller's deadline", hang: "deadline", wantOpen: true},
		{name: "caller canceled", hang: "cancel", wantOpen: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			entered := make(chan struct{}, 1)
			client, _ := serveFlaky(t, func(ctx context.Context, n int) error {
				switch {
				case n > 1:
					return nil
				case tc.hang != "":
					entered <- struct{}{}
					<-ctx.Done()
					return ctx.Err()
				}
				return tc.err
			}, grpckit.WithBreaker(breaker.Policy{ConsecutiveFailures: 1}))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch tc.hang {
			case "deadline":
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			case "cancel":
				go func() {
					<-entered
					cancel()
				}()
			}
			if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
				t.Fatal("Check() err = nil; want the scripted error")
			}
			_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
			if open := errors.Is(err, breaker.ErrOpen); open != tc.wantOpen {
				t.Errorf("after one call, the next Check() = %v; want breaker open %v", err, tc.wantOpen)
			}
		})
	}
}

// IsFailure replaces the code test.
func TestWithBreakerIsFailure(t *testing.T) {
	t.Parallel()
	client, _ := serveFlaky(t, failFirst(1, status.Error(codes.NotFound, "gone")),
		grpckit.WithBreaker(breaker.Policy{ConsecutiveFailures: 1, IsFailure: func(err error) bool {
			return status.Code(err) == codes.NotFound
		}}))
	_, _ = client.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Check() after a NotFound counted as failure = %v; want breaker.ErrOpen", err)
	}
}

// A non-idempotent method is guarded too (it is only not retried), and
// a stream is not.
func TestWithBreakerMethods(t *testing.T) {
	t.Parallel()
	client, srv := serveFlaky(t, func(context.Context, int) error { return errUnavailable },
		grpckit.WithBreaker(breaker.Policy{ConsecutiveFailures: 1}))
	if _, err := client.List(t.Context(), &healthpb.HealthListRequest{}); status.Code(err) != codes.Unavailable || errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("List() = %v; want the server's Unavailable", err)
	}
	if _, err := client.List(t.Context(), &healthpb.HealthListRequest{}); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("second List() = %v; want breaker.ErrOpen", err)
	}
	stream, err := client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable || errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Watch() with the breaker open = %v; want the server's Unavailable (streams are not guarded)", err)
	}
	if n := srv.count(); n != 2 {
		t.Errorf("server calls = %d; want 2", n)
	}
}
