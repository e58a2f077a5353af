package call_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chassis-go/chassis/call"
)

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

func TestClientStatus(t *testing.T) {
	if st := call.New().Status(); st.Breakers != 0 || len(st.Hosts) != 0 {
		t.Errorf("Status() without breakers = %+v; want none", st)
	}
	c := call.New(call.WithTransport(failingTransport{}), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 2}))
	for i := range 25 {
		host := fmt.Sprintf("h%02d.example", i)
		fails := 1
		if i == 7 {
			fails = 2 // opens this one
		}
		for range fails {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+host+"/", nil)
			if _, err := c.Do(req); err == nil {
				t.Fatal("Do succeeded through a failing transport")
			}
		}
	}
	st := c.Status()
	if st.Breakers != 25 || len(st.Hosts) != call.MaxStatusHosts {
		t.Fatalf("Status() = %d breakers, %d hosts; want 25 and %d", st.Breakers, len(st.Hosts), call.MaxStatusHosts)
	}
	first := st.Hosts[0]
	if first.Host != "h07.example" || first.State != "open" || first.OpenUntil == nil {
		t.Errorf("first host = %+v; want the open breaker h07.example with OpenUntil", first)
	}
	if second := st.Hosts[1]; second.Host != "h00.example" || second.State != "closed" || second.ConsecutiveFailures != 1 || second.OpenUntil != nil {
		t.Errorf("second host = %+v; want h00.example closed with 1 failure", second)
	}
}
