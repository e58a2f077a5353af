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
