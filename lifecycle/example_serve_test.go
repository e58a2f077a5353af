package lifecycle_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chassis-go/chassis/lifecycle"
)

// pollServer is a lifecycle.Server that is not an HTTP server: a loop that
// stops when shut down.
type pollServer struct {
	stop    chan struct{}
	running chan struct{}
}

func (p *pollServer) Serve() error {
	close(p.running)
	<-p.stop
	return nil
}
func (p *pollServer) Shutdown(context.Context) error { close(p.stop); return nil }
func (p *pollServer) Close() error                   { return nil }

func ExampleServe() {
	srv := &pollServer{stop: make(chan struct{}), running: make(chan struct{})}
	drain := lifecycle.Drain(
		lifecycle.BeforeShutdown(func() { fmt.Println("draining") }),
		lifecycle.ShutdownTimeout(5*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-srv.running
		cancel() // as SIGTERM would
	}()
	err := lifecycle.Run(ctx, lifecycle.Serve(srv, drain))
	fmt.Println("stopped:", err)
	// Output:
	// draining
	// stopped: <nil>
}
