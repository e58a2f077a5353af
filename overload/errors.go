package overload

import (
	"context"
	"errors"
)

// ErrOverloaded is matched (with errors.Is) by every error [Limiter.Acquire]
// returns when it refuses work: the work was not admitted and must not be
// started. The error is an *[OverloadError], which says why.
var ErrOverloaded = errors.New("overload: overloaded")

// Reason is why [Limiter.Acquire] refused work. The zero Reason is
// ReasonLimit.
type Reason uint8

// Reasons for a refusal.
const (
	// ReasonLimit: the limit (less the headroom kept for higher priorities)
	// was reached and there is no queue (Config.MaxQueue is 0).
	ReasonLimit Reason = iota
	// ReasonQueueFull: the limit was reached and the queue was full, or the
	// work waited in the queue and was pushed out by work of a higher
	// priority.
	ReasonQueueFull
	// ReasonDeadline: the caller's deadline leaves less time than the
	// limiter's estimate of the service time, so the work could not finish
	// in time. The error also matches context.DeadlineExceeded.
	ReasonDeadline
	// ReasonQueueTimeout: the work waited in the queue for Config.MaxWait
	// (or for as long as its deadline allowed) without being admitted.
	ReasonQueueTimeout

	numReasons = 4
)

// String returns "limit", "queue_full", "deadline" or "queue_timeout", the
// values of the chassis.overload.reason metric attribute.
func (r Reason) String() string {
	switch r {
	case ReasonLimit:
		return "limit"
	case ReasonQueueFull:
		return "queue_full"
	case ReasonDeadline:
		return "deadline"
	case ReasonQueueTimeout:
		return "queue_timeout"
	}
	return "unknown"
}

// OverloadError is the error [Limiter.Acquire] returns when it refuses work.
// errors.Is(err, ErrOverloaded) is true for every OverloadError, and
// errors.Is(err, context.DeadlineExceeded) is true for ReasonDeadline.
//
// The limiter returns shared, preallocated values (a refusal allocates
// nothing): treat an OverloadError as read-only. Its text is API.
type OverloadError struct {
	// Reason says why the work was refused.
	Reason Reason
	// Priority is the priority the work asked for.
	Priority Priority
}

// Error returns "overload: <priority> work refused: <reason>", for example
// "overload: sheddable work refused: limit".
func (e *OverloadError) Error() string {
	return "overload: " + e.Priority.String() + " work refused: " + e.Reason.String()
}

// Is reports whether target is ErrOverloaded.
func (e *OverloadError) Is(target error) bool { return target == ErrOverloaded }

// Unwrap returns context.DeadlineExceeded for ReasonDeadline (the work could
// not have finished before the caller's deadline), and nil otherwise.
func (e *OverloadError) Unwrap() error {
	if e.Reason == ReasonDeadline {
		return context.DeadlineExceeded
	}
	return nil
}
