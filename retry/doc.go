// Package retry retries a call to any dependency (SQL, Redis, Kafka, gRPC,
// HTTP) under one policy: a bounded number of attempts, exponential backoff
// with full jitter, an optional cap on elapsed time, delays a server asked
// for, and a retry budget shared by every caller of a dependency.
// Most callers need only [Do] or [DoValue] and a [Policy]:
//
//	err := retry.Do(ctx, retry.Policy{MaxAttempts: 4, Retryable: isTransient}, func(ctx context.Context) error {
//		return publish(ctx, msg)
//	})
//
// # What is retried
//
// Every error, unless Policy.Retryable says otherwise or the error is
// marked [Permanent]. An error marked with [After] is retried after the
// delay the server asked for instead of the backoff, or not at all if that
// is longer than Policy.MaxDelay. Only retry what is safe to repeat:
// idempotent operations, or transactions the database rolled back.
//
// # Timeouts
//
// The caller's context bounds everything: each try gets it, a wait ends
// when it ends, and no wait starts that would end after its deadline (the
// last error is returned at once instead). Policy.MaxElapsed adds a bound
// of its own. Per-try timeouts belong inside the function
// (context.WithTimeout around the one call), so that a slow try is cut
// short and retried while the caller's deadline still bounds the whole.
//
// # Retry budget
//
// A [Budget] bounds retries to a share of recent requests (Finagle's and
// Envoy's retry budget): when a dependency fails everything, it sees about
// (1+Ratio)× its normal load rather than MaxAttempts×, and recovers
// instead of drowning in retries. Share one Budget between every caller of
// one dependency: package call's Client uses one per Client
// (call.WithRetryBudget); pass the same *Budget in every Policy that
// targets the same database or service.
//
// # Composition with a breaker
//
// Put the retry outside the breaker, so that each try asks the breaker and
// an open breaker ends the retries at once:
//
//	retry.DoValue(ctx, rp, func(ctx context.Context) (T, error) {
//		v, err := breaker.Execute(ctx, b, fn)
//		if errors.Is(err, breaker.ErrOpen) {
//			return v, retry.Permanent(err)
//		}
//		return v, err
//	})
package retry
