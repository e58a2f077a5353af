package retry_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/retry"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var errFlaky = errors.New("flaky")

// recorder is a fake sleep that records the waits and never waits.
type recorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

func maxJitter(n int64) int64 { return n - 1 }

// failing returns a fn that fails with errs in turn, then succeeds, and
// counts its calls.
func failing(calls *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	errOther := errors.New("other")
	tests := []struct {
		name      string
		p         retry.Policy
		errs      []error
		wantErr   error
		wantCalls int
		wantWaits []time.Duration
	}{
		{"first try succeeds", retry.Policy{}, nil, nil, 1, nil},
		{"succeeds on the third", retry.Policy{}, []error{errFlaky, errFlaky}, nil, 3,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"attempts run out", retry.Policy{}, []error{errFlaky, errFlaky, errOther, errFlaky}, errOther, 3,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"MaxAttempts 1 disables retries", retry.Policy{MaxAttempts: 1}, []error{errFlaky}, errFlaky, 1, nil},
		{"MaxDelay caps the backoff", retry.Policy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second},
			[]error{errFlaky, errFlaky, errFlaky, errFlaky}, nil, 5,
			[]time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"Permanent stops", retry.Policy{}, []error{retry.Permanent(errFlaky)}, errFlaky, 1, nil},
		{"wrapped Permanent stops", retry.Policy{}, []error{errors.Join(errOther, retry.Permanent(errFlaky))}, errFlaky, 1, nil},
		{"Retryable says no", retry.Policy{Retryable: func(err error) bool { return !errors.Is(err, errOther) }},
			[]error{errFlaky, errOther}, errOther, 2, []time.Duration{100 * time.Millisecond}},
		{"After replaces the backoff", retry.Policy{}, []error{retry.After(2*time.Second, errFlaky)}, nil, 2,
			[]time.Duration{2 * time.Second}},
		{"After beyond MaxDelay is not retried", retry.Policy{MaxDelay: time.Second}, []error{retry.After(2*time.Second, errFlaky)}, errFlaky, 1, nil},
		{"negative After is 0", retry.Policy{}, []error{retry.After(-time.Second, errFlaky)}, nil, 2, []time.Duration{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			calls := 0
			p := retry.WithHooks(tc.p, nil, rec.sleep, maxJitter)
			err := retry.Do(context.Background(), p, failing(&calls, tc.errs...))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Do() = %v; want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("Do() made %d calls; want %d", calls, tc.wantCalls)
			}
			if !equal(rec.waits, tc.wantWaits) {
				t.Errorf("Do() waited %v; want %v", rec.waits, tc.wantWaits)
			}
		})
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDo_contextBoundsEverything(t *testing.T) {
	t.Parallel()
	t.Run("done before the first try", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		if err := retry.Do(ctx, retry.Policy{}, failing(&calls)); !errors.Is(err, context.Canceled) || calls != 0 {
			t.Errorf("Do(cancelled ctx) = %v after %d calls; want context.Canceled after 0", err, calls)
		}
	})
	t.Run("cancelled during the wait", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		sleep := func(ctx context.Context, _ time.Duration) error {
			cancel() // the caller gives up while Do waits
			<-ctx.Done()
			return ctx.Err()
		}
		p := retry.WithHooks(retry.Policy{}, nil, sleep, nil)
		if err := retry.Do(ctx, p, failing(&calls, errFlaky, errFlaky)); !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("Do() = %v after %d calls; want context.Canceled after 1", err, calls)
		}
	})
	t.Run("cancelled during the try", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := retry.Do(ctx, retry.Policy{}, func(context.Context) error { calls++; cancel(); return errFlaky })
		if !errors.Is(err, errFlaky) || calls != 1 {
			t.Errorf("Do() = %v after %d calls; want fn's error after 1", err, calls)
		}
	})
	t.Run("real wait ends with the context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		// Retryable runs after Do's own check of ctx and before the wait:
		// cancelling there ends a one-hour wait at once.
		p := retry.Policy{BaseDelay: time.Hour, Retryable: func(error) bool { cancel(); return true }}
		calls := 0
		start := time.Now()
		if err := retry.Do(ctx, p, failing(&calls, errFlaky, errFlaky)); !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("Do() = %v after %d calls; want context.Canceled after 1", err, calls)
		}
		if el := time.Since(start); el > time.Minute {
			t.Errorf("Do() took %v; want it to end with the context", el)
		}
	})
	t.Run("no wait past the deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		var rec recorder
		calls := 0
		p := retry.WithHooks(retry.Policy{BaseDelay: 2 * time.Hour}, nil, rec.sleep, maxJitter)
		if err := retry.Do(ctx, p, failing(&calls, errFlaky)); !errors.Is(err, errFlaky) || calls != 1 || len(rec.waits) != 0 {
			t.Errorf("Do() = %v after %d calls, waits %v; want errFlaky at once", err, calls, rec.waits)
		}
	})
}

func TestDo_maxElapsed(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	var rec recorder
	p := retry.WithHooks(retry.Policy{MaxAttempts: 10, MaxElapsed: 2500 * time.Millisecond}, clk.Now, rec.sleep, func(int64) int64 { return 0 })
	calls := 0
	err := retry.Do(context.Background(), p, func(context.Context) error {
		calls++
		clk.Advance(time.Second)
		return errFlaky
	})
	if !errors.Is(err, errFlaky) || calls != 3 {
		t.Errorf("Do() = %v after %d calls; want errFlaky after 3 (the 4th would start after 3s > 2.5s)", err, calls)
	}
}

func TestDoValue(t *testing.T) {
	t.Parallel()
	p := retry.WithHooks(retry.Policy{}, nil, (&recorder{}).sleep, nil)
	calls := 0
	v, err := retry.DoValue(context.Background(), p, func(context.Context) (string, error) {
		calls++
		if calls < 2 {
			return "partial", errFlaky
		}
		return "done", nil
	})
	if v != "done" || err != nil || calls != 2 {
		t.Errorf("DoValue() = %q, %v after %d calls; want done, nil after 2", v, err, calls)
	}
	v, err = retry.DoValue(context.Background(), retry.Policy{MaxAttempts: 1}, func(context.Context) (string, error) {
		return "partial", errFlaky
	})
	if v != "partial" || !errors.Is(err, errFlaky) {
		t.Errorf("DoValue() = %q, %v; want the last try's value and error", v, err)
	}
}

func TestPermanentAndAfter(t *testing.T) {
	t.Parallel()
	if retry.Permanent(nil) != nil || retry.After(time.Second, nil) != nil {
		t.Error("Permanent(nil) or After(d, nil) is not nil")
	}
	for _, err := range []error{retry.Permanent(errFlaky), retry.After(time.Second, errFlaky)} {
		if err.Error() != "flaky" || !errors.Is(err, errFlaky) {
			t.Errorf("marked error = %q; want it to read and unwrap as flaky", err)
		}
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b := retry.NewBudget(retry.BudgetConfig{Ratio: 0.5, MinPerSecond: -1, Window: 10 * time.Second, Clock: clk.Now})
	p := retry.WithHooks(retry.Policy{Budget: b}, nil, (&recorder{}).sleep, nil)
	calls := 0
	fn := func(context.Context) error { calls++; return errFlaky }
	for range 10 {
		_ = retry.Do(context.Background(), p, fn)
	}
	// 10 requests allow 5 retries, whatever MaxAttempts says.
	if calls != 15 {
		t.Errorf("10 failing Do calls made %d tries; want 15 (10 + 50%% of 10)", calls)
	}
	// The window forgets: after it moved, only new requests count.
	clk.Advance(11 * time.Second)
	if b.TryWithdraw() {
		t.Error("TryWithdraw() with no requests in the window and no floor = true; want false")
	}
	b.Deposit()
	b.Deposit()
	if !b.TryWithdraw() || b.TryWithdraw() {
		t.Error("after 2 requests at 50%: want exactly one withdrawal")
	}

	floor := retry.NewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: 1, Window: 2 * time.Second, Clock: clk.Now})
	n := 0
	for floor.TryWithdraw() {
		n++
	}
	if n != 2 {
		t.Errorf("a floor of 1/s over 2s allowed %d retries; want 2", n)
	}
}

func TestBudget_sharedConcurrently(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b := retry.NewBudget(retry.BudgetConfig{Ratio: 0.1, MinPerSecond: -1, Clock: clk.Now})
	p := retry.WithHooks(retry.Policy{Budget: b, MaxAttempts: 5}, nil, (&recorder{}).sleep, nil)
	var mu sync.Mutex
	calls := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_ = retry.Do(context.Background(), p, func(context.Context) error {
					mu.Lock()
					calls++
					mu.Unlock()
					return errFlaky
				})
			}
		})
	}
	wg.Wait()
	if calls > 800+80 {
		t.Errorf("800 failing calls made %d tries; want at most 880 (10%% retries)", calls)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    retry.Policy
		n    int
		want time.Duration
	}{
		{"defaults first", retry.Policy{}, 1, 100 * time.Millisecond},
		{"defaults second", retry.Policy{}, 2, 200 * time.Millisecond},
		{"defaults capped", retry.Policy{}, 10, 5 * time.Second},
		{"attempt 63", retry.Policy{}, 63, 5 * time.Second},
		{"attempt 1000", retry.Policy{}, 1000, 5 * time.Second},
		{"huge base capped by max", retry.Policy{BaseDelay: math.MaxInt64 / 2, MaxDelay: math.MaxInt64}, 3, math.MaxInt64 - 1},
		{"max delay MaxInt64 attempt 1000", retry.Policy{BaseDelay: 1, MaxDelay: math.MaxInt64}, 1000, math.MaxInt64 - 1},
		{"base larger than default max", retry.Policy{BaseDelay: 10 * time.Second}, 1, 10 * time.Second},
		{"1ns base", retry.Policy{BaseDelay: 1, MaxDelay: time.Second}, 5, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.Backoff(tc.n, maxJitter); got != tc.want {
				t.Errorf("backoff(%d) with %+v = %v; want %v", tc.n, tc.p, got, tc.want)
			}
			if got := tc.p.Backoff(tc.n, func(int64) int64 { return 0 }); got != 0 {
				t.Errorf("backoff(%d) with zero jitter = %v; want 0", tc.n, got)
			}
		})
	}
	for n := 1; n <= 100; n++ {
		if d := (retry.Policy{}).Backoff(n, nil); d < 0 || d > 5*time.Second {
			t.Fatalf("backoff(%d) with real jitter = %v; want in [0, 5s]", n, d)
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix, field string
		err                 func() error
		f                   func()
	}{
		{"negative MaxAttempts", "retry.Do: ", "MaxAttempts",
			retry.Policy{MaxAttempts: -1}.Validate, func() { _ = retry.Do(context.Background(), retry.Policy{MaxAttempts: -1}, nil) }},
		{"negative BaseDelay", "retry.DoValue: ", "BaseDelay", retry.Policy{BaseDelay: -1}.Validate, func() {
			_, _ = retry.DoValue[int](context.Background(), retry.Policy{BaseDelay: -1}, nil)
		}},
		{"negative MaxDelay", "retry.Do: ", "MaxDelay",
			retry.Policy{MaxDelay: -1}.Validate, func() { _ = retry.Do(context.Background(), retry.Policy{MaxDelay: -1}, nil) }},
		{"negative MaxElapsed", "retry.Do: ", "MaxElapsed",
			retry.Policy{MaxElapsed: -1}.Validate, func() { _ = retry.Do(context.Background(), retry.Policy{MaxElapsed: -1}, nil) }},
		{"NaN Ratio", "retry.NewBudget: ", "Ratio",
			retry.BudgetConfig{Ratio: math.NaN()}.Validate, func() { retry.NewBudget(retry.BudgetConfig{Ratio: math.NaN()}) }},
		{"infinite floor", "retry.NewBudget: ", "MinPerSecond",
			retry.BudgetConfig{MinPerSecond: math.Inf(1)}.Validate, func() { retry.NewBudget(retry.BudgetConfig{MinPerSecond: math.Inf(1)}) }},
		{"negative Window", "retry.NewBudget: ", "Window",
			retry.BudgetConfig{Window: -1}.Validate, func() { retry.NewBudget(retry.BudgetConfig{Window: -1}) }},
		{"tiny Window", "retry.NewBudget: ", "Window",
			retry.BudgetConfig{Window: 5}.Validate, func() { retry.NewBudget(retry.BudgetConfig{Window: 5}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.err(); err == nil || !strings.HasPrefix(err.Error(), "retry: "+tc.field) {
				t.Errorf("Validate() = %v; want an error naming %s", err, tc.field)
			}
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.prefix+tc.field) || !strings.Contains(msg, "; ") {
					t.Errorf("panic = %q; want %q, the field and a fix", msg, tc.prefix)
				}
			}()
			tc.f()
		})
	}
	if err := (retry.Policy{}).Validate(); err != nil {
		t.Errorf("zero Policy Validate() = %v; want nil", err)
	}
	if err := (retry.BudgetConfig{}).Validate(); err != nil {
		t.Errorf("zero BudgetConfig Validate() = %v; want nil", err)
	}
}

// TestNilOptions shows CONTRIBUTING.md's rule 3 for config structs: a nil
// Budget, Retryable or Clock means the default.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	p := retry.WithHooks(retry.Policy{Budget: nil, Retryable: nil}, nil, (&recorder{}).sleep, nil)
	calls := 0
	if err := retry.Do(context.Background(), p, failing(&calls, errFlaky)); err != nil || calls != 2 {
		t.Errorf("Do with nil Budget and Retryable = %v after %d calls; want nil after 2", err, calls)
	}
	b := retry.NewBudget(retry.BudgetConfig{Clock: nil})
	if !b.TryWithdraw() {
		t.Error("default budget refused its first retry; want the 10/s floor to allow it")
	}
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	b.Run("first_try", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := retry.Do(ctx, retry.Policy{}, func(context.Context) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three_attempts", func(b *testing.B) {
		p := retry.Policy{BaseDelay: 1, MaxDelay: 1}
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if err := retry.Do(ctx, p, func(context.Context) error {
				if n++; n < 3 {
					return errFlaky
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first_try_budget", func(b *testing.B) {
		p := retry.Policy{Budget: retry.NewBudget(retry.BudgetConfig{})}
		b.ReportAllocs()
		for b.Loop() {
			_ = retry.Do(ctx, p, func(context.Context) error { return nil })
		}
	})
}
