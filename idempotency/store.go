package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Store keeps idempotency records. [Middleware] calls it once or twice per
// request carrying an Idempotency-Key: Acquire, then Complete or Release.
// Implementations must be safe for concurrent use; [NewMemoryStore] and
// idempotency/redisstore are the two chassis provides.
//
// Keys are opaque, fixed-length strings (hex SHA-256 of the scope and the
// client's key), so a Store never sees client identities or raw keys.
// Tokens are random strings that identify one claim of a key: Complete and
// Release take effect only while that claim still holds the key.
type Store interface {
	// Acquire claims key for an execution identified by token when the Store
	// holds no live record for it: it stores an in-flight record carrying
	// fingerprint that expires after lockTTL unless completed or released,
	// and returns acquired = true. Otherwise it returns the live record
	// (in flight or done) and acquired = false. An error means the Store
	// could not decide; [ErrFull] means it has no room.
	Acquire(ctx context.Context, key, token, fingerprint string, lockTTL time.Duration) (rec Record, acquired bool, err error)

	// Complete replaces the in-flight record of key, if token still holds
	// it, with rec, kept for retention. It returns [ErrLockLost] if the
	// claim expired or was taken over, and nothing is stored.
	Complete(ctx context.Context, key, token string, rec Record, retention time.Duration) error

	// Release deletes the in-flight record of key if token still holds it,
	// so that a retry can run; otherwise it does nothing and returns nil.
	Release(ctx context.Context, key, token string) error
}

// Record is what a Store holds for one key. The zero Record is an in-flight
// record without fingerprint.
type Record struct {
	// Fingerprint is the hex SHA-256 of the request body that claimed the
	// key.
	Fingerprint string
	// Done is false while the first request is running and true once its
	// response is stored.
	Done bool
	// Status, Header and Body are the stored response (Done records only):
	// Header holds only the allowlisted headers.
	Status int
	Header http.Header
	Body   []byte
}

// ErrFull is returned by [MemoryStore.Acquire] when the store holds MaxKeys
// records and none of them can be evicted (all are in flight). [Middleware]
// answers 503 with Retry-After, whatever Config.FailOpen says: a full store
// is overload, not an outage.
var ErrFull = errors.New("idempotency: store full")

// ErrLockLost is returned by Store.Complete when the claim's in-flight record
// expired (the handler outlived the lock TTL) or was taken over; the response
// was sent but not stored.
var ErrLockLost = errors.New("idempotency: lock lost")
