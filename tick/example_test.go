package tick_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/lifecycle"
	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/redislock"
)

// A job runs under lifecycle.Run with the service's other components, and
// stops with them. Here the job's first run (at once) ends the program.
func ExampleEvery() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	purge := tick.Every("purge-notes", time.Hour, func(ctx context.Context) error {
		fmt.Println("purging expired notes")
		stop() // a real job would not; this one ends the example
		return nil
	}, tick.Timeout(5*time.Minute))

	checker := health.New()
	checker.Add("job:purge-notes", purge.Check(3), health.NonCritical())

	err := lifecycle.Run(ctx, purge.Run)
	fmt.Println("stopped:", err)
	// Output:
	// purging expired notes
	// stopped: <nil>
}

// Cron runs a job at the activations of a cron expression, which may come
// from configuration.
func ExampleCron() {
	job, err := tick.Cron("nightly-report", "CRON_TZ=UTC 30 2 * * *", func(context.Context) error { return nil })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(job.Name())
	_, err = tick.Cron("bad", "0 0 30 2 *", func(context.Context) error { return nil })
	fmt.Println(err)
	// Output:
	// nightly-report
	// tick: cron expression "0 0 30 2 *" matches no date in the next five years
}

// WithLock makes a job a singleton across replicas: each replica
// schedules it, and at each tick only the replica that gets the lease runs
// it (the others skip the tick). Each lease comes with a fencing token that
// grows from holder to holder. Here two replicas share one Redis and run
// one after the other.
func ExampleWithLock() {
	mr, _ := miniredis.Run() // a real service dials its Redis
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locker := redislock.New(rdb)

	for replica := 1; replica <= 2; replica++ {
		ctx, stop := context.WithCancel(context.Background())
		job := tick.Every("report", time.Hour, func(ctx context.Context) error {
			token, _ := tick.FencingToken(ctx)
			fmt.Printf("replica %d runs with fencing token %d\n", replica, token)
			stop() // one run each, for the example
			return nil
		}, tick.WithLock(locker))
		_ = job.Run(ctx)
	}
	// Output:
	// replica 1 runs with fencing token 1
	// replica 2 runs with fencing token 2
}
