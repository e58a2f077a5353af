package lifecycle_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/chassis-go/chassis/lifecycle"
)

func ExampleRun() {
	ctx, cancel := context.WithCancel(context.Background())
	jobs := make(chan string)

	worker := func(ctx context.Context) error {
		for {
			select {
			case j := <-jobs:
				fmt.Println("processed", j)
			case <-ctx.Done():
				fmt.Println("worker stopping")
				return nil
			}
		}
	}
	producer := func(ctx context.Context) error {
		for _, j := range []string{"a", "b"} {
			jobs <- j
		}
		cancel() // stop the service, as SIGTERM would
		<-ctx.Done()
		return nil
	}

	err := lifecycle.Run(ctx, worker, producer)
	fmt.Println("Run:", err)
	// Output:
	// processed a
	// processed b
	// worker stopping
	// Run: <nil>
}

func ExampleRun_failure() {
	errBroken := errors.New("queue: connection lost")
	consumer := func(ctx context.Context) error { return errBroken }
	server := func(ctx context.Context) error {
		<-ctx.Done() // cancelled because the consumer failed
		fmt.Println("server stopping:", context.Cause(ctx))
		return nil
	}

	err := lifecycle.Run(context.Background(), consumer, server)
	fmt.Println("Run:", err, errors.Is(err, errBroken))
	// Output:
	// server stopping: queue: connection lost
	// Run: queue: connection lost true
}
