package call_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
)

func TestTimeout_bodyReadableAfterDo(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "late body")
	})
	c := newClient(t, call.WithTimeout(time.Minute))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	close(release) // Do has returned; the body must still arrive
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "late body" {
		t.Errorf("ReadAll(body) = %q, %v; want %q, nil", b, err, "late body")
	}
}

func TestTimeout_endlessBodyEndsAtTheAttemptDeadline(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for r.Context().Err() == nil {
			if _, err := io.WriteString(w, "tick\n"); err != nil {
				return
			}
			_ = rc.Flush()
			time.Sleep(time.Millisecond) // pace the stream; not a wait for the test
		}
	})
	c := newClient(t, call.WithTimeout(200*time.Millisecond))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err == nil { // on a very slow machine even the headers may time out
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if !errors.Is(err, call.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("reading an endless body err = %v; want ErrAttemptTimeout and context.DeadlineExceeded", err)
	}
}

func TestTimeout_attemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	var first sync.Once
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hang := false
		first.Do(func() { hang = true })
		if hang {
			<-r.Context().Done() // until the client gives up on this attempt
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := newClient(t, call.WithTimeout(500*time.Millisecond), call.WithRetry(fastRetry))
	if st, err := get(c, s.URL); err != nil || st != 200 {
		t.Errorf("get = %d, %v; want 200, nil after retrying the timed-out attempt", st, err)
	}
	if got := s.hits.Load(); got != 2 {
		t.Errorf("server hits = %d; want 2", got)
	}
}

func TestTimeout_attemptDeadlineIsTheEarlierOfTheTwo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		perAttempt time.Duration
		caller     time.Duration // 0: no caller deadline
		want       time.Duration // the attempt's deadline, from before Do
		wantNone   bool          // the attempt has no deadline
	}{
		{"caller deadline first", time.Hour, time.Minute, time.Minute, false},
		{"attempt timeout first", time.Minute, time.Hour, time.Minute, false},
		{"no caller deadline", time.Minute, 0, time.Minute, false},
		{"no per-attempt timeout", 0, time.Minute, time.Minute, false},
		{"neither", 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dl time.Time
			var has bool
			base := func(r *http.Request) (*http.Response, error) {
				dl, has = r.Context().Deadline()
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
			}
			c := newClient(t, call.WithTransport(roundTripFunc(base)), call.WithTimeout(tc.perAttempt))
			start := time.Now()
			ctx := context.Background()
			if tc.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.caller)
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/", nil)
			resp, err := c.Do(req)
			end := time.Now()
			if err != nil {
				t.Fatalf("Do err = %v; want nil", err)
			}
			_ = resp.Body.Close()
			switch {
			case tc.wantNone && has:
				t.Errorf("attempt deadline = %v; want none", dl)
			case !tc.wantNone && (!has || dl.Before(start.Add(tc.want)) || dl.After(end.Add(tc.want))):
				t.Errorf("attempt deadline = %v (set: %v); want %v from the start", dl.Sub(start), has, tc.want)
			}
		})
	}
}

func TestTimeout_callerDeadlineFirstIsTheCallersError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		perAttempt  time.Duration
		caller      time.Duration
		wantAttempt bool // the error matches ErrAttemptTimeout
	}{
		{"caller deadline first", time.Hour, 100 * time.Millisecond, false},
		{"attempt timeout first", 100 * time.Millisecond, time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // until the client gives up
			})
			c := newClient(t, call.WithTimeout(tc.perAttempt), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}))
			ctx, cancel := context.WithTimeout(context.Background(), tc.caller)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
			resp, err := c.Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, call.ErrAttemptTimeout) != tc.wantAttempt {
				t.Errorf("Do err = %v; want context.DeadlineExceeded, ErrAttemptTimeout %v", err, tc.wantAttempt)
			}
		})
	}
}
