package lifecycle

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTTP_drainDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      []HTTPOption
		wantSleep string // the drain delays slept, in order
	}{
		{"default: no delay", nil, ""},
		{"zero: no delay", []HTTPOption{DrainDelay(0)}, ""},
		{"5s", []HTTPOption{DrainDelay(5 * time.Second)}, "5s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "http://" + l.Addr().String()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			var events []string
			sleep := func(d time.Duration) {
				// During the drain delay the server still takes new connections.
				resp, err := client.Get(url)
				if err != nil {
					t.Errorf("GET during drain delay: %v; want served", err)
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				events = append(events, "sleep:"+d.String())
			}
			serving := make(chan struct{})
			srv := &http.Server{
				Handler:     http.NotFoundHandler(),
				BaseContext: func(net.Listener) context.Context { close(serving); return context.Background() },
			}
			opts := append([]HTTPOption{
				Listener(l),
				BeforeShutdown(func() { events = append(events, "before") }),
				withClock(sleep, nil),
			}, tc.opts...)
			ctx, cancel := context.WithCancel(context.Background())
			comp := HTTP(srv, opts...)
			done := make(chan error, 1)
			go func() { done <- comp(ctx) }()
			<-serving
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("HTTP component = %v; want nil", err)
			}
			want := "before"
			if tc.wantSleep != "" {
				want += ",sleep:" + tc.wantSleep
			}
			if got := strings.Join(events, ","); got != want {
				t.Errorf("shutdown events = %q; want %q", got, want)
			}
		})
	}
}
