package redisreplay_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/webhook"
	"github.com/chassis-go/chassis/webhook/redisreplay"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // stands in for the Redis the replicas share
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	v, _ := webhook.NewVerifier(secret)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	replicaA := v.Middleware(webhook.WithReplayCache(redisreplay.New(rdb)))(ok)
	replicaB := v.Middleware(webhook.WithReplayCache(redisreplay.New(rdb)))(ok)

	now := time.Now()
	sig, _ := webhook.Sign(secret, "msg_1", now, []byte("{}"))
	for _, h := range []http.Handler{replicaA, replicaB} { // the second is a replay
		r := httptest.NewRequest("POST", "/webhooks", strings.NewReader("{}"))
		r.Header.Set("webhook-id", "msg_1")
		r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		r.Header.Set("webhook-signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// 200
	// 401
}
