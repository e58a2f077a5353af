package grpckit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/problem"
)

// outcome is what a behaviour must produce, whatever the option set.
type outcome struct {
	code  codes.Code
	msg   string
	level slog.Level
	panic bool
}

var outcomes = map[string]outcome{
	bOK:       {code: codes.OK, level: slog.LevelInfo},
	bProblem:  {code: codes.NotFound, msg: "no such note", level: slog.LevelInfo},
	bPanic:    {code: codes.Internal, msg: "internal error", level: slog.LevelError, panic: true},
	bPlain:    {code: codes.Internal, msg: "internal error", level: slog.LevelError},
	bStatus:   {code: codes.AlreadyExists, msg: "note exists", level: slog.LevelInfo},
	bDeadline: {code: codes.DeadlineExceeded, msg: "context deadline exceeded", level: slog.LevelError},
	bCanceled: {code: codes.Canceled, msg: "context canceled", level: slog.LevelInfo},
}

// optionSet is one way of configuring ServerOptions in the matrix.
type optionSet struct {
	name       string
	traceAware bool // the logger's handler adds trace ids itself
	tracing    bool // a TracerProvider with a span recorder
	rateLimit  bool // WithRateLimit with an allowing limiter keyed by metadata
	quiet      bool // QuietMethods for Check and Watch
}

var optionSets = []optionSet{
	{name: "defaults"},
	{name: "tracing", tracing: true},
	{name: "tracing+trace-aware-logger", tracing: true, traceAware: true},
	{name: "ratelimit", rateLimit: true},
	{name: "quiet", quiet: true},
	{name: "everything", tracing: true, rateLimit: true, quiet: true},
}

func TestServerOptionsMatrix(t *testing.T) {
	t.Parallel()
	for _, set := range optionSets {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(set.traceAware)
			var opts []grpckit.Option
			spans := newSpanWaiter()
			if set.tracing {
				opts = append(opts, grpckit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
			}
			limiter := &fakeLimiter{decision: guard.Decision{Allowed: true}}
			if set.rateLimit {
				opts = append(opts, grpckit.WithRateLimit(grpckit.RateLimitConfig{Limiter: limiter, Key: grpckit.KeyFromMetadata("X-Api-Key")}))
			}
			if set.quiet {
				opts = append(opts, grpckit.QuietMethods(healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName))
			}
			conn := startServer(t, grpckit.ServerOptions(slog.New(rec.handler()), opts...), func(s *grpc.Server) {
				healthpb.RegisterHealthServer(s, scriptedHealth{})
			})
			client := healthpb.NewHealthClient(conn)
			ctx := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", "tenant-1")

			calls := 0
			var logIDs []string // trace_id/span_id of access log lines
			for _, b := range []string{bOK, bProblem, bPanic, bPlain, bStatus, bDeadline, bCanceled} {
				want := outcomes[b]
				for _, kind := range []string{"unary", "stream"} {
					calls++
					before := len(rec.find("grpc request"))
					var err error
					method := healthpb.Health_Check_FullMethodName
					if kind == "unary" {
						_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: b})
					} else {
						method = healthpb.Health_Watch_FullMethodName
						err = watchOnce(ctx, client, b)
					}
					st := status.Convert(err)
					if st.Code() != want.code || st.Message() != want.msg {
						t.Errorf("%s %s: status = %v %q; want %v %q", kind, b, st.Code(), st.Message(), want.code, want.msg)
					}
					if strings.Contains(st.Message(), secret) {
						t.Errorf("%s %s: status message %q leaks the internal error", kind, b, st.Message())
					}

					lines := rec.find("grpc request")
					if set.quiet && want.level == slog.LevelInfo {
						if len(lines) != before {
							t.Errorf("%s %s: quiet method logged %d lines; want none", kind, b, len(lines)-before)
						}
						continue
					}
					if len(lines) != before+1 {
						t.Fatalf("%s %s: %d access log lines; want 1", kind, b, len(lines)-before)
					}
					line := lines[len(lines)-1]
					checkAccessLine(t, kind+" "+b, line, method, want)
					_, hasTrace := line.attrs["trace_id"]
					if wantTrace := set.tracing && !set.traceAware; hasTrace != wantTrace {
						t.Errorf("%s %s: trace_id logged = %v; want %v", kind, b, hasTrace, wantTrace)
					}
					if hasTrace {
						logIDs = append(logIDs, line.attrs["trace_id"].String()+"/"+line.attrs["span_id"].String())
					}
				}
			}

			if n := len(rec.find("grpc handler panic")); n != 2 {
				t.Errorf("panic log lines = %d; want 2 (unary and stream)", n)
			}
			for _, p := range rec.find("grpc handler panic") {
				if p.level != slog.LevelError || !strings.Contains(p.attrs["stack"].String(), "scriptedHealth") || !strings.Contains(p.attrs["panic"].String(), "boom") {
					t.Errorf("panic log = %v %v; want Error level with the panic value and a stack through the handler", p.level, p.attrs)
				}
			}
			if set.rateLimit {
				keys := limiter.seen()
				if len(keys) != calls || keys[0] != "tenant-1" {
					t.Errorf("limiter keys = %v; want %d times tenant-1", keys, calls)
				}
			}
			if set.tracing {
				ended := spans.waitEnded(t, calls) // a span ends after the client has its answer
				ids := map[string]bool{}
				for _, s := range ended {
					ids[s.SpanContext().TraceID().String()+"/"+s.SpanContext().SpanID().String()] = true
				}
				for _, id := range logIDs {
					if !ids[id] {
						t.Errorf("logged trace_id/span_id %s matches no server span", id)
					}
				}
				checkSpanCodes(t, ended)
			}
		})
	}
}

// watchOnce opens a Watch stream, expects one SERVING message and returns
// the error that ends the stream (nil for a clean end).
func watchOnce(ctx context.Context, client healthpb.HealthClient, service string) error {
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return err
	}
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return errors.New("first message is not SERVING")
	}
	_, err = stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func checkAccessLine(t *testing.T, name string, line logged, method string, want outcome) {
	t.Helper()
	if line.level != want.level {
		t.Errorf("%s: access log level = %v; want %v", name, line.level, want.level)
	}
	if got := line.attrs["method"].String(); got != method {
		t.Errorf("%s: access log method = %q; want %q", name, got, method)
	}
	if got := line.attrs["code"].String(); got != want.code.String() {
		t.Errorf("%s: access log code = %q; want %q", name, got, want.code.String())
	}
	if _, ok := line.attrs["duration"]; !ok {
		t.Errorf("%s: access log has no duration", name)
	}
	if got := line.attrs["peer"].String(); got != "bufconn" {
		t.Errorf("%s: access log peer = %q; want bufconn", name, got)
	}
	_, hasErr := line.attrs["error"]
	if hasErr != (want.code != codes.OK) {
		t.Errorf("%s: access log has error = %v; want %v", name, hasErr, want.code != codes.OK)
	}
	if got, ok := line.attrs["panic"]; ok != want.panic || (ok && !got.Bool()) {
		t.Errorf("%s: access log panic = %v; want %v", name, got, want.panic)
	}
}

// checkSpanCodes checks that the server spans carry the mapped codes, not
// the ones grpc would have derived from the raw errors.
func checkSpanCodes(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	got := map[string]int{}
	for _, s := range spans {
		for _, a := range s.Attributes() {
			if a.Key == "rpc.response.status_code" {
				got[a.Value.AsString()]++
			}
		}
	}
	for _, want := range []problem.Code{problem.CodeOK, problem.CodeNotFound, problem.CodeInternal, problem.CodeAlreadyExists, problem.CodeDeadlineExceeded, problem.CodeCanceled} {
		if got[want.String()] == 0 {
			t.Errorf("server spans by rpc.response.status_code = %v; none with %s", got, want)
		}
	}
	if got["UNKNOWN"] != 0 {
		t.Errorf("server spans by rpc.response.status_code = %v; want no UNKNOWN", got)
	}
}

// An interceptor added after ServerOptions runs inside Recovery and
// StatusMapping: its panics are recovered, its problems mapped.
func TestServerOptionsUserInterceptors(t *testing.T) {
	t.Parallel()
	rec := newRecorder(false)
	auth := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		switch req.(*healthpb.HealthCheckRequest).GetService() {
		case "deny":
			return nil, problem.Unauthorized("who are you?")
		case "explode":
			panic("interceptor bug")
		}
		return handler(ctx, req)
	}
	streamAuth := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return problem.Forbidden("no streams for you")
	}
	sopts := append(grpckit.ServerOptions(slog.New(rec)),
		grpc.ChainUnaryInterceptor(auth), grpc.ChainStreamInterceptor(streamAuth))
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
	client := healthpb.NewHealthClient(conn)

	tests := []struct {
		service string
		code    codes.Code
		msg     string
	}{
		{"deny", codes.Unauthenticated, "who are you?"},
		{"explode", codes.Internal, "internal error"},
		{bOK, codes.OK, ""},
	}
	for _, tc := range tests {
		_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{Service: tc.service})
		if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
			t.Errorf("Check(%q) = %v %q; want %v %q", tc.service, st.Code(), st.Message(), tc.code, tc.msg)
		}
	}
	err := watchOnce(t.Context(), client, bOK)
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "no streams for you" {
		t.Errorf("Watch() = %v %q; want PermissionDenied %q", st.Code(), st.Message(), "no streams for you")
	}
	if n := len(rec.find("grpc handler panic")); n != 1 {
		t.Errorf("panic log lines = %d; want 1", n)
	}
}

// A problem with no Detail is sent with its Title; a problem's own Code
// wins over the one its status implies.
func TestServerOptionsProblemCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"detail", problem.Conflict("version mismatch"), codes.Aborted, "version mismatch"},
		{"title only", &problem.Error{Status: 404, Title: "Not Found"}, codes.NotFound, "Not Found"},
		{"explicit code", problem.BadRequest("stale").WithCode(problem.CodeFailedPrecondition), codes.FailedPrecondition, "stale"},
		{"problem wrapping a status", problem.Unavailable("try later").Wrap(status.Error(codes.Internal, "inner")), codes.Unavailable, "try later"},
		{"joined", errors.Join(errors.New("x"), problem.TooManyRequests("slow down")), codes.ResourceExhausted, "slow down"},
		// A wrapped status passes through as grpc itself converts it: its code,
		// with the whole error text as the message.
		{"status wrapped", fmt.Errorf("seek: %w", status.Error(codes.OutOfRange, "too far")), codes.OutOfRange, "seek: rpc error: code = OutOfRange desc = too far"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := handlerFunc(func(context.Context) error { return tc.err })
			conn := startServer(t, grpckit.ServerOptions(slog.New(slog.DiscardHandler)), func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) })
			_, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
			if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("Check() with %v = %v %q; want %v %q", tc.err, st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// handlerFunc is a HealthServer whose Check returns what the func returns.
type handlerFunc func(context.Context) error

func (f handlerFunc) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := f(ctx); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}
func (f handlerFunc) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	return nil, status.Error(codes.Unimplemented, "no list")
}
func (f handlerFunc) Watch(*healthpb.HealthCheckRequest, healthpb.Health_WatchServer) error {
	return status.Error(codes.Unimplemented, "no watch")
}

// A handler that waits for the client's deadline and returns ctx.Err() is
// mapped and logged; the client sees DeadlineExceeded.
func TestServerOptionsClientDeadline(t *testing.T) {
	t.Parallel()
	rec := newRecorder(false)
	started := make(chan struct{}, 100)
	srv := handlerFunc(func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return nil // the warm-up call
		}
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	conn := startServer(t, grpckit.ServerOptions(slog.New(rec)), func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) })
	client := healthpb.NewHealthClient(conn)
	// Connect first, so that the deadline expires in the handler.
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("warm-up Check() err = %v", err)
	}
	// On a loaded machine a short deadline can expire before the handler
	// starts; try until one call reached it. Nothing asserts on time.
	reached := false
	for i := 0; i < 50 && !reached; i++ {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if code := status.Code(err); code != codes.DeadlineExceeded {
			t.Fatalf("Check() with an expired deadline = %v; want DeadlineExceeded", code)
		}
		select {
		case <-started:
			reached = true
		default:
		}
	}
	if !reached {
		t.Skip("no call reached the handler before its deadline in 50 tries")
	}
	// The server's line may come after the client gave up. Its code depends
	// on which comes first: the server's own timer (DeadlineExceeded, a
	// server fault) or the client's cancellation of the stream (Canceled).
	line := rec.waitFor(t, "grpc request", 2)[1]
	got := line.attrs["code"].String()
	switch {
	case got == codes.DeadlineExceeded.String() && line.level == slog.LevelError:
	case got == codes.Canceled.String() && line.level == slog.LevelInfo:
	default:
		t.Errorf("access log = %v %s; want ERROR DeadlineExceeded or INFO Canceled", line.level, got)
	}
}

func TestServerOptionsPanicsOnNilLogger(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "grpckit.ServerOptions: ") {
			t.Errorf("ServerOptions(nil) panic = %v; want a grpckit.ServerOptions message", r)
		}
	}()
	grpckit.ServerOptions(nil)
}
