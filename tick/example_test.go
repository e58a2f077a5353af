package tick_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/lifecycle"
	"github.com/chassis-go/chassis/tick"
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
