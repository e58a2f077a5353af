package tick_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/tick"
)

// TestNilOptions shows the option rules: a nil Option is ignored and a nil
// value means the default.
func TestNilOptions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := 0
	job := tick.Every("nil-options", time.Hour, func(context.Context) error {
		runs++
		cancel() // the first tick is at once; stop after it
		return nil
	}, nil, tick.WithLogger(nil), tick.WithMeterProvider(nil), tick.WithLock(nil))
	if err := job.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
	if runs != 1 {
		t.Errorf("fn ran %d times; want 1", runs)
	}
	if got := job.Name(); got != "nil-options" {
		t.Errorf("Name() = %q; want nil-options", got)
	}
}

func TestConstructorPanics(t *testing.T) {
	fn := func(context.Context) error { return nil }
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"empty name", func() { tick.Every("", time.Second, fn) }, "tick.Every: name is empty"},
		{"zero interval", func() { tick.Every("j", 0, fn) }, "tick.Every: interval is 0s"},
		{"nil fn", func() { tick.Every("j", time.Second, nil) }, `tick.Every: fn of job "j" is nil`},
		{"jitter too long", func() { tick.Every("j", time.Second, fn, tick.Jitter(time.Second)) }, "tick.Every: Jitter 1s is not shorter than the interval 1s"},
		{"cron nil fn", func() { _, _ = tick.Cron("j", "@hourly", nil) }, `tick.Cron: fn of job "j" is nil`},
		{"negative timeout", func() { tick.Timeout(-1) }, "tick.Timeout: d is -1ns"},
		{"negative jitter", func() { tick.Jitter(-1) }, "tick.Jitter: d is -1ns"},
		{"negative start jitter", func() { tick.StartJitter(-1) }, "tick.StartJitter: d is -1ns"},
		{"unknown policy", func() { tick.OnError(9) }, "tick.OnError: unknown policy 9"},
		{"check k", func() { tick.Every("j", time.Second, fn).Check(0) }, "tick.Job.Check: k is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, "; ") {
					t.Errorf("panic = %q; want prefix %q and a fix after \"; \"", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}

func TestCronErrors(t *testing.T) {
	fn := func(context.Context) error { return nil }
	for _, spec := range []string{"", "* * *", "61 * * * *", "@fortnightly", "0 0 30 2 *", "CRON_TZ=Nowhere/Land * * * * *"} {
		if j, err := tick.Cron("j", spec, fn); err == nil || j != nil || !strings.HasPrefix(err.Error(), "tick: cron expression") {
			t.Errorf("Cron(%q) = %v, %v; want nil and a tick: cron expression error", spec, j, err)
		}
	}
	for _, spec := range []string{"*/5 * * * *", "@hourly", "@every 90m", "CRON_TZ=UTC 0 3 * * 1-5"} {
		if _, err := tick.Cron("j", spec, fn); err != nil {
			t.Errorf("Cron(%q) error = %v; want nil", spec, err)
		}
	}
}

func TestFencingTokenOutsideRun(t *testing.T) {
	if tok, ok := tick.FencingToken(context.Background()); ok || tok != 0 {
		t.Errorf("FencingToken(Background) = %d, %v; want 0, false", tok, ok)
	}
}

func TestErrorPolicyString(t *testing.T) {
	for p, want := range map[tick.ErrorPolicy]string{tick.Continue: "continue", tick.BackOff: "backoff", tick.Stop: "stop", 7: "ErrorPolicy(7)"} {
		if got := p.String(); got != want {
			t.Errorf("ErrorPolicy(%d).String() = %q; want %q", uint8(p), got, want)
		}
	}
}

// A cron expression may come from configuration: no input makes Cron panic.
func FuzzCron(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "@every 1h", "CRON_TZ=UTC 0 3 * * *", "0 0 30 2 *", "TZ=", "@every -1s", "*/0 * * * *", "1-0 * * * *"} {
		f.Add(s)
	}
	fn := func(context.Context) error { return nil }
	f.Fuzz(func(t *testing.T, spec string) {
		j, err := tick.Cron("fuzz", spec, fn)
		if (j == nil) == (err == nil) {
			t.Fatalf("Cron(%q) = %v, %v; want exactly one of a job and an error", spec, j, err)
		}
	})
}
