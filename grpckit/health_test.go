package grpckit_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/health"
)

const (
	serving    = healthpb.HealthCheckResponse_SERVING
	notServing = healthpb.HealthCheckResponse_NOT_SERVING
	unknown    = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
)

// switchCheck is a health check that is up or down as the test says.
type switchCheck struct{ down atomic.Bool }

func (c *switchCheck) check(context.Context) error {
	if c.down.Load() {
		return errors.New("down")
	}
	return nil
}

type healthFixture struct {
	checker   *health.Checker
	db, cache *switchCheck
	hs        *grpckit.Health
	client    healthpb.HealthClient
}

func newHealthFixture(t *testing.T, opts ...grpckit.HealthOption) *healthFixture {
	t.Helper()
	f := &healthFixture{checker: health.New(), db: &switchCheck{}, cache: &switchCheck{}}
	f.checker.Add("db", f.db.check)
	f.checker.Add("cache", f.cache.check, health.NonCritical())
	conn := startServer(t, grpckit.ServerOptions(slog.New(slog.DiscardHandler)), func(s *grpc.Server) {
		f.hs = grpckit.RegisterHealth(s, f.checker, opts...)
	})
	f.client = healthpb.NewHealthClient(conn)
	return f
}

// check returns the status of service, or the error code as a string.
func (f *healthFixture) check(t *testing.T, service string) string {
	t.Helper()
	resp, err := f.client.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return status.Code(err).String()
	}
	return resp.GetStatus().String()
}

func (f *healthFixture) expect(t *testing.T, step string, want map[string]string) {
	t.Helper()
	for service, w := range want {
		if got := f.check(t, service); got != w {
			t.Errorf("%s: Check(%q) = %s; want %s", step, service, got, w)
		}
	}
}

func (f *healthFixture) sync(t *testing.T) {
	t.Helper()
	if err := f.hs.Sync(t.Context()); err != nil {
		t.Fatalf("Sync() err = %v; want nil", err)
	}
}

// watcher reads a Watch stream message by message.
type watcher struct {
	stream grpc.ServerStreamingClient[healthpb.HealthCheckResponse]
}

func (f *healthFixture) watch(t *testing.T, service string) *watcher {
	t.Helper()
	stream, err := f.client.Watch(t.Context(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("Watch(%q) err = %v", service, err)
	}
	return &watcher{stream: stream}
}

func (w *watcher) next(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	resp, err := w.stream.Recv()
	if err != nil || resp.GetStatus() != want {
		t.Fatalf("Watch Recv() = %v, %v; want %v", resp.GetStatus(), err, want)
	}
}

func (w *watcher) end(t *testing.T) {
	t.Helper()
	resp, err := w.stream.Recv()
	if st := status.Convert(err); err == nil || st.Code() != codes.Unavailable {
		t.Fatalf("Watch Recv() after shutdown = %v, %v; want the stream to end with Unavailable", resp, err)
	}
}

// The standard health client sees the transitions up → down → up →
// draining, through Check and Watch, for the overall status, the per-check
// services and a mapped service.
func TestHealthTransitions(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t, grpckit.MapService("notes.v1.Notes", "db"), grpckit.MapService("follows-overall"),
		grpckit.MapService("needs-missing", "db", "no-such-check"))

	f.expect(t, "before the first report", map[string]string{
		"": "NOT_SERVING", "notes.v1.Notes": "NOT_SERVING", "follows-overall": "NOT_SERVING",
		"db": "NotFound", "cache": "NotFound", "other": "NotFound",
	})
	overall := f.watch(t, "")
	overall.next(t, notServing)
	notes := f.watch(t, "notes.v1.Notes")
	notes.next(t, notServing)
	dbw := f.watch(t, "db")
	dbw.next(t, unknown)

	f.sync(t)
	f.expect(t, "all up", map[string]string{
		"": "SERVING", "db": "SERVING", "cache": "SERVING", "notes.v1.Notes": "SERVING",
		"follows-overall": "SERVING", "needs-missing": "NOT_SERVING", "other": "NotFound",
	})
	overall.next(t, serving)
	notes.next(t, serving)
	dbw.next(t, serving)

	f.cache.down.Store(true)
	f.sync(t)
	f.expect(t, "non-critical cache down", map[string]string{
		"": "SERVING", "db": "SERVING", "cache": "NOT_SERVING", "notes.v1.Notes": "SERVING", "follows-overall": "SERVING",
	})

	f.db.down.Store(true)
	f.sync(t)
	f.expect(t, "db down", map[string]string{
		"": "NOT_SERVING", "db": "NOT_SERVING", "notes.v1.Notes": "NOT_SERVING", "follows-overall": "NOT_SERVING",
	})
	overall.next(t, notServing)
	notes.next(t, notServing)
	dbw.next(t, notServing)

	f.db.down.Store(false)
	f.cache.down.Store(false)
	f.sync(t)
	f.expect(t, "recovered", map[string]string{"": "SERVING", "db": "SERVING", "cache": "SERVING"})
	overall.next(t, serving)
	notes.next(t, serving)
	dbw.next(t, serving)

	list, err := f.client.List(t.Context(), &healthpb.HealthListRequest{})
	if err != nil || len(list.GetStatuses()) != 6 {
		t.Errorf("List() = %v, %v; want 6 services", list.GetStatuses(), err)
	}

	f.checker.SetDraining()
	f.sync(t)
	f.expect(t, "draining", map[string]string{
		"": "NOT_SERVING", "db": "NOT_SERVING", "cache": "NOT_SERVING", "notes.v1.Notes": "NOT_SERVING",
		"follows-overall": "NOT_SERVING",
	})
	for _, w := range []*watcher{overall, notes, dbw} {
		w.next(t, notServing)
		w.end(t)
	}
	// A watch that starts after shutdown gets the final status and ends.
	late := f.watch(t, "")
	late.next(t, notServing)
	late.end(t)
	lateUnknown := f.watch(t, "other")
	lateUnknown.next(t, unknown)
	lateUnknown.end(t)

	// There is no way back.
	f.sync(t)
	f.expect(t, "after draining", map[string]string{"": "NOT_SERVING", "db": "NOT_SERVING"})
}

// Shutdown ends a watch that had already sent NOT_SERVING without sending
// it again.
func TestHealthShutdownEndsWatch(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t)
	f.db.down.Store(true)
	f.sync(t)
	w := f.watch(t, "")
	w.next(t, notServing)
	f.hs.Shutdown()
	f.hs.Shutdown() // idempotent
	w.end(t)
	f.db.down.Store(false)
	f.sync(t)
	f.expect(t, "after Shutdown", map[string]string{"": "NOT_SERVING", "db": "NOT_SERVING"})
}

func TestHealthSyncCanceled(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.hs.Sync(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sync(canceled ctx) = %v; want context.Canceled", err)
	}
	f.expect(t, "after a canceled Sync", map[string]string{"": "NOT_SERVING", "db": "NotFound"})
}

// Run with a canceled context still publishes nothing stale: it returns nil
// and leaves the service shut down.
func TestHealthRunStops(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t, grpckit.PollInterval(time.Hour))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	w := f.watch(t, "")
	w.next(t, notServing)
	go func() { done <- f.hs.Run(ctx) }()
	w.next(t, serving) // the first Sync runs at once
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() after cancel = %v; want nil", err)
	}
	w.next(t, notServing)
	w.end(t)
}

func TestHealthPanics(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	defer srv.Stop()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"nil server", func() { grpckit.RegisterHealth(nil, health.New()) }, "grpckit.RegisterHealth: srv is nil"},
		{"nil checker", func() { grpckit.RegisterHealth(srv, nil) }, "grpckit.RegisterHealth: checker is nil"},
		{"zero interval", func() { grpckit.PollInterval(0) }, "grpckit.PollInterval: d must be > 0"},
		{"empty service", func() { grpckit.MapService("") }, "grpckit.MapService: service is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, tc.want) {
					t.Errorf("panic = %v; want one starting %q", r, tc.want)
				}
			}()
			tc.fn()
		})
	}
}
