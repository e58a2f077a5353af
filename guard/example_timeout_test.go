package guard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chassis-go/chassis/guard"
)

func ExampleTimeout() {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Minute):
			io.WriteString(w, "done")
		case <-r.Context().Done(): // the deadline passed: give up
		}
	})
	srv := httptest.NewServer(guard.Timeout(50 * time.Millisecond)(slow))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output: 504 application/problem+json
}

// Responses stream through Timeout as the handler writes them: nothing is
// buffered, and Flush reaches the client.
func ExampleTimeout_streaming() {
	events := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				return // the deadline passed or the client left
			}
		}
	})
	srv := httptest.NewServer(guard.Timeout(time.Minute)(events))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s%q\n", resp.Header.Get("Content-Type"), body)
	// Output: text/event-stream"data: 0\n\ndata: 1\n\ndata: 2\n\n"
}
