package grpckit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chassis-go/chassis/health"
)

// waitStatus waits until service has status want, following h's change
// notifications; it never sleeps.
func waitStatus(t *testing.T, h *Health, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		st, _, changed := h.watchState(service)
		if st == want {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("status of %q = %v after 10s; want %v", service, st, want)
		}
	}
}

// Run polls on every tick of its ticker, and stops its ticker and shuts the
// service down when its context ends.
func TestHealthRunTicks(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	var runs atomic.Int32
	checker := health.New()
	checker.Add("db", func(context.Context) error {
		runs.Add(1)
		if down.Load() {
			return errors.New("down")
		}
		return nil
	})
	srv := grpc.NewServer()
	defer srv.Stop()
	h := RegisterHealth(srv, checker, PollInterval(time.Minute))

	ticks := make(chan time.Time)
	var gotInterval time.Duration
	stopped := make(chan struct{})
	h.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		gotInterval = d
		return ticks, func() { close(stopped) }
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	waitStatus(t, h, "", healthpb.HealthCheckResponse_SERVING) // the first Sync, before any tick
	down.Store(true)
	ticks <- time.Time{}
	waitStatus(t, h, "db", healthpb.HealthCheckResponse_NOT_SERVING)
	waitStatus(t, h, "", healthpb.HealthCheckResponse_NOT_SERVING)
	down.Store(false)
	ticks <- time.Time{}
	waitStatus(t, h, "", healthpb.HealthCheckResponse_SERVING)
	if n := runs.Load(); n != 3 {
		t.Errorf("check ran %d times after 2 ticks; want 3", n)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
	<-stopped // the ticker was stopped
	if gotInterval != time.Minute {
		t.Errorf("Run ticker interval = %v; want 1m", gotInterval)
	}
	if st, down, _ := h.watchState(""); st != healthpb.HealthCheckResponse_NOT_SERVING || !down {
		t.Errorf("after Run returned: status %v, shut down %v; want NOT_SERVING, true", st, down)
	}
}

// Run notices a draining Checker on its next tick and keeps running, shut
// down, until its context ends: returning early would read as a failure
// to lifecycle.Run.
func TestHealthRunDraining(t *testing.T) {
	t.Parallel()
	checker := health.New()
	checker.Add("db", func(context.Context) error { return nil })
	srv := grpc.NewServer()
	defer srv.Stop()
	h := RegisterHealth(srv, checker)
	ticks := make(chan time.Time)
	h.newTicker = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitStatus(t, h, "", healthpb.HealthCheckResponse_SERVING)
	checker.SetDraining()
	ticks <- time.Time{}
	waitStatus(t, h, "", healthpb.HealthCheckResponse_NOT_SERVING)
	ticks <- time.Time{} // still running
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while its context was live", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}
