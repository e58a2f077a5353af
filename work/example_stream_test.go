package work_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/chassis-go/chassis/work"
)

// An ordered stream emits results in input order although items run
// concurrently. The producer closes its channel; the output closes after the
// last result.
func ExampleStream() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the workers if we return before draining

	lines := make(chan string)
	go func() {
		defer close(lines)
		for _, l := range []string{"alpha", "beta", "gamma"} {
			select {
			case lines <- l:
			case <-ctx.Done():
				return
			}
		}
	}()

	out := work.Stream(ctx, lines, func(_ context.Context, l string) (string, error) {
		return strings.ToUpper(l), nil
	}, work.Workers(3), work.Ordered())
	for r := range out {
		fmt.Println(r.Index, r.Value, r.Err)
	}
	// Output:
	// 0 ALPHA <nil>
	// 1 BETA <nil>
	// 2 GAMMA <nil>
}

// A consumer that stops early cancels the context instead of draining: the
// workers exit and the output channel closes.
func ExampleStream_stopEarly() {
	ctx, cancel := context.WithCancel(context.Background())
	nums := make(chan int)
	go func() { // a producer that never closes its channel
		for i := 0; ; i++ {
			select {
			case nums <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	out := work.Stream(ctx, nums, func(_ context.Context, n int) (int, error) {
		return n * n, nil
	}, work.Ordered())
	for r := range out {
		if r.Value > 10 {
			fmt.Println("first square above 10:", r.Value)
			break
		}
	}
	cancel()
	for range out { // optional: wait for the channel to close
	}
	// Output: first square above 10: 16
}
