package call_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/call"
)

// flaky returns a server that answers 503 twice, then 200 "hello".
func flaky() *httptest.Server {
	var n atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "hello")
	}))
}

func ExampleNew() {
	srv := flaky()
	defer srv.Close()

	c := call.New(
		call.WithTimeout(2*time.Second),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}),
		call.WithBreaker(call.BreakerPolicy{}),
	)
	defer c.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds all attempts
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/greeting", nil)
	resp, err := c.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}

// sdk stands for any library that takes an *http.Client.
type sdk struct{ hc *http.Client }

func (s sdk) Greeting(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/greeting", nil)
	if err != nil {
		return "", err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func ExampleClient_HTTPClient() {
	srv := flaky()
	defer srv.Close()

	c := call.New(call.WithRetry(call.RetryPolicy{BaseDelay: time.Millisecond}))
	defer c.CloseIdleConnections()

	lib := sdk{hc: c.HTTPClient()} // the SDK's requests get the same retries
	greeting, err := lib.Greeting(context.Background(), srv.URL)
	fmt.Println(greeting, err)
	// Output: hello <nil>
}
