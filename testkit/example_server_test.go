package testkit_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/testkit"
)

// exampleT stands in for the *testing.T that a real test passes. Its
// cleanups run when the example calls done.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (e *exampleT) Helper()           {}
func (e *exampleT) Cleanup(fn func()) { e.cleanups = append(e.cleanups, fn) }
func (e *exampleT) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (e *exampleT) done() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

func ExampleNewServer() {
	t := &exampleT{} // in a test: the *testing.T
	defer t.done()

	srv := testkit.NewServer(t,
		testkit.Response{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"1"}}},
		testkit.Response{Status: http.StatusOK, Body: `{"id":7}`},
	)
	for range 3 { // the last response repeats
		resp, err := srv.Client().Post(srv.URL+"/v1/things?dry=1", "application/json", strings.NewReader(`{"name":"x"}`))
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", string(body))))
	}
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Path, r.Query, r.Header.Get("Content-Type"), string(r.Body))
	}
	// Output:
	// 503
	// 200 {"id":7}
	// 200 {"id":7}
	// POST /v1/things dry=1 application/json {"name":"x"}
	// POST /v1/things dry=1 application/json {"name":"x"}
	// POST /v1/things dry=1 application/json {"name":"x"}
}

func ExampleListen() {
	t := &exampleT{} // in a test: the *testing.T
	defer t.done()

	l := testkit.Listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "served")
	})}
	go func() { _ = srv.Serve(l) }() // the service under test
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: served
}
