package problem_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/chassis-go/chassis/problem"
)

func ExampleWrite() {
	errNoNote := problem.NotFound("no note with that id")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := fmt.Errorf("get note %s: %w", r.PathValue("id"), errNoNote)
		problem.Write(w, r, err)
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/notes/7", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Body.String())
	// Output:
	// 404 application/problem+json
	// {"type":"about:blank","title":"Not Found","status":404,"detail":"no note with that id"}
}

func ExampleFrom() {
	internal := errors.New("pq: connection refused to 10.0.0.5")
	p := problem.From(fmt.Errorf("list notes: %w", internal))
	fmt.Println(p.Status, p.Detail)
	fmt.Println(errors.Is(p, internal)) // the cause stays available for logs
	// Output:
	// 500 internal error
	// true
}

func ExampleError_With() {
	errQuota := problem.TooManyRequests("quota exceeded")
	p := errQuota.With("quota", 100)
	b, _ := p.MarshalJSON()
	fmt.Println(string(b))
	fmt.Println(len(errQuota.Extensions)) // the shared value is unchanged
	// Output:
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"quota exceeded","quota":100}
	// 0
}
