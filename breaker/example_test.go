package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chassis-go/chassis/breaker"
)

// errNil is what a Redis client returns for a missing key (go-redis's
// redis.Nil): an answer, not a sign of trouble.
var errNil = errors.New("redis: nil")

// fakeRedis stands in for a Redis client whose server went away.
type fakeRedis struct{ down bool }

func (r *fakeRedis) Get(_ context.Context, key string) (string, error) {
	switch {
	case r.down:
		return "", errors.New("dial tcp 10.0.0.7:6379: connection refused")
	case key == "missing":
		return "", errNil
	}
	return "value of " + key, nil
}

// A breaker around a Redis call: a missing key is not a failure, three
// connection errors in a row open the breaker, and while it is open calls
// fail at once with ErrOpen, so the service can fall back to the database
// instead of waiting on dial timeouts.
func ExampleExecute() {
	rdb := &fakeRedis{}
	b := breaker.New(breaker.Policy{
		ConsecutiveFailures: 3,
		OpenTimeout:         10 * time.Second,
		IsFailure:           func(err error) bool { return !errors.Is(err, errNil) },
		OnStateChange: func(from, to breaker.State) {
			fmt.Printf("breaker %s -> %s\n", from, to)
		},
	})
	get := func(key string) {
		v, err := breaker.Execute(context.Background(), b, func(ctx context.Context) (string, error) {
			return rdb.Get(ctx, key)
		})
		switch {
		case errors.Is(err, breaker.ErrOpen):
			fmt.Println(key, "-> skipped: breaker open, read the database instead")
		case err != nil:
			fmt.Println(key, "-> error:", err)
		default:
			fmt.Println(key, "->", v)
		}
	}
	get("user:1")
	get("missing")
	rdb.down = true
	for range 4 {
		get("user:2")
	}
	fmt.Println("state:", b.State())
	// Output:
	// user:1 -> value of user:1
	// missing -> error: redis: nil
	// user:2 -> error: dial tcp 10.0.0.7:6379: connection refused
	// user:2 -> error: dial tcp 10.0.0.7:6379: connection refused
	// breaker closed -> open
	// user:2 -> error: dial tcp 10.0.0.7:6379: connection refused
	// user:2 -> skipped: breaker open, read the database instead
	// state: open
}

// Allow is the two-step form, for a call that cannot be wrapped in a
// function. done is called in a defer so that a panic cannot skip it.
func ExampleBreaker_Allow() {
	b := breaker.New(breaker.Policy{})
	send := func(ctx context.Context) (err error) {
		done, err := b.Allow()
		if err != nil {
			return err // breaker.ErrOpen: nothing sent
		}
		outcome := breaker.Failure // if what follows panics
		defer func() { done(outcome) }()
		err = nil // ... send the request here ...
		switch {
		case err == nil:
			outcome = breaker.Success
		case ctx.Err() != nil:
			outcome = breaker.Ignored // the caller gave up
		}
		return err
	}
	fmt.Println(send(context.Background()), b.State())
	// Output: <nil> closed
}
