package rediscache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/cache/rediscache"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // in production: your Redis
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	type user struct{ Name string }
	cfg := rediscache.Config[user]{
		Local: cache.Config[string, user]{Name: "users", TTL: 30 * time.Second},
		TTL:   10 * time.Minute,
	}
	replicaA := rediscache.New(rdb, cfg)
	defer replicaA.Close()
	replicaB := rediscache.New(rdb, cfg)
	defer replicaB.Close()

	ctx := context.Background()
	fromDB := func(_ context.Context, id string) (user, error) {
		fmt.Println("database query for", id)
		return user{Name: "ada"}, nil
	}
	a, _ := replicaA.GetOrLoad(ctx, "42", fromDB) // loads, fills Redis
	b, _ := replicaB.GetOrLoad(ctx, "42", fromDB) // from Redis: no query
	fmt.Println(a.Name, b.Name)
	// Output:
	// database query for 42
	// ada ada
}
