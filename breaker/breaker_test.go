package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var errDown = errors.New("down")

// run sends one call through b with the given outcome and returns Allow's
// error.
func run(b *breaker.Breaker, o breaker.Outcome) error {
	done, err := b.Allow()
	if err != nil {
		return err
	}
	done(o)
	return nil
}

// transitions records OnStateChange calls; it calls back into the breaker
// to show that no lock is held.
type transitions struct {
	mu  sync.Mutex
	b   *breaker.Breaker
	log []string
}

func (tr *transitions) hook(from, to breaker.State) {
	tr.mu.Lock()
	b := tr.b
	tr.mu.Unlock()
	now := b.State() // would deadlock if the breaker's lock were held
	_ = b.Counts()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = append(tr.log, fmt.Sprintf("%s->%s(%s)", from, to, now))
}

func (tr *transitions) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.log, " ")
}

func newBreaker(p breaker.Policy, clk *fakeclock.Clock) (*breaker.Breaker, *transitions) {
	tr := &transitions{}
	p.Clock = clk.Now
	p.OnStateChange = tr.hook
	b := breaker.New(p)
	tr.mu.Lock()
	tr.b = b
	tr.mu.Unlock()
	return b, tr
}

func TestBreaker_opensAndRecovers(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b, tr := newBreaker(breaker.Policy{ConsecutiveFailures: 3, OpenTimeout: time.Second}, clk)
	for i := range 3 {
		if err := run(b, breaker.Failure); err != nil {
			t.Fatalf("call %d err = %v; want let through", i, err)
		}
	}
	if st := b.State(); st != breaker.StateOpen {
		t.Fatalf("State() after 3 failures = %v; want open", st)
	}
	if err := run(b, breaker.Success); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Allow() while open err = %v; want ErrOpen", err)
	}
	c := b.Counts()
	if want := epoch.Add(time.Second); c.State != breaker.StateOpen || !c.OpenUntil.Equal(want) {
		t.Errorf("Counts() = %+v; want open until %v", c, want)
	}
	clk.Advance(time.Second)
	if err := run(b, breaker.Success); err != nil {
		t.Fatalf("probe after OpenTimeout err = %v; want let through", err)
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Errorf("State() after a successful probe = %v; want closed", st)
	}
	want := "closed->open(open) open->half_open(half_open) half_open->closed(closed)"
	if got := tr.String(); got != want {
		t.Errorf("transitions = %q; want %q", got, want)
	}
}

func TestBreaker_successResetsTheRun(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b, _ := newBreaker(breaker.Policy{ConsecutiveFailures: 2}, clk)
	for range 10 {
		_ = run(b, breaker.Failure)
		_ = run(b, breaker.Success)
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Errorf("State() after alternating outcomes = %v; want closed", st)
	}
	_ = run(b, breaker.Ignored)
	_ = run(b, breaker.Failure)
	if c := b.Counts(); c.ConsecutiveFailures != 1 {
		t.Errorf("Counts().ConsecutiveFailures = %d; want 1", c.ConsecutiveFailures)
	}
}

func TestBreaker_halfOpenLimitsProbes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outcome breaker.Outcome
		want    breaker.State
	}{
		{"probes succeed", breaker.Success, breaker.StateClosed},
		{"a probe fails", breaker.Failure, breaker.StateOpen},
		{"probes ignored", breaker.Ignored, breaker.StateHalfOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(epoch)
			b, _ := newBreaker(breaker.Policy{ConsecutiveFailures: 1, HalfOpenProbes: 2, OpenTimeout: time.Second}, clk)
			_ = run(b, breaker.Failure)
			clk.Advance(time.Second)
			d1, err1 := b.Allow()
			d2, err2 := b.Allow()
			if err1 != nil || err2 != nil {
				t.Fatalf("two probes: %v, %v; want both let through", err1, err2)
			}
			if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
				t.Errorf("third concurrent probe err = %v; want ErrOpen", err)
			}
			d1(tc.outcome)
			d1(breaker.Failure) // a second call of one done is ignored
			d2(tc.outcome)
			if st := b.State(); st != tc.want {
				t.Errorf("State() = %v; want %v", st, tc.want)
			}
			if tc.outcome == breaker.Ignored {
				// Ignored probes freed their slots.
				if err := run(b, breaker.Success); err != nil {
					t.Errorf("probe after ignored probes err = %v; want let through", err)
				}
			}
		})
	}
}

func TestBreaker_staleOutcomesAreDropped(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b, _ := newBreaker(breaker.Policy{ConsecutiveFailures: 1, OpenTimeout: time.Second}, clk)
	slow, _ := b.Allow() // let through while closed, ends after the breaker opened
	_ = run(b, breaker.Failure)
	clk.Advance(time.Second)
	probe, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	slow(breaker.Failure) // from the closed generation: must not reopen
	if st := b.State(); st != breaker.StateHalfOpen {
		t.Errorf("State() after a stale failure = %v; want half_open", st)
	}
	probe(breaker.Success)
	if st := b.State(); st != breaker.StateClosed {
		t.Errorf("State() after the probe = %v; want closed", st)
	}
}

func TestBreaker_failureRatio(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b, _ := newBreaker(breaker.Policy{ConsecutiveFailures: -1, FailureRatio: 0.5, MinRequests: 4, Window: 10 * time.Second}, clk)
	for _, o := range []breaker.Outcome{breaker.Failure, breaker.Success, breaker.Failure} {
		_ = run(b, o)
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("State() below MinRequests = %v; want closed", st)
	}
	if c := b.Counts(); c.Requests != 3 || c.Failures != 2 {
		t.Errorf("Counts() = %+v; want 3 requests, 2 failures", c)
	}
	clk.Advance(11 * time.Second) // the window forgets them
	for _, o := range []breaker.Outcome{breaker.Success, breaker.Success, breaker.Failure} {
		_ = run(b, o)
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("State() after the window moved = %v; want closed", st)
	}
	_ = run(b, breaker.Failure) // 2 of 4
	if st := b.State(); st != breaker.StateOpen {
		t.Errorf("State() at 2 failures of 4 = %v; want open", st)
	}
}

func TestExecute(t *testing.T) {
	t.Parallel()
	errNotFound := errors.New("not found")
	clk := fakeclock.New(epoch)
	b := breaker.New(breaker.Policy{ConsecutiveFailures: 2, Clock: clk.Now,
		IsFailure: func(err error) bool { return !errors.Is(err, errNotFound) }})
	ctx := context.Background()
	call := func(ctx context.Context, err error) error {
		_, got := breaker.Execute(ctx, b, func(context.Context) (int, error) { return 1, err })
		return got
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for range 5 {
		_ = call(ctx, errNotFound)   // success per IsFailure
		_ = call(cancelled, errDown) // ignored: the caller gave up
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("State() after not-found and cancelled calls = %v; want closed", st)
	}
	_ = call(ctx, errDown)
	_ = call(ctx, errDown)
	ran := false
	_, err := breaker.Execute(ctx, b, func(context.Context) (int, error) { ran = true; return 0, nil })
	if !errors.Is(err, breaker.ErrOpen) || ran {
		t.Errorf("Execute while open = %v (fn ran: %v); want ErrOpen without running fn", err, ran)
	}
	if got, want := err.Error(), "breaker: open"; got != want {
		t.Errorf("ErrOpen text = %q; want %q", got, want)
	}
}

// mustPanic runs f and reports whether it panicked.
func mustPanic(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

func TestBreaker_panicDuringProbeReleasesSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		hook      bool // OnStateChange panics on open->half_open
		reopened  bool // the panic was recorded as a failure
		panicking func(b *breaker.Breaker)
	}{
		{"in fn", false, true, func(b *breaker.Breaker) {
			_, _ = breaker.Execute(context.Background(), b, func(context.Context) (int, error) { panic("fn") })
		}},
		{"in IsFailure", false, true, func(b *breaker.Breaker) {
			_, _ = breaker.Execute(context.Background(), b, func(context.Context) (int, error) { return 0, errDown })
		}},
		{"in OnStateChange", true, false, func(b *breaker.Breaker) { _, _ = b.Allow() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(epoch)
			var hookPanicked, classifyPanics bool
			var mu sync.Mutex
			b := breaker.New(breaker.Policy{ConsecutiveFailures: 1, HalfOpenProbes: 2, OpenTimeout: time.Second, Clock: clk.Now,
				IsFailure: func(error) bool {
					mu.Lock()
					defer mu.Unlock()
					if classifyPanics {
						classifyPanics = false
						panic("IsFailure")
					}
					return true
				},
				OnStateChange: func(_, to breaker.State) {
					mu.Lock()
					defer mu.Unlock()
					if tc.hook && to == breaker.StateHalfOpen && !hookPanicked {
						hookPanicked = true
						panic("OnStateChange")
					}
				}})
			_ = run(b, breaker.Failure)
			clk.Advance(time.Second)
			mu.Lock()
			classifyPanics = tc.name == "in IsFailure"
			mu.Unlock()
			if !mustPanic(func() { tc.panicking(b) }) {
				t.Fatal("probe did not panic")
			}
			if tc.reopened {
				if st := b.State(); st != breaker.StateOpen {
					t.Errorf("State() after a panicking probe = %v; want open (a panic is a failure)", st)
				}
				clk.Advance(time.Second)
			}
			// Both probe slots are free, and the breaker can close.
			d1, err1 := b.Allow()
			d2, err2 := b.Allow()
			if err1 != nil || err2 != nil {
				t.Fatalf("two probes after the panic: %v, %v; want both let through", err1, err2)
			}
			d1(breaker.Success)
			d2(breaker.Success)
			if st := b.State(); st != breaker.StateClosed {
				t.Errorf("State() after two successful probes = %v; want closed", st)
			}
		})
	}
}

func TestBreaker_concurrent(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	b, _ := newBreaker(breaker.Policy{ConsecutiveFailures: 3, FailureRatio: 0.5, HalfOpenProbes: 3, OpenTimeout: time.Millisecond}, clk)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				done, err := b.Allow()
				if err == nil {
					done(breaker.Outcome((g + i) % 3))
				}
				if i%100 == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	// Whatever state the storm left, the breaker recovers.
	clk.Advance(time.Second)
	for range 3 {
		_ = run(b, breaker.Success)
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Errorf("State() after recovery = %v; want closed", st)
	}
}

func TestPolicy_invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		p     breaker.Policy
		field string
	}{
		{"NaN ratio", breaker.Policy{FailureRatio: math.NaN()}, "FailureRatio"},
		{"ratio above 1", breaker.Policy{FailureRatio: 1.5}, "FailureRatio"},
		{"no trigger", breaker.Policy{ConsecutiveFailures: -1}, "ConsecutiveFailures"},
		{"negative MinRequests", breaker.Policy{MinRequests: -1}, "MinRequests"},
		{"negative Window", breaker.Policy{Window: -1}, "Window"},
		{"tiny Window", breaker.Policy{Window: 5}, "Window"},
		{"negative OpenTimeout", breaker.Policy{OpenTimeout: -1}, "OpenTimeout"},
		{"negative HalfOpenProbes", breaker.Policy{HalfOpenProbes: -1}, "HalfOpenProbes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "breaker: "+tc.field) {
				t.Errorf("Validate() = %v; want an error naming %s", err, tc.field)
			}
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "breaker.New: "+tc.field) || !strings.Contains(msg, "; ") {
					t.Errorf("New panic = %q; want \"breaker.New: %s ...; fix\"", msg, tc.field)
				}
			}()
			breaker.New(tc.p)
		})
	}
	if err := (breaker.Policy{}).Validate(); err != nil {
		t.Errorf("zero Policy Validate() = %v; want nil", err)
	}
}

// TestNilOptions shows CONTRIBUTING.md's rule 3 for a config struct: nil
// hooks and a nil Clock mean the defaults.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	b := breaker.New(breaker.Policy{Clock: nil, OnStateChange: nil, IsFailure: nil, ConsecutiveFailures: 1})
	_, err := breaker.Execute(context.Background(), b, func(context.Context) (int, error) { return 0, errDown })
	if !errors.Is(err, errDown) || b.State() != breaker.StateOpen {
		t.Errorf("Execute = %v, State() = %v; want errDown, open", err, b.State())
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{breaker.StateClosed.String(), "closed"},
		{breaker.StateOpen.String(), "open"},
		{breaker.StateHalfOpen.String(), "half_open"},
		{breaker.State(9).String(), "unknown"},
		{breaker.Ignored.String(), "ignored"},
		{breaker.Success.String(), "success"},
		{breaker.Failure.String(), "failure"},
		{breaker.Outcome(9).String(), "unknown"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q; want %q", tc.got, tc.want)
		}
	}
}

func BenchmarkExecute(b *testing.B) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	b.Run("closed", func(b *testing.B) {
		br := breaker.New(breaker.Policy{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := breaker.Execute(ctx, br, ok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		br := breaker.New(breaker.Policy{ConsecutiveFailures: 1, OpenTimeout: time.Hour})
		_, _ = breaker.Execute(ctx, br, func(context.Context) (int, error) { return 0, errDown })
		b.ReportAllocs()
		for b.Loop() {
			if _, err := breaker.Execute(ctx, br, ok); err != breaker.ErrOpen {
				b.Fatal(err)
			}
		}
	})
	b.Run("closed_parallel", func(b *testing.B) {
		br := breaker.New(breaker.Policy{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = breaker.Execute(ctx, br, ok)
			}
		})
	})
}
