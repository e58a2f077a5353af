package call_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/chassis-go/chassis/call"
)

func ExampleWithBreaker() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()

	c := call.New(
		call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{
			ConsecutiveFailures: 2,
			OnStateChange: func(host string, from, to call.State) {
				fmt.Println("breaker:", from, "->", to)
			},
		}),
	)
	defer c.CloseIdleConnections()

	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		switch {
		case errors.Is(err, call.ErrCircuitOpen):
			fmt.Println("rejected without sending")
		case err != nil:
			fmt.Println(err)
		default:
			resp.Body.Close()
			fmt.Println(resp.StatusCode)
		}
	}
	// Output:
	// 500
	// breaker: closed -> open
	// 500
	// rejected without sending
}
