package redislock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/redislock"
)

// With a Redis lock, at most one replica runs the job at a time; the run
// reads its lease's fencing token to pass along with its writes.
func ExampleNew() {
	mr, _ := miniredis.Run() // a real service dials its Redis
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	job := tick.Every("purge-notes", time.Hour, func(ctx context.Context) error {
		token, _ := tick.FencingToken(ctx)
		fmt.Println("purging under fencing token", token)
		stop() // this example runs once
		return nil
	}, tick.WithLock(redislock.New(rdb)))

	err := job.Run(ctx)
	fmt.Println(err)
	// Output:
	// purging under fencing token 1
	// context canceled
}
