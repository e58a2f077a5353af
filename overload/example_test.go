package overload_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chassis-go/chassis/overload"
)

// Example shows the headroom kept for higher priorities: with a limit of
// 10, Sheddable work is refused from 7 units in flight, Default from 9 and
// Critical only at 10.
func Example() {
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(10)})
	ctx := context.Background()
	var held []*overload.Ticket
	for _, p := range []overload.Priority{overload.Sheddable, overload.Default, overload.Critical} {
		for {
			t, err := l.Acquire(ctx, p)
			if err != nil {
				fmt.Printf("%v refused at %d in flight: %v (ErrOverloaded: %v)\n", p, l.InFlight(), err, errors.Is(err, overload.ErrOverloaded))
				break
			}
			held = append(held, t)
		}
	}
	for _, t := range held {
		t.Done(overload.Success)
	}
	// Output:
	// sheddable refused at 7 in flight: overload: sheddable work refused: limit (ErrOverloaded: true)
	// default refused at 9 in flight: overload: default work refused: limit (ErrOverloaded: true)
	// critical refused at 10 in flight: overload: critical work refused: limit (ErrOverloaded: true)
}

func ExampleLimiter_Acquire() {
	l := overload.NewLimiter(overload.Config{})
	ctx := context.Background()

	t, err := l.Acquire(ctx, overload.Default)
	if err != nil {
		fmt.Println("refused:", err) // answer 503, or fail fast to the caller
		return
	}
	err = func(ctx context.Context) error { return nil }(ctx) // the work
	switch {
	case ctx.Err() != nil:
		t.Done(overload.Ignored) // the caller went away: says nothing about capacity
	case errors.Is(err, context.DeadlineExceeded):
		t.Done(overload.Dropped) // the work timed out: overload seen
	default:
		t.Done(overload.Success)
	}
	fmt.Println(l.Limit(), l.InFlight())
	// Output: 20 0
}

// ExampleLimiter_Status shows the snapshot an operator's page shows (for
// example through admin.ReporterFunc(func() any { return l.Status() })).
func ExampleLimiter_Status() {
	l := overload.NewLimiter(overload.Config{Name: "api", Algorithm: overload.Fixed(1)})
	t, _ := l.Acquire(context.Background(), overload.Critical)
	defer t.Done(overload.Success)
	_, _ = l.Acquire(context.Background(), overload.Sheddable)

	b, _ := json.Marshal(l.Status())
	fmt.Println(string(b))
	// Output: {"name":"api","algorithm":"fixed","limit":1,"in_flight":1,"queued":0,"baseline_ns":0,"rejected":{"sheddable":{"limit":1}}}
}
