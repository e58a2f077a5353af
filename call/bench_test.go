package call_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/chassis-go/chassis/call"
)

// BenchmarkDo compares Client.Do with a bare http.Client on the same
// loopback server, one request at a time.
func BenchmarkDo(b *testing.B) {
	s := newServer(b, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	run := func(b *testing.B, do func(*http.Request) (*http.Response, error)) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/items?page=2", nil)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	b.Run("bare", func(b *testing.B) {
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		run(b, hc.Do)
	})
	b.Run("call_defaults", func(b *testing.B) {
		c := call.New()
		defer c.CloseIdleConnections()
		run(b, c.Do)
	})
	b.Run("call_breaker", func(b *testing.B) {
		c := call.New(call.WithBreaker(call.BreakerPolicy{}))
		defer c.CloseIdleConnections()
		run(b, c.Do)
	})
}
