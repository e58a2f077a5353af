package tick

import (
	"context"
	"errors"
)

// Locker grants leases that make a job a singleton across replicas; see
// [WithLock]. Implementations live in tick/redislock and tick/pglock.
// A Locker must be safe for concurrent use.
type Locker interface {
	// Acquire tries once, without waiting, to take the lease called name.
	// It returns an error matching [ErrLocked] when another holder has it,
	// and another error when it cannot tell (the lock service is
	// unreachable, ctx is done). On success the lease is held, and kept
	// alive by the Locker, until Release is called or it is lost.
	Acquire(ctx context.Context, name string) (Lease, error)
}

// Lease is one holding of a lock, from a successful [Locker.Acquire] until
// Release. Its methods are safe for concurrent use.
type Lease interface {
	// Token returns the lease's fencing token: a number that is larger for
	// every later lease of the same name, so that a store that records the
	// largest token it has seen can refuse writes from a holder that lost
	// its lease without noticing. Zero means the Locker gives no token.
	Token() int64
	// Lost returns a channel that is closed when the holder can no longer
	// be sure it holds the lease (renewal failed, the connection dropped).
	// It is never closed by Release.
	Lost() <-chan struct{}
	// Release gives the lease up so another holder may take it at once.
	// It is called exactly once. It must not give up a lease that has
	// passed to another holder, and must return promptly once ctx is done.
	Release(ctx context.Context) error
}

// ErrLocked is matched (with errors.Is) by the error a [Locker] returns
// when another holder has the lease. The job then skips the tick; the skip
// is not a failure.
var ErrLocked = errors.New("tick: lock held by another holder")

// ErrLeaseLost is the [context.Cause] of a run's context when the job's
// lease was lost during the run (see [Lease.Lost]). The run's context is
// cancelled as soon as the Locker reports the loss.
var ErrLeaseLost = errors.New("tick: lease lost")

// tokenKey is the context key of the fencing token.
type tokenKey struct{}

// FencingToken returns the fencing token of the lease under which the
// current run holds its lock, and whether there is one: false outside a
// run, without [WithLock], or with a Locker that gives no tokens. Pass it
// to the stores the run writes to, so that they can refuse a write from a
// holder whose lease has passed to another (see [Lease.Token]).
func FencingToken(ctx context.Context) (int64, bool) {
	t, ok := ctx.Value(tokenKey{}).(int64)
	return t, ok
}
