package work_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/chassis-go/chassis/work"
)

func ExampleMap() {
	ctx := context.Background()
	words := []string{"one", "three", "five"}
	lengths, err := work.Map(ctx, words, func(_ context.Context, w string) (int, error) {
		return len(w), nil
	}, work.Workers(2))
	fmt.Println(lengths, err)
	// Output: [3 5 4] <nil>
}

// Every item runs; each failure is reported with its index, and the other
// results are valid.
func ExampleMap_errors() {
	ctx := context.Background()
	inputs := []string{"1", "two", "3", "four"}
	nums, err := work.Map(ctx, inputs, func(_ context.Context, s string) (int, error) {
		return strconv.Atoi(s)
	})
	fmt.Println(nums)
	var errs *work.Errors
	if errors.As(err, &errs) {
		for _, e := range errs.Errs {
			fmt.Printf("%q failed\n", inputs[e.Index])
		}
	}
	fmt.Println(errors.Is(err, strconv.ErrSyntax))
	// Output:
	// [1 0 3 0]
	// "two" failed
	// "four" failed
	// true
}

func ExampleAll() {
	ctx := context.Background()
	var a, b string
	err := work.All(ctx, []func(context.Context) error{
		func(context.Context) error { a = "users loaded"; return nil },
		func(context.Context) error { b = "orders loaded"; return nil },
	})
	fmt.Println(a, "/", b, "/", err)
	// Output: users loaded / orders loaded / <nil>
}

// With FailFast the first failure cancels the others and is returned alone.
func ExampleAll_failFast() {
	ctx := context.Background()
	err := work.All(ctx, []func(context.Context) error{
		func(ctx context.Context) error {
			<-ctx.Done() // a long task, cancelled by the failure below
			return ctx.Err()
		},
		func(context.Context) error { return errors.New("quota exceeded") },
	}, work.Workers(2), work.FailFast())
	fmt.Println(err)
	// Output: work: item 1: quota exceeded
}
