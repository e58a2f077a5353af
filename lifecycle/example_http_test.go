package lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/lifecycle"
)

func ExampleHTTP() {
	checker := health.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	mux.Handle("GET /readyz", checker.ReadyHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	// Real services listen on srv.Addr; the example uses a free loopback port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	base := "http://" + l.Addr().String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) {
		resp, err := client.Get(base + path)
		if err != nil {
			fmt.Println(path, err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(path, resp.StatusCode, strings.TrimSpace(string(body)))
	}

	ctx, cancel := context.WithCancel(context.Background())
	err = lifecycle.Run(ctx,
		lifecycle.HTTP(srv,
			lifecycle.Listener(l),
			lifecycle.BeforeShutdown(checker.SetDraining),
			lifecycle.BeforeShutdown(func() { get("/readyz") }), // what a load balancer sees now
			lifecycle.DrainDelay(10*time.Millisecond),           // 5s or so behind a real load balancer
			lifecycle.ShutdownTimeout(10*time.Second),
		),
		func(ctx context.Context) error {
			get("/hello")
			cancel() // as SIGTERM would
			<-ctx.Done()
			return nil
		},
	)
	fmt.Println("Run:", err)
	// Output:
	// /hello 200 hello
	// /readyz 503 {"status":"down","draining":true,"checks":[]}
	// Run: <nil>
}
