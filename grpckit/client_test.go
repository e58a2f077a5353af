package grpckit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/problem"
)

// DialOptions traces calls and propagates the trace context, so the server
// span is the client span's child and the server's log carries its ids.
func TestDialOptionsTracing(t *testing.T) {
	t.Parallel()
	prop := propagation.TraceContext{}
	clientSpans, serverSpans := newSpanWaiter(), newSpanWaiter()
	rec := newRecorder()
	sopts := grpckit.ServerOptions(slog.New(rec),
		grpckit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(serverSpans))),
		grpckit.WithPropagators(prop))
	dopts := grpckit.DialOptions(
		grpckit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(clientSpans))),
		grpckit.WithPropagators(prop))
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) }, dopts...)
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: bOK}); err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	client := clientSpans.waitEnded(t, 1)[0]
	server := serverSpans.waitEnded(t, 1)[0]
	if client.SpanKind() != trace.SpanKindClient || server.SpanKind() != trace.SpanKindServer {
		t.Errorf("span kinds = %v, %v; want client, server", client.SpanKind(), server.SpanKind())
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || server.SpanContext().TraceID() != client.SpanContext().TraceID() {
		t.Errorf("server span parent = %v; want the client span %v", server.Parent(), client.SpanContext())
	}
	line := rec.waitFor(t, "grpc request", 1)[0]
	if got := line.attrs["ctx_trace_id"].String(); got != client.SpanContext().TraceID().String() {
		t.Errorf("access log context's trace id = %q; want the client's %q", got, client.SpanContext().TraceID())
	}
}

// DialOptions adds no transport credentials: that choice is the caller's.
func TestDialOptionsNoCredentials(t *testing.T) {
	t.Parallel()
	conn, err := grpc.NewClient("passthrough:///nowhere", grpckit.DialOptions()...)
	if err == nil {
		_ = conn.Close()
		t.Fatal("grpc.NewClient(DialOptions()...) err = nil; want the missing transport credentials error")
	}
}

func TestProblemFromStatus(t *testing.T) {
	t.Parallel()
	own := problem.Conflict("mine")
	tests := []struct {
		name       string
		err        error
		wantNil    bool
		wantStatus int
		wantCode   problem.Code
		wantDetail string
		wantWraps  bool // errors.Is(p, err)
	}{
		{name: "nil", err: nil, wantNil: true},
		{name: "not found", err: status.Error(codes.NotFound, "no such note"), wantStatus: 404, wantCode: problem.CodeNotFound, wantDetail: "no such note", wantWraps: true},
		{name: "unavailable", err: status.Error(codes.Unavailable, "try later"), wantStatus: 503, wantCode: problem.CodeUnavailable, wantDetail: "try later", wantWraps: true},
		{name: "already exists keeps its code", err: status.Error(codes.AlreadyExists, "dup"), wantStatus: 409, wantCode: problem.CodeAlreadyExists, wantDetail: "dup", wantWraps: true},
		{name: "canceled", err: status.Error(codes.Canceled, "gone"), wantStatus: 499, wantCode: problem.CodeCanceled, wantDetail: "gone", wantWraps: true},
		{name: "wrapped status", err: fmt.Errorf("get note: %w", status.Error(codes.PermissionDenied, "no")), wantStatus: 403, wantCode: problem.CodePermissionDenied, wantDetail: "get note: rpc error: code = PermissionDenied desc = no", wantWraps: true},
		{name: "problem in chain", err: fmt.Errorf("x: %w", own), wantStatus: 409, wantCode: problem.CodeAborted, wantDetail: "mine"},
		// Errors that are not statuses get problem.From's answer.
		{name: "context deadline", err: context.DeadlineExceeded, wantStatus: 504, wantCode: problem.CodeDeadlineExceeded, wantDetail: problem.From(context.DeadlineExceeded).Detail, wantWraps: true},
		{name: "plain error", err: errors.New("secret"), wantStatus: 500, wantCode: problem.CodeInternal, wantDetail: problem.From(errors.New("secret")).Detail, wantWraps: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := grpckit.ProblemFromStatus(tc.err)
			if tc.wantNil {
				if p != nil {
					t.Errorf("ProblemFromStatus(nil) = %v; want nil", p)
				}
				return
			}
			if p.Status != tc.wantStatus || p.GRPCCode() != tc.wantCode || p.Detail != tc.wantDetail {
				t.Errorf("ProblemFromStatus(%v) = %d %v %q; want %d %v %q", tc.err, p.Status, p.GRPCCode(), p.Detail, tc.wantStatus, tc.wantCode, tc.wantDetail)
			}
			if tc.wantWraps && !errors.Is(p, tc.err) {
				t.Errorf("ProblemFromStatus(%v) does not wrap the error", tc.err)
			}
		})
	}
	// A status survives the round trip server → client → problem: the code
	// is preserved and status.Code still reads it through the wrap.
	p := grpckit.ProblemFromStatus(status.Error(codes.ResourceExhausted, "slow down"))
	if p.Status != http.StatusTooManyRequests || status.Code(p) != codes.ResourceExhausted {
		t.Errorf("ProblemFromStatus(ResourceExhausted) = %d, status.Code %v; want 429, ResourceExhausted", p.Status, status.Code(p))
	}
}

// FuzzProblemFromStatus checks that any status a peer can send converts to
// a problem with an error status and the same code, without panicking.
func FuzzProblemFromStatus(f *testing.F) {
	f.Add(uint32(5), "no such note")
	f.Add(uint32(0), "")
	f.Add(uint32(99), "\xff\x00 weird")
	f.Add(uint32(14), "try later")
	f.Fuzz(func(t *testing.T, code uint32, msg string) {
		err := status.Error(codes.Code(code), msg)
		p := grpckit.ProblemFromStatus(err)
		if code == 0 {
			if err != nil || p != nil {
				t.Fatalf("ProblemFromStatus(OK status) = %v; want nil", p)
			}
			return
		}
		if p.Status < 400 || p.Status > 599 {
			t.Errorf("ProblemFromStatus(%d, %q).Status = %d; want 4xx or 5xx", code, msg, p.Status)
		}
		if p.GRPCCode() != problem.Code(code) || p.Detail != msg {
			t.Errorf("ProblemFromStatus(%d, %q) = code %v detail %q; want the code and message", code, msg, p.GRPCCode(), p.Detail)
		}
		if _, err := p.MarshalJSON(); err != nil {
			t.Errorf("MarshalJSON() err = %v", err)
		}
	})
}

// WithOTelOptions reaches the stats handler: a filter drops health spans.
func TestWithOTelOptionsFilter(t *testing.T) {
	t.Parallel()
	spans := newSpanWaiter()
	rec := newRecorder()
	sopts := grpckit.ServerOptions(slog.New(rec),
		grpckit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		grpckit.WithOTelOptions(otelgrpc.WithFilter(filters.Not(filters.HealthCheck()))))
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: bOK}); err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	rec.waitFor(t, "grpc request", 1) // the call is over on the server
	// A span would have started before the handler ran.
	if n := len(spans.Started()); n != 0 {
		t.Errorf("health check spans = %d; want 0 with the filter", n)
	}
}

// TestOptionTypes: server-only options are not DialOptions (giving one to
// DialOptions does not compile), and the shared ones are both.
func TestOptionTypes(t *testing.T) {
	t.Parallel()
	limit := grpckit.RateLimitConfig{Limiter: &fakeLimiter{}, Key: grpckit.KeyFromPeer()}
	for name, o := range map[string]grpckit.ServerOption{
		"QuietMethods":  grpckit.QuietMethods("/a/b"),
		"WithRateLimit": grpckit.WithRateLimit(limit),
	} {
		if _, ok := o.(grpckit.DialOption); ok {
			t.Errorf("%s is a DialOption; want a server-only option", name)
		}
	}
	// The shared options are both (checked by the compiler).
	var _, _ grpckit.ServerOption = grpckit.WithTracerProvider(nil), grpckit.WithOTelOptions()
	var _, _ grpckit.DialOption = grpckit.WithMeterProvider(nil), grpckit.WithPropagators(nil)
}
