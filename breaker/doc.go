// Package breaker provides a circuit breaker for calls to any dependency:
// an HTTP or gRPC service, a database, a cache, a queue.
// Most callers need only [New] and [Execute]; [Breaker.Allow] is the
// two-step form for calls that cannot be wrapped in a function.
//
//	b := breaker.New(breaker.Policy{}) // zero fields: defaults
//	v, err := breaker.Execute(ctx, b, func(ctx context.Context) (string, error) {
//		return rdb.Get(ctx, key).Result()
//	})
//	if errors.Is(err, breaker.ErrOpen) { ... } // failed fast, nothing called
//
// # How it decides
//
// A closed breaker lets every call through and counts outcomes. It opens
// after [Policy.ConsecutiveFailures] failures in a row or, with
// [Policy.FailureRatio], when the share of failures over a rolling window
// reaches the ratio. An open breaker rejects calls with [ErrOpen] for
// [Policy.OpenTimeout], then turns half-open and lets
// [Policy.HalfOpenProbes] calls through at a time: as many successes close
// it, any failure opens it again.
//
// Each call that was let through ends with one [Outcome]: Success, Failure,
// or Ignored. A call cut short because the caller's own context ended is
// Ignored: the caller gave up, which says nothing about the dependency, so
// it never trips the breaker, and a half-open probe cut short that way
// frees its slot at once.
//
// # Every exit path releases
//
// What a call takes (a half-open probe slot) is released on every exit
// path, panics included: Execute records a panic in fn as a Failure, then
// lets the panic go on; a panic in [Policy.OnStateChange] while a probe is
// being admitted frees the probe slot. Users of Allow call done in a
// defer.
//
// # Hooks and locks
//
// [Policy.OnStateChange] is called after the breaker's lock is released, so
// it may call [Breaker.State] or [Breaker.Counts]. The closed path takes no
// lock: Allow is one atomic load and a successful done another, and
// neither allocates; an open rejection allocates nothing either (see
// BENCHMARKS.md for the numbers against sony/gobreaker and failsafe-go).
//
// The breaker is what package call uses for its per-host breakers
// (call.WithBreaker); grpckit uses it per target.
package breaker
