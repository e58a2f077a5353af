package call_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
)

func TestRetry_statuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		statuses   []int
		retryAfter string
		wantStatus int
		wantHits   int64
	}{
		{"200 once", nil, "", 200, 1},
		{"500 not retried", []int{500}, "", 500, 1},
		{"501 not retried", []int{501}, "", 501, 1},
		{"502 retried", []int{502}, "", 200, 2},
		{"503 retried", []int{503}, "", 200, 2},
		{"504 retried", []int{504}, "", 200, 2},
		{"404 not retried", []int{404}, "", 404, 1},
		{"429 without Retry-After not retried", []int{429}, "", 429, 1},
		{"429 with Retry-After retried", []int{429}, "0", 200, 2},
		{"429 with invalid Retry-After not retried", []int{429}, "soon", 429, 1},
		{"503 with Retry-After retried", []int{503}, "0", 200, 2},
		{"503 with Retry-After past cap returned", []int{503}, "3600", 503, 1},
		{"503 three times gives up", []int{503, 503, 503}, "", 503, 3},
		{"200 with Retry-After once", nil, "0", 200, 1},
		{"500 with Retry-After not retried", []int{500}, "0", 500, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seq := sequence(tc.statuses...)
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				seq(w, r)
			})
			c := newClient(t, call.WithRetry(fastRetry))
			req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do(GET %v) err = %v; want nil", tc.statuses, err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("Do(GET %v) status = %d; want %d", tc.statuses, resp.StatusCode, tc.wantStatus)
			}
			if want := http.StatusText(tc.wantStatus); string(body) != want {
				t.Errorf("Do(GET %v) body = %q; want %q (the last response, unread)", tc.statuses, body, want)
			}
			if got := s.hits.Load(); got != tc.wantHits {
				t.Errorf("Do(GET %v) server hits = %d; want %d", tc.statuses, got, tc.wantHits)
			}
		})
	}
}

func TestRetry_methodsAndBodies(t *testing.T) {
	t.Parallel()
	type reqFunc func(url string) *http.Request
	newReq := func(method string, body io.Reader, header ...string) reqFunc {
		return func(url string) *http.Request {
			r, _ := http.NewRequest(method, url, body)
			for i := 0; i+1 < len(header); i += 2 {
				r.Header.Set(header[i], header[i+1])
			}
			return r
		}
	}
	tests := []struct {
		name     string
		req      reqFunc
		policy   call.RetryPolicy
		wantHits int64
	}{
		{"GET", newReq("GET", nil), fastRetry, 2},
		{"HEAD", newReq("HEAD", nil), fastRetry, 2},
		{"PUT replayable", newReq("PUT", strings.NewReader("x")), fastRetry, 2},
		{"DELETE", newReq("DELETE", nil), fastRetry, 2},
		{"POST", newReq("POST", strings.NewReader("x")), fastRetry, 1},
		{"PATCH", newReq("PATCH", strings.NewReader("x")), fastRetry, 1},
		{"POST with Idempotency-Key", newReq("POST", strings.NewReader("x"), "Idempotency-Key", "k1"), fastRetry, 2},
		{"POST with RetryNonIdempotent", newReq("POST", strings.NewReader("x")),
			call.RetryPolicy{BaseDelay: 1, MaxDelay: 1, RetryNonIdempotent: true}, 2},
		{"PUT non-replayable body", newReq("PUT", io.MultiReader(strings.NewReader("x"))), fastRetry, 1},
		{"POST non-replayable with key", newReq("POST", io.MultiReader(strings.NewReader("x")), "Idempotency-Key", "k"), fastRetry, 1},
		{"MaxAttempts 1", newReq("GET", nil), call.RetryPolicy{MaxAttempts: 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var bodies []string
			seq := sequence(http.StatusServiceUnavailable)
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
				seq(w, r)
			})
			c := newClient(t, call.WithRetry(tc.policy))
			req := tc.req(s.URL)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do(%s) err = %v; want nil", tc.name, err)
			}
			_ = resp.Body.Close()
			if got := s.hits.Load(); got != tc.wantHits {
				t.Errorf("Do(%s) server hits = %d; want %d", tc.name, got, tc.wantHits)
			}
			if req.Method == "PUT" || req.Method == "POST" || req.Method == "PATCH" {
				for i, b := range bodies {
					if b != "x" {
						t.Errorf("Do(%s) attempt %d body = %q; want %q", tc.name, i+1, b, "x")
					}
				}
			}
		})
	}
}

// faultHandler answers like a flaky service, deterministically from seed:
// 503s, dropped connections, slow responses, and otherwise echoes the body.
func faultHandler(seed uint64) http.HandlerFunc {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed))
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		roll := rng.IntN(10)
		mu.Unlock()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		switch roll {
		case 0, 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			hijackClose(w, r)
		case 3:
			time.Sleep(time.Millisecond)
			_, _ = w.Write(body)
		default:
			_, _ = w.Write(body)
		}
	}
}

func TestRetry_concurrentPostsReplayTheirOwnBody(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string][]string{} // Idempotency-Key -> bodies received
	h := faultHandler(42)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key := r.Header.Get("Idempotency-Key")
		seen[key] = append(seen[key], string(body))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})
	c := newClient(t,
		call.WithRetry(call.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}),
		call.WithRetryBudget(call.RetryBudget{Unlimited: true}))

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			want := fmt.Sprintf("body-%d-%s", i, strings.Repeat("x", i*100))
			req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(want))
			req.Header.Set("Idempotency-Key", strconv.Itoa(i))
			resp, err := c.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusOK && string(got) != want {
				errs[i] = fmt.Errorf("echo = %.20q; want %.20q", got, want)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("POST %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	retried := 0
	for key, bodies := range seen {
		i, _ := strconv.Atoi(key)
		want := fmt.Sprintf("body-%d-%s", i, strings.Repeat("x", i*100))
		for a, b := range bodies {
			if b != want {
				t.Errorf("server body for key %s attempt %d = %.20q; want %.20q", key, a+1, b, want)
			}
		}
		if len(bodies) > 1 {
			retried++
		}
	}
	if len(seen) != n {
		t.Errorf("server saw %d keys; want %d", len(seen), n)
	}
	if retried == 0 {
		t.Errorf("no request was retried; the fault injection is not working")
	}
}

func TestRetry_connectionResetIsRetried(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	first := true
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := first
		first = false
		mu.Unlock()
		if drop {
			hijackClose(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := newClient(t, call.WithRetry(fastRetry))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do(GET) err = %v; want nil after a retry", err)
	}
	_ = resp.Body.Close()
	if got := s.hits.Load(); got != 2 {
		t.Errorf("Do(GET) server hits = %d; want 2", got)
	}
}

func TestRetry_postWithoutKeyNotRetriedAfterReset(t *testing.T) {
	t.Parallel()
	s := newServer(t, hijackClose)
	c := newClient(t, call.WithRetry(fastRetry))
	req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("pay 10"))
	resp, err := c.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("Do(POST) err = nil; want the connection error")
	}
	if got := s.hits.Load(); got != 1 {
		t.Errorf("Do(POST) server hits = %d; want 1 (never retried)", got)
	}
}

func TestRetry_retryAfterBeyondDeadlineReturnsAtOnce(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "20") // within the 30s cap
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do(GET) err = %v; want the 503", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Do(GET) status = %d; want 503", resp.StatusCode)
	}
	if got := s.hits.Load(); got != 1 {
		t.Errorf("Do(GET) server hits = %d; want 1", got)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Do(GET) took %v; want it to return before the 5s deadline without waiting", d)
	}
}

func TestRetry_discardedBodiesAreDrainedAndConnectionReused(t *testing.T) {
	t.Parallel()
	s := newServer(t, sequence(503, 503, 200, 503, 200, 502, 200))
	c := newClient(t, call.WithRetry(fastRetry), call.WithRetryBudget(call.RetryBudget{Unlimited: true}))
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("Do #%d err = %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("Do #%d status = %d; want 200", i, resp.StatusCode)
		}
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("server connections = %d; want 1 (every discarded response drained, connection reused)", got)
	}
}

func TestRetry_endlessBodyIsNotDrainedForever(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	first := true
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		endless := first
		first = false
		mu.Unlock()
		if !endless {
			_, _ = io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		chunk := bytes.Repeat([]byte("z"), 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, call.WithRetry(fastRetry))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do(GET) err = %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("Do(GET) body = %.20q; want %q", b, "ok")
	}
}

func TestRetry_sharedRequestFromManyGoroutines(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		sequence(503)(w, r) // a fresh sequence each time: 503 on every attempt
	})
	ts := call.TokenFunc(func(context.Context) (call.Token, error) {
		return call.Token{Value: "tok", Expiry: time.Now().Add(time.Hour)}, nil
	})
	c := newClient(t, call.WithRetry(fastRetry), call.WithTokenSource(ts),
		call.WithRetryBudget(call.RetryBudget{Unlimited: true}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1 << 20}))
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/shared?q=1", nil)
	req.Header.Set("X-Caller", "test")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 5 {
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("Do(shared GET) err = %v", err)
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("Do(shared GET) status = %d; want 503", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if len(req.Header) != 1 || req.Header.Get("X-Caller") != "test" {
		t.Errorf("caller's header after Do = %v; want only X-Caller", req.Header)
	}
	if req.URL.String() != s.URL+"/shared?q=1" {
		t.Errorf("caller's URL after Do = %v; want unchanged", req.URL)
	}
}

func TestRetry_customRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		hook     func(*http.Response, error) bool
		wantHits int64
	}{
		{"500 made retryable", 500, func(r *http.Response, err error) bool { return err != nil || r.StatusCode >= 500 }, 2},
		{"503 made final", 503, func(*http.Response, error) bool { return false }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, sequence(tc.status))
			c := newClient(t, call.WithRetry(call.RetryPolicy{BaseDelay: 1, MaxDelay: 1, Retryable: tc.hook}))
			_, _ = get(c, s.URL)
			if got := s.hits.Load(); got != tc.wantHits {
				t.Errorf("%s: server hits = %d; want %d", tc.name, got, tc.wantHits)
			}
		})
	}
}
