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
	name      string
	tracing   bool // a TracerProvider with a span recorder
	rateLimit bool // WithRateLimit with an allowing limiter keyed by metadata
	quiet     bool // QuietMethods for Check and Watch
}

var optionSets = []optionSet{
	{name: "defaults"},
	{name: "tracing", tracing: true},
	{name: "ratelimit", rateLimit: true},
	{name: "quiet", quiet: true},
	{name: "everything", tracing: true, rateLimit: true, quiet: true},
}

func TestServerOptionsMatrix(t *testing.T) {
	t.Parallel()
	for _, set := range optionSets {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			var opts []grpckit.ServerOption
			spans := newSpanWaiter()
			if set.tracing {
				opts = append(opts, grpckit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
			}
			limiter := &fakeLimiter{decision: guard.Decision{Allowed: true}}
			if set.rateLimit {
				opts = append(opts, grpckit.WithRateLimit(grpckit.RateLimitConfig{
					Limiter: limiter, Key: grpckit.KeyFromMetadata("X-Api-Key"),
					Exempt: func(string) bool { return false }, // health methods are exempt by default
				}))
			}
			if set.quiet {
				opts = append(opts, grpckit.QuietMethods(healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName))
			}
			conn := startServer(t, grpckit.ServerOptions(slog.New(rec), opts...), func(s *grpc.Server) {
				healthpb.RegisterHealthServer(s, scriptedHealth{})
			})
			client := healthpb.NewHealthClient(conn)
			ctx := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", "tenant-1")

			calls := 0
			var logIDs []string // trace_id/span_id of the access log lines' contexts
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
					// grpckit adds no trace ids itself: the handler
					// correlates from the context it is given.
					if _, added := line.attrs["trace_id"]; added {
						t.Errorf("%s %s: grpckit logged trace_id itself; the handler should add it", kind, b)
					}
					_, hasTrace := line.attrs["ctx_trace_id"]
					if hasTrace != set.tracing {
						t.Errorf("%s %s: span in the log context = %v; want %v", kind, b, hasTrace, set.tracing)
					}
					if hasTrace {
						logIDs = append(logIDs, line.attrs["ctx_trace_id"].String()+"/"+line.attrs["ctx_span_id"].String())
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
	rec := newRecorder()
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

// expiringCtx is a context with a far deadline that the test expires when
// it chooses: Done closes and Err becomes DeadlineExceeded, as if the
// deadline had passed, without depending on how fast the machine is.
type expiringCtx struct {
	context.Context
	deadline time.Time
	done     chan struct{}
}

func newExpiringCtx(parent context.Context) *expiringCtx {
	return &expiringCtx{Context: parent, deadline: time.Now().Add(time.Hour), done: make(chan struct{})}
}

func (c *expiringCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *expiringCtx) Done() <-chan struct{}       { return c.done }
func (c *expiringCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
func (c *expiringCtx) expire() { close(c.done) }

// A handler that waits until the client's deadline expires and returns
// ctx.Err() is mapped and logged; the client sees DeadlineExceeded. The
// test expires the deadline once the handler is running, so the call always
// reaches it.
func TestServerOptionsClientDeadline(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	started := make(chan struct{}, 1)
	srv := handlerFunc(func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("handler: the call has no deadline")
		}
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	conn := startServer(t, grpckit.ServerOptions(slog.New(rec)), func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) })
	client := healthpb.NewHealthClient(conn)
	ctx := newExpiringCtx(t.Context())
	result := make(chan error, 1)
	go func() {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		result <- err
	}()
	select {
	case <-started:
	case err := <-result:
		t.Fatalf("Check() returned %v before reaching the handler; want the handler reached", err)
	}
	ctx.expire()
	if code := status.Code(<-result); code != codes.DeadlineExceeded {
		t.Fatalf("Check() with an expired deadline = %v; want DeadlineExceeded", code)
	}
	// The client cancels the stream when its deadline expires, so the
	// handler's context ends with Canceled: a client error, at Info level.
	line := rec.waitFor(t, "grpc request", 1)[0]
	if got := line.attrs["code"].String(); got != codes.Canceled.String() || line.level != slog.LevelInfo {
		t.Errorf("access log = %v %s; want INFO Canceled", line.level, got)
	}
}

// TestNilOptions: nil options are ignored, and nil values given to options
// mean the defaults (the global providers).
func TestNilOptions(t *testing.T) {
	t.Parallel()
	var nilShared grpckit.Option
	var nilServer grpckit.ServerOption
	var nilDial grpckit.DialOption
	rec := newRecorder()
	sopts := grpckit.ServerOptions(slog.New(rec), nil, nilShared, nilServer,
		grpckit.WithTracerProvider(nil), grpckit.WithMeterProvider(nil), grpckit.WithPropagators(nil))
	dopts := grpckit.DialOptions(nil, nilShared, nilDial,
		grpckit.WithTracerProvider(nil), grpckit.WithMeterProvider(nil), grpckit.WithPropagators(nil))
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) }, dopts...)
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: bOK}); err != nil {
		t.Fatalf("Check() = %v; want OK", err)
	}
	if line := rec.waitFor(t, "grpc request", 1)[0]; line.attrs["code"].String() != "OK" {
		t.Errorf("access log code = %v; want OK", line.attrs["code"])
	}
}

// TestServerOptionsPanicValueBounded: a 10 MB panic value gives a bounded
// log line and status, and a self-referencing map does not crash.
func TestServerOptionsPanicValueBounded(t *testing.T) {
	t.Parallel()
	self := map[string]any{}
	self["self"] = self
	for name, v := range map[string]any{"10 MB": strings.Repeat("x", 10<<20), "self-referencing map": self} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			srv := handlerFunc(func(context.Context) error { panic(v) })
			conn := startServer(t, grpckit.ServerOptions(slog.New(rec)), func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) })
			_, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
				t.Errorf("Check() = %v; want Internal \"internal error\"", err)
			}
			p := rec.waitFor(t, "grpc handler panic", 1)[0]
			line := rec.waitFor(t, "grpc request", 1)[0]
			if n := len(p.attrs["panic"].String()); n > 1100 {
				t.Errorf("panic attribute is %d bytes; want at most about 1 KiB", n)
			}
			if n := len(line.attrs["error"].String()); n > 1200 {
				t.Errorf("access log error is %d bytes; want at most about 1 KiB", n)
			}
		})
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
