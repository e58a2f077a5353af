package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chassis-go/chassis/health"
)

func Example() {
	// A fixed clock keeps the durations in the output at zero.
	checker := health.New(health.WithClock(func() time.Time { return time.Unix(0, 0) }))
	checker.Add("postgres", func(ctx context.Context) error { return nil })
	checker.Add("cache", func(ctx context.Context) error {
		return errors.New("redis: connection refused")
	}, health.NonCritical())

	mux := http.NewServeMux()
	mux.Handle("GET /livez", checker.LiveHandler())
	mux.Handle("GET /readyz", checker.ReadyHandler())
	// The admin listener, reachable by operators only, shows error texts.
	mux.Handle("GET /admin/readyz", checker.ReadyHandler(health.ShowErrors()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	get := func(path string) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s %d %s", path, resp.StatusCode, body)
	}
	get("/livez")
	get("/readyz")
	get("/admin/readyz")

	// On shutdown: readiness fails at once, liveness stays up.
	checker.SetDraining()
	get("/readyz")
	get("/livez")
	// Output:
	// /livez 200 {"status":"up"}
	// /readyz 200 {"status":"up","checks":[{"name":"cache","status":"down","critical":false,"error":"check failed","duration_ms":0},{"name":"postgres","status":"up","critical":true,"duration_ms":0}]}
	// /admin/readyz 200 {"status":"up","checks":[{"name":"cache","status":"down","critical":false,"error":"redis: connection refused","duration_ms":0},{"name":"postgres","status":"up","critical":true,"duration_ms":0}]}
	// /readyz 503 {"status":"down","draining":true,"checks":[]}
	// /livez 200 {"status":"up"}
}

func ExampleChecker_Run() {
	checker := health.New()
	checker.Add("api", func(ctx context.Context) error { return nil })
	checker.Add("queue", func(ctx context.Context) error {
		<-ctx.Done() // a dependency that never answers
		return ctx.Err()
	}, health.Timeout(10*time.Millisecond))

	report := checker.Run(context.Background())
	fmt.Println("overall:", report.Status)
	for _, c := range report.Checks {
		fmt.Printf("%s: %s timeout=%v\n", c.Name, c.Status, errors.Is(c.Err, health.ErrTimeout))
	}
	// Output:
	// overall: down
	// api: up timeout=false
	// queue: down timeout=true
}
