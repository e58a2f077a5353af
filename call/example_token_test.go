package call_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chassis-go/chassis/call"
)

func ExampleWithTokenSource() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer srv.Close()

	fetches := 0
	src := call.TokenFunc(func(ctx context.Context) (call.Token, error) {
		fetches++ // one fetch at a time: the Client deduplicates concurrent fetches
		return call.Token{Value: "s3cret", Expiry: time.Now().Add(time.Hour)}, nil
	})
	c := call.New(call.WithTokenSource(src))
	defer c.CloseIdleConnections()

	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(b))
	}
	fmt.Println("fetches:", fetches)
	// Output:
	// Bearer s3cret
	// Bearer s3cret
	// fetches: 1
}
