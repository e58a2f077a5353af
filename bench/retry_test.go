package bench

import (
	"context"
	"errors"
	"testing"

	retrygo "github.com/avast/retry-go/v4"
	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/chassis-go/chassis/retry"
)

// retryImpl is one implementation of "call fn, retrying up to 3 attempts in
// all with exponential backoff". Every implementation is configured with
// the smallest backoff it accepts (1ns, no cap above it), so that the
// benchmark measures the retry machinery rather than the sleeps; chassis's
// full jitter draws the 1ns wait from [0, 1ns], so about half its waits are
// 0 and skip the timer.
type retryImpl struct {
	name string
	new  func() func(ctx context.Context, fn func(context.Context) error) error
}

func retryImpls() []retryImpl {
	return []retryImpl{
		{"chassis", func() func(context.Context, func(context.Context) error) error {
			p := retry.Policy{MaxAttempts: 3, BaseDelay: 1, MaxDelay: 1}
			return func(ctx context.Context, fn func(context.Context) error) error {
				return retry.Do(ctx, p, fn)
			}
		}},
		{"backoff", func() func(context.Context, func(context.Context) error) error {
			// cenkalti/backoff/v5: Retry resets the backoff it is given.
			b := &backoff.ExponentialBackOff{InitialInterval: 1, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 1}
			return func(ctx context.Context, fn func(context.Context) error) error {
				_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, fn(ctx) },
					backoff.WithBackOff(b), backoff.WithMaxTries(3))
				return err
			}
		}},
		{"retrygo", func() func(context.Context, func(context.Context) error) error {
			// avast/retry-go/v4 with its default delay type (backoff
			// combined with random jitter) at 1ns.
			return func(ctx context.Context, fn func(context.Context) error) error {
				return retrygo.Do(func() error { return fn(ctx) },
					retrygo.Context(ctx), retrygo.Attempts(3), retrygo.Delay(1), retrygo.MaxDelay(1),
					retrygo.MaxJitter(1), retrygo.LastErrorOnly(true))
			}
		}},
		{"failsafe", func() func(context.Context, func(context.Context) error) error {
			rp := retrypolicy.NewBuilder[any]().WithMaxAttempts(3).WithBackoff(1, 2).ReturnLastFailure().Build()
			exec := failsafe.With[any](rp)
			return func(ctx context.Context, fn func(context.Context) error) error {
				return exec.WithContext(ctx).Run(func() error { return fn(ctx) })
			}
		}},
	}
}

var errTransient = errors.New("transient")

// BenchmarkRetryFirstTry is a call that succeeds at once: the cost a retry
// wrapper adds to every healthy call.
func BenchmarkRetryFirstTry(b *testing.B) {
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	for _, impl := range retryImpls() {
		b.Run(impl.name, func(b *testing.B) {
			do := impl.new()
			b.ReportAllocs()
			for b.Loop() {
				if err := do(ctx, ok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRetryThreeAttempts is a call that fails twice, then succeeds
// on the third attempt, with the smallest waits each library accepts.
func BenchmarkRetryThreeAttempts(b *testing.B) {
	ctx := context.Background()
	for _, impl := range retryImpls() {
		b.Run(impl.name, func(b *testing.B) {
			do := impl.new()
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := do(ctx, func(context.Context) error {
					if n++; n < 3 {
						return errTransient
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if n != 3 {
					b.Fatalf("%d attempts; want 3", n)
				}
			}
		})
	}
}
