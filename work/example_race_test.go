package work_test

import (
	"context"
	"fmt"

	"github.com/chassis-go/chassis/work"
)

// Race returns the first success; the slower replica sees its context
// cancelled.
func ExampleRace() {
	ctx := context.Background()
	replica := func(name string, ready <-chan struct{}) func(context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			select {
			case <-ready:
				return "answer from " + name, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	fast := make(chan struct{})
	close(fast)
	slow := make(chan struct{}) // never ready
	answer, err := work.Race(ctx, replica("eu-west", slow), replica("us-east", fast))
	fmt.Println(answer, err)
	// Output: answer from us-east <nil>
}
