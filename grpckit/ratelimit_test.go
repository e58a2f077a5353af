package grpckit_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/problem"
)

// retryDelay returns the RetryInfo delay in err's status details.
func retryDelay(err error) (time.Duration, bool) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

func quotaFailure(err error) *errdetails.QuotaFailure {
	for _, d := range status.Convert(err).Details() {
		if qf, ok := d.(*errdetails.QuotaFailure); ok {
			return qf
		}
	}
	return nil
}

// A MemoryLimiter on a fake clock: the second call in the same instant is
// denied with the exact wait in RetryInfo, and admitted once it has passed.
// chargeAll exempts nothing: the tests call the health service, which is
// exempt by default.
func chargeAll(string) bool { return false }

func TestRateLimitMemoryLimiter(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	limiter := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: 2 * time.Second, Burst: 1}, guard.WithClock(clock.Now))
	rec := newRecorder()
	sopts := grpckit.ServerOptions(slog.New(rec), grpckit.WithRateLimit(grpckit.RateLimitConfig{
		Limiter: limiter,
		Key:     grpckit.KeyFromMetadata("x-api-key"),
		Exempt:  chargeAll,
	}))
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
	client := healthpb.NewHealthClient(conn)
	alice := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", "alice")
	bob := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", "bob")

	check := func(ctx context.Context) error {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: bOK})
		return err
	}
	if err := check(alice); err != nil {
		t.Fatalf("first Check(alice) err = %v; want nil", err)
	}
	clock.Advance(500 * time.Millisecond)
	err := check(alice)
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "rate limit exceeded" {
		t.Fatalf("second Check(alice) = %v %q; want ResourceExhausted %q", st.Code(), st.Message(), "rate limit exceeded")
	}
	if d, ok := retryDelay(err); !ok || d != 1500*time.Millisecond {
		t.Errorf("RetryInfo delay = %v, %v; want 1.5s, true", d, ok)
	}
	if qf := quotaFailure(err); qf == nil || len(qf.GetViolations()) != 1 || !strings.Contains(qf.GetViolations()[0].GetDescription(), "1 per 2s") ||
		strings.Contains(qf.String(), "alice") {
		t.Errorf("QuotaFailure = %v; want one violation naming the limit and not the key", qf)
	}
	// A denied stream is rejected before the handler sends anything.
	if err := watchOnce(alice, client, bOK); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("Watch(alice) while limited = %v; want ResourceExhausted", err)
	}
	if err := check(bob); err != nil {
		t.Errorf("Check(bob) err = %v; want nil: keys are limited separately", err)
	}
	clock.Advance(1500 * time.Millisecond)
	if err := check(alice); err != nil {
		t.Errorf("Check(alice) after the retry delay err = %v; want nil", err)
	}

	var denials int
	for _, l := range rec.find("grpc request") {
		if l.attrs["code"].String() == codes.ResourceExhausted.String() {
			denials++
			if l.level != slog.LevelInfo {
				t.Errorf("denial logged at %v; want INFO", l.level)
			}
		}
	}
	if denials != 2 {
		t.Errorf("access log has %d ResourceExhausted lines; want 2", denials)
	}
}

func TestRateLimitOutcomes(t *testing.T) {
	t.Parallel()
	errRedis := errors.New("redis: connection refused")
	denied := guard.Decision{Allowed: false, RetryAfter: 3 * time.Second}
	tests := []struct {
		name       string
		decision   guard.Decision
		limitErr   error
		failClosed bool
		key        grpckit.KeyFunc
		md         []string
		exempt     bool
		wantCode   codes.Code
		wantMsg    string
		wantCalls  int    // limiter calls
		wantLog    string // message of the expected log record, if any
	}{
		{name: "allowed", decision: guard.Decision{Allowed: true}, md: []string{"x-api-key", "k"}, wantCode: codes.OK, wantCalls: 1},
		{name: "denied", decision: denied, md: []string{"x-api-key", "k"}, wantCode: codes.ResourceExhausted, wantMsg: "rate limit exceeded", wantCalls: 1},
		{name: "no key", decision: denied, wantCode: codes.InvalidArgument, wantMsg: "cannot identify client", wantLog: "grpckit: rate limit: cannot identify client"},
		{name: "empty key", decision: denied, md: []string{"x-api-key", ""}, wantCode: codes.InvalidArgument, wantMsg: "cannot identify client", wantLog: "grpckit: rate limit: cannot identify client"},
		{name: "long key", decision: denied, md: []string{"x-api-key", strings.Repeat("k", 513)}, wantCode: codes.InvalidArgument, wantMsg: "cannot identify client"},
		{
			name: "problem key error", decision: denied,
			key:      func(context.Context) (string, error) { return "", problem.Unauthorized("api key required") },
			wantCode: codes.Unauthenticated, wantMsg: "api key required",
		},
		{name: "limiter error fails open", limitErr: errRedis, md: []string{"x-api-key", "k"}, wantCode: codes.OK, wantCalls: 1, wantLog: "grpckit: rate limiter failed"},
		{name: "limiter error fails closed", limitErr: errRedis, failClosed: true, md: []string{"x-api-key", "k"}, wantCode: codes.Unavailable, wantMsg: "rate limiter unavailable", wantCalls: 1, wantLog: "grpckit: rate limiter failed"},
		{name: "exempt", decision: denied, exempt: true, wantCode: codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			limiter := &fakeLimiter{decision: tc.decision, err: tc.limitErr}
			key := tc.key
			if key == nil {
				key = grpckit.KeyFromMetadata("x-api-key")
			}
			cfg := grpckit.RateLimitConfig{Limiter: limiter, Key: key, FailClosed: tc.failClosed, Exempt: chargeAll}
			if tc.exempt {
				cfg.Exempt = func(m string) bool { return m == healthpb.Health_Check_FullMethodName }
			}
			rec := newRecorder()
			conn := startServer(t, grpckit.ServerOptions(slog.New(rec), grpckit.WithRateLimit(cfg)),
				func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
			ctx := t.Context()
			if tc.md != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, tc.md...)
			}
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: bOK})
			if st := status.Convert(err); st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Errorf("Check() = %v %q; want %v %q", st.Code(), st.Message(), tc.wantCode, tc.wantMsg)
			}
			if n := len(limiter.seen()); n != tc.wantCalls {
				t.Errorf("limiter called %d times; want %d", n, tc.wantCalls)
			}
			if tc.wantCode == codes.ResourceExhausted {
				if d, ok := retryDelay(err); !ok || d != tc.decision.RetryAfter {
					t.Errorf("RetryInfo delay = %v, %v; want %v, true", d, ok, tc.decision.RetryAfter)
				}
			}
			if tc.wantLog != "" {
				lines := rec.find(tc.wantLog)
				if len(lines) != 1 {
					t.Fatalf("%q log records = %d; want 1", tc.wantLog, len(lines))
				}
				if got := lines[0].attrs["method"].String(); got != healthpb.Health_Check_FullMethodName {
					t.Errorf("%q log method = %q; want %q", tc.wantLog, got, healthpb.Health_Check_FullMethodName)
				}
				if strings.Contains(lines[0].attrs["error"].String(), "kkk") {
					t.Errorf("%q log contains the client's key", tc.wantLog)
				}
			}
		})
	}
}

func TestRateLimitMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	limiter := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Minute, Burst: 1}, guard.WithClock(clock.Now))
	cfg := grpckit.RateLimitConfig{Limiter: limiter, Key: func(context.Context) (string, error) { return "k", nil }, Exempt: chargeAll}
	conn := startServer(t, grpckit.ServerOptions(slog.New(slog.DiscardHandler), grpckit.WithMeterProvider(mp), grpckit.WithRateLimit(cfg)),
		func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
	client := healthpb.NewHealthClient(conn)
	for range 3 {
		_, _ = client.Check(t.Context(), &healthpb.HealthCheckRequest{Service: bOK})
	}
	// otelgrpc records rpc.server.* when the server handles the RPC's end,
	// which can come after the client has its response: collect until it
	// is there (bounded), then check everything on that collection.
	var rm metricdata.ResourceMetrics
	for end := time.Now().Add(10 * time.Second); ; {
		if err := reader.Collect(t.Context(), &rm); err != nil {
			t.Fatalf("Collect() err = %v", err)
		}
		if hasMetricPrefix(rm, "rpc.server.") || time.Now().After(end) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := map[string]int64{}
	sawRPCMetric := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if strings.HasPrefix(m.Name, "rpc.server.") {
				sawRPCMetric = true
			}
			if m.Name != "chassis.ratelimit.decisions" {
				continue
			}
			if sm.Scope.Name != "github.com/chassis-go/chassis/grpckit" {
				t.Errorf("chassis.ratelimit.decisions scope = %q; want the grpckit import path", sm.Scope.Name)
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				d, _ := dp.Attributes.Value("chassis.decision")
				l, _ := dp.Attributes.Value("chassis.limiter")
				got[d.AsString()+"/"+l.AsString()] += dp.Value
			}
		}
	}
	if got["allowed/memory"] != 1 || got["denied/memory"] != 2 || len(got) != 2 {
		t.Errorf("chassis.ratelimit.decisions = %v; want allowed/memory 1, denied/memory 2", got)
	}
	if !sawRPCMetric {
		t.Errorf("no rpc.server.* metric from the otelgrpc stats handler on the given MeterProvider")
	}
}

// hasMetricPrefix reports whether rm holds a metric whose name starts
// with prefix.
func hasMetricPrefix(rm metricdata.ResourceMetrics, prefix string) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if strings.HasPrefix(m.Name, prefix) {
				return true
			}
		}
	}
	return false
}

func TestKeyFromPeer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		addr    net.Addr
		want    string
		wantErr error
	}{
		{"ipv4", &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5555}, "192.0.2.7", nil},
		{"ipv4-mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7", nil},
		{"ipv6 zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"}, "fe80::1", nil},
		{"ipv6 long form", &net.TCPAddr{IP: net.ParseIP("2001:0db8:0000:0000:0000:0000:0000:0001"), Port: 1}, "2001:db8::1", nil},
		{"udp-like string", &net.UDPAddr{IP: net.ParseIP("198.51.100.1"), Port: 53}, "198.51.100.1", nil},
		{"unix socket", &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, "", guard.ErrNoClientIP},
		{"no addr", nil, "", guard.ErrNoClientIP},
	}
	key := grpckit.KeyFromPeer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tc.addr != nil {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: tc.addr})
			}
			got, err := key(ctx)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("KeyFromPeer()(%v) = %q, %v; want %q, %v", tc.addr, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// Over a real TCP connection, KeyFromPeer keys by the loopback address.
func TestKeyFromPeerTCP(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limiter := &fakeLimiter{decision: guard.Decision{Allowed: true}}
	srv := grpc.NewServer(grpckit.ServerOptions(slog.New(slog.DiscardHandler),
		grpckit.WithRateLimit(grpckit.RateLimitConfig{Limiter: limiter, Key: grpckit.KeyFromPeer(), Exempt: chargeAll}))...)
	healthpb.RegisterHealthServer(srv, scriptedHealth{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	defer func() {
		srv.Stop()
		<-done
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: bOK}); err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	if keys := limiter.seen(); len(keys) != 1 || keys[0] != "127.0.0.1" {
		t.Errorf("limiter keys = %v; want [127.0.0.1]", keys)
	}
}

func TestKeyFromMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		md      metadata.MD
		want    string
		wantErr bool
	}{
		{"present", metadata.Pairs("x-api-key", "abc"), "abc", false},
		{"first of several", metadata.Pairs("x-api-key", "abc", "x-api-key", "def"), "abc", false},
		{"mixed case map key", metadata.MD{"X-Api-Key": {"abc"}}, "abc", false},
		{"missing", metadata.Pairs("other", "abc"), "", true},
		{"empty", metadata.Pairs("x-api-key", ""), "", true},
		{"512 bytes", metadata.Pairs("x-api-key", strings.Repeat("a", 512)), strings.Repeat("a", 512), false},
		{"513 bytes", metadata.Pairs("x-api-key", strings.Repeat("a", 513)), "", true},
		{"no metadata", nil, "", true},
	}
	key := grpckit.KeyFromMetadata("X-API-Key")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			got, err := key(ctx)
			if got != tc.want || (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, guard.ErrNoKey)) {
				t.Errorf("KeyFromMetadata(X-API-Key)(%v) = %q, %v; want %q, error %v wrapping guard.ErrNoKey", tc.md, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRateLimitPanics(t *testing.T) {
	t.Parallel()
	key := grpckit.KeyFromPeer()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"nil limiter", func() { grpckit.WithRateLimit(grpckit.RateLimitConfig{Key: key}) }, "grpckit.WithRateLimit: cfg.Limiter is nil"},
		{"nil key", func() { grpckit.WithRateLimit(grpckit.RateLimitConfig{Limiter: &fakeLimiter{}}) }, "grpckit.WithRateLimit: cfg.Key is nil"},
		{"empty metadata name", func() { grpckit.KeyFromMetadata("") }, "grpckit.KeyFromMetadata: name is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
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
