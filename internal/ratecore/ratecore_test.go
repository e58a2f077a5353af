package ratecore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/internal/ratecore"
	"github.com/chassis-go/chassis/problem"
)

type stub struct {
	allow bool
	err   error
}

func (s stub) Allow(context.Context, string) (bool, error) { return s.allow, s.err }

type kinded struct{ stub }

func (kinded) Kind() string { return "redis" }

func TestDecide(t *testing.T) {
	errDown := errors.New("redis down")
	unauth := problem.Unauthorized("no token")
	tests := []struct {
		name       string
		lim        stub
		key        error
		exempt     bool
		failClosed bool
		want       ratecore.Verdict
		problem    *problem.Error
		counted    string
		logged     string
	}{
		{name: "exempt", exempt: true, want: ratecore.Exempt},
		{name: "allowed", lim: stub{allow: true}, want: ratecore.Allowed, counted: "allowed"},
		{name: "denied", lim: stub{}, want: ratecore.Denied, counted: "denied"},
		{name: "key error", key: errors.New("no ip"), want: ratecore.NoKey, logged: `level=WARN msg="t: rate limit: cannot identify client"`},
		{name: "key problem", key: fmt.Errorf("auth: %w", unauth), want: ratecore.NoKey, problem: unauth, logged: "WARN"},
		{name: "fail open", lim: stub{err: errDown}, want: ratecore.FailedOpen, counted: "error", logged: `level=ERROR msg="t: rate limiter failed"`},
		{name: "fail closed", lim: stub{err: errDown}, failClosed: true, want: ratecore.FailedClosed, counted: "error", logged: "fail_closed=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			reader := sdkmetric.NewManualReader()
			c := ratecore.New(ratecore.Config[string, bool]{
				Name: "t", Scope: "s", Kind: ratecore.Kind(kinded{tt.lim}, false),
				Limiter: kinded{tt.lim}, Allowed: func(b bool) bool { return b },
				Key:           func(context.Context, string) (string, error) { return "k", tt.key },
				Exempt:        func(string) bool { return tt.exempt },
				FailClosed:    tt.failClosed,
				Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
				LogAttrs:      func(r string) []slog.Attr { return []slog.Attr{slog.String("method", r)} },
				MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
			})
			res := c.Decide(context.Background(), "/m")
			if res.Verdict != tt.want {
				t.Fatalf("Verdict = %d; want %d", res.Verdict, tt.want)
			}
			if res.Problem != tt.problem {
				t.Errorf("Problem = %v; want %v", res.Problem, tt.problem)
			}
			if got := counted(t, reader); got != tt.counted {
				t.Errorf("counted %q; want %q", got, tt.counted)
			}
			if tt.logged == "" && logs.Len() > 0 || !strings.Contains(logs.String(), tt.logged) {
				t.Errorf("log = %q; want it to contain %q", logs.String(), tt.logged)
			}
			if tt.logged != "" && !strings.Contains(logs.String(), "method=/m") {
				t.Errorf("log = %q; want method=/m", logs.String())
			}
		})
	}
}

// counted returns "decision/limiter" of the only data point, or "".
func counted(t *testing.T, r *sdkmetric.ManualReader) string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				d, _ := dp.Attributes.Value("chassis.decision")
				l, _ := dp.Attributes.Value("chassis.limiter")
				if l.AsString() != "redis" || sm.Scope.Name != "s" || m.Name != "chassis.ratelimit.decisions" || got != "" {
					t.Errorf("point %v in %s/%s", dp.Attributes, sm.Scope.Name, m.Name)
				}
				got = d.AsString()
			}
		}
	}
	return got
}

func TestLogThrottled(t *testing.T) {
	var logs bytes.Buffer
	clock := fakeclock.New(time.Unix(1000, 0))
	c := ratecore.New(ratecore.Config[string, bool]{
		Limiter: stub{err: errors.New("down")}, Allowed: func(b bool) bool { return b },
		Key:    func(context.Context, string) (string, error) { return "k", nil },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    clock.Now,
	})
	for range 5 {
		c.Decide(context.Background(), "")
	}
	clock.Advance(time.Second)
	c.Decide(context.Background(), "")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "suppressed=4") {
		t.Fatalf("log lines = %q; want 2, the second with suppressed=4", lines)
	}
}

func TestKind(t *testing.T) {
	for _, tt := range []struct {
		l      any
		memory bool
		want   string
	}{{stub{}, true, "memory"}, {kinded{}, false, "redis"}, {stub{}, false, "other"}} {
		if got := ratecore.Kind(tt.l, tt.memory); got != tt.want {
			t.Errorf("Kind(%T, %v) = %q; want %q", tt.l, tt.memory, got, tt.want)
		}
	}
}
