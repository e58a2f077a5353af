package redislimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
)

func ExampleNew() {
	// An in-process Redis for the example; use your Redis's address.
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	mr.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) // a fixed TIME, for a stable output

	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	// 3 requests per minute per client, shared by every replica using this Redis.
	limiter := redislimit.New(rdb, guard.Limit{Rate: 3, Per: time.Minute},
		redislimit.WithTimeout(5*time.Second), // generous for the example; the default is 50ms
		redislimit.WithDegraded(redislimit.FailLocal))
	for range 4 {
		d, err := limiter.Allow(context.Background(), "client-42")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("allowed=%v remaining=%d retry-after=%v\n", d.Allowed, d.Remaining, d.RetryAfter)
	}
	fmt.Println(limiter.RedisKey("client-42"))
	// Output:
	// allowed=true remaining=2 retry-after=0s
	// allowed=true remaining=1 retry-after=0s
	// allowed=true remaining=0 retry-after=0s
	// allowed=false remaining=0 retry-after=20s
	// chassis:rl:{client-42}
}
