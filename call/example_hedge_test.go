package call_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/call"
)

// A request that has had no answer for 20ms is sent again; the first
// answer wins and the slow attempt is cancelled.
func ExampleWithHedge() {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done() // a stuck replica: answers only when cancelled
			return
		}
		_, _ = io.WriteString(w, "answer from a healthy replica")
	}))
	defer srv.Close()

	c := call.New(call.WithHedge(call.HedgePolicy{Delay: 20 * time.Millisecond}))
	defer c.CloseIdleConnections()
	resp, err := c.Do(mustGet(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Println(string(b), "after", n.Load(), "requests")
	// Output: answer from a healthy replica after 2 requests
}

func mustGet(url string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}
