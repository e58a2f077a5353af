package grpckit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/problem"
)

// startServer serves a new grpc.Server built with sopts on an in-memory
// listener and returns a client connection to it. register adds services.
// Cleanup closes the connection, stops the server and waits for Serve.
func startServer(t testing.TB, sopts []grpc.ServerOption, register func(*grpc.Server), dopts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(sopts...)
	register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	conn := dialBufconn(t, lis, dopts...)
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return conn
}

// dialBufconn returns a client connection to lis, closed at cleanup.
func dialBufconn(t testing.TB, lis *bufconn.Listener, dopts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	dopts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, dopts...)
	conn, err := grpc.NewClient("passthrough:///bufnet", dopts...)
	if err != nil {
		t.Fatalf("grpc.NewClient() err = %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// behaviours of scriptedHealth, chosen by the request's service name.
const (
	bOK       = "ok"
	bProblem  = "problem"
	bPanic    = "panic"
	bPlain    = "plain"
	bStatus   = "status"
	bDeadline = "deadline"
	bCanceled = "canceled"
)

// secret is text that must never reach a client.
const secret = "password=hunter2"

// scriptedHealth is a HealthServer whose Check and Watch behave as the
// requested service name says: unary and server-streaming RPCs without
// protoc. Watch sends one SERVING message before behaving.
type scriptedHealth struct {
	healthpb.UnimplementedHealthServer
}

func behave(b string) error {
	switch b {
	case bOK:
		return nil
	case bProblem:
		return fmt.Errorf("load note: %w", problem.NotFound("no such note"))
	case bPanic:
		panic("boom " + secret)
	case bPlain:
		return errors.New("db: " + secret)
	case bStatus:
		return status.Error(codes.AlreadyExists, "note exists")
	case bDeadline:
		return fmt.Errorf("query: %w", context.DeadlineExceeded)
	case bCanceled:
		return context.Canceled
	}
	return status.Error(codes.InvalidArgument, "unknown behaviour")
}

func (scriptedHealth) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := behave(req.GetService()); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (scriptedHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
		return err
	}
	return behave(req.GetService())
}

// recorder is a slog.Handler that keeps every record. Like a correlating
// handler (logz's), it adds ctx_trace_id and ctx_span_id from the span in
// the context it is given, so tests see what a handler can correlate.
type recorder struct {
	state *recorderState
	attrs []slog.Attr
}

type recorderState struct {
	mu      sync.Mutex
	records []slog.Record
	changed chan struct{} // closed and replaced on every record
}

func newRecorder() *recorder {
	return &recorder{state: &recorderState{changed: make(chan struct{})}}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		rec.AddAttrs(slog.String("ctx_trace_id", sc.TraceID().String()), slog.String("ctx_span_id", sc.SpanID().String()))
	}
	s := r.state
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rec)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(slices.Clip(r.attrs), as...)
	return &c
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

// waitFor waits until n records with message msg have been logged, for
// records written after the client has its answer.
func (r *recorder) waitFor(t testing.TB, msg string, n int) []logged {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		r.state.mu.Lock()
		changed := r.state.changed
		r.state.mu.Unlock()
		if got := r.find(msg); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("waited 10s for %d %q log records; have %d", n, msg, len(r.find(msg)))
		}
	}
}

// logged is a record flattened for assertions.
type logged struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func (r *recorder) find(msg string) []logged {
	r.state.mu.Lock()
	defer r.state.mu.Unlock()
	var out []logged
	for _, rec := range r.state.records {
		if rec.Message != msg {
			continue
		}
		l := logged{level: rec.Level, msg: rec.Message, attrs: map[string]slog.Value{}}
		rec.Attrs(func(a slog.Attr) bool {
			l.attrs[a.Key] = a.Value
			return true
		})
		out = append(out, l)
	}
	return out
}

// fakeLimiter is a guard.Limiter with a scripted answer that records keys.
type fakeLimiter struct {
	mu       sync.Mutex
	decision guard.Decision
	err      error
	keys     []string
}

func (l *fakeLimiter) Allow(_ context.Context, key string) (guard.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, key)
	return l.decision, l.err
}

func (l *fakeLimiter) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.keys)
}

// spanWaiter is a SpanProcessor that keeps ended spans and lets a test wait
// for them: a server span ends after the client has its answer.
type spanWaiter struct {
	*tracetest.SpanRecorder
	mu      sync.Mutex
	changed chan struct{}
}

func newSpanWaiter() *spanWaiter {
	return &spanWaiter{SpanRecorder: tracetest.NewSpanRecorder(), changed: make(chan struct{})}
}

func (w *spanWaiter) OnEnd(s sdktrace.ReadOnlySpan) {
	w.SpanRecorder.OnEnd(s)
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// waitEnded waits until n spans have ended and returns them.
func (w *spanWaiter) waitEnded(t testing.TB, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		changed := w.changed
		w.mu.Unlock()
		if ended := w.Ended(); len(ended) >= n {
			return ended
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("waited 10s for %d ended spans; have %d", n, len(w.Ended()))
		}
	}
}
