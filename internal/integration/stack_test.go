package integration_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/httpkit"
)

const origin = "https://app.example.com"

// stackServer serves mux behind the full middleware stack of a service:
//
//	httpkit.Chain(RequestID, Tracing, Logging, Recovery, SecurityHeaders,
//	    CORS, RateLimit, MaxBody, Timeout)
//
// Clients are keyed by X-Forwarded-For (the loopback peer is trusted), and
// each key may send 3 requests an hour.
func stackServer(t *testing.T, timeout time.Duration, mux http.Handler) (*httptest.Server, *syncBuffer) {
	t.Helper()
	logger, logs := newLogger()
	stack := httpkit.Chain(
		httpkit.RequestID,
		httpkit.Tracing(),
		httpkit.Logging(logger),
		httpkit.Recovery(logger),
		guard.SecurityHeaders(guard.DefaultSecurityHeaders()),
		guard.CORS(guard.CORSConfig{AllowedOrigins: []string{origin}, ExposedHeaders: []string{"X-Request-ID", "Retry-After"}}),
		guard.RateLimit(guard.RateLimitConfig{
			Limiter: guard.NewMemoryLimiter(guard.Limit{Rate: 3, Per: time.Hour, Burst: 3}),
			Key:     guard.ClientIP(loopback),
			Logger:  logger,
		}),
		guard.MaxBody(16),
		guard.Timeout(timeout, guard.WithLogger(logger)),
	)
	srv := httptest.NewServer(stack(mux))
	t.Cleanup(srv.Close)
	return srv, logs
}

// problemBody is the part of an RFC 9457 body the tests read.
type problemBody struct {
	Status    int    `json:"status"`
	Title     string `json:"title"`
	RequestID string `json:"request_id"`
}

// checkProblem checks that resp is a problem response with status want that
// carries the response's request id and the security headers.
func checkProblem(t *testing.T, what string, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s status = %d; want %d (body %q)", what, resp.StatusCode, want, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s Content-Type = %q; want application/problem+json", what, ct)
	}
	var p problemBody
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%s body %q: %v", what, body, err)
	}
	if p.Status != want {
		t.Errorf("%s problem status = %d; want %d", what, p.Status, want)
	}
	id := resp.Header.Get("X-Request-ID")
	if id == "" || p.RequestID != id {
		t.Errorf("%s problem request_id = %q; want the X-Request-ID header %q", what, p.RequestID, id)
	}
	// problem.Write sets X-Content-Type-Options itself; X-Frame-Options
	// can only come from SecurityHeaders.
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s X-Frame-Options = %q; want DENY (SecurityHeaders sits outside)", what, got)
	}
}

// logLines returns the JSON log records with message msg.
func logLines(t *testing.T, logs *syncBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func TestFullStack(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "set before the panic")
		panic("boom")
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "handler's own answer to a failed read", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv, logs := stackServer(t, patience, mux)
	c := srv.Client()

	t.Run("ok", func(t *testing.T) {
		resp, body := get(t, c, srv.URL+"/users/42?token=secret", "X-Forwarded-For", "203.0.113.1", "Origin", origin)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"42"`) {
			t.Fatalf("GET /users/42 = %d %q; want 200 with the user", resp.StatusCode, body)
		}
		for h, want := range map[string]string{
			"X-Frame-Options":             "DENY",
			"Access-Control-Allow-Origin": origin,
			"RateLimit-Policy":            `"default";q=3;w=3600`,
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("GET /users/42 %s = %q; want %q", h, got, want)
			}
		}
		if len(resp.Header.Get("X-Request-ID")) != 32 {
			t.Errorf("GET /users/42 X-Request-ID = %q; want 32 hex digits", resp.Header.Get("X-Request-ID"))
		}
		// The access log names the route, never the path's id or the query.
		var line map[string]any
		for _, rec := range logLines(t, logs, "http request") {
			if rec["request_id"] == resp.Header.Get("X-Request-ID") {
				line = rec
			}
		}
		switch {
		case line == nil:
			t.Errorf("no access log line with request_id %s in\n%s", resp.Header.Get("X-Request-ID"), logs)
		case line["route"] != "/users/{id}":
			t.Errorf("access log route = %v; want /users/{id} (line %v)", line["route"], line)
		case strings.Contains(logs.String(), "secret"):
			t.Errorf("access log contains the query string:\n%s", logs)
		}
	})

	t.Run("panic", func(t *testing.T) {
		resp, body := get(t, c, srv.URL+"/panic", "X-Forwarded-For", "203.0.113.2", "X-Request-ID", "req-panic-1")
		checkProblem(t, "GET /panic", resp, body, http.StatusInternalServerError)
		if id := resp.Header.Get("X-Request-ID"); id != "req-panic-1" {
			t.Errorf("GET /panic X-Request-ID = %q; want the caller's req-panic-1", id)
		}
		if strings.Contains(body, "boom") {
			t.Errorf("GET /panic body = %q; want no panic value", body)
		}
		var found bool
		for _, rec := range logLines(t, logs, "http handler panic") {
			found = found || rec["request_id"] == "req-panic-1"
		}
		if !found {
			t.Errorf("no \"http handler panic\" log with request_id req-panic-1 in\n%s", logs)
		}
	})

	t.Run("body too large", func(t *testing.T) {
		big := strings.Repeat("x", 64)
		for _, tc := range []struct {
			name string
			body io.Reader
		}{
			{"declared length", strings.NewReader(big)},
			{"chunked", io.MultiReader(strings.NewReader(big))}, // no Len: sent chunked
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := send(t, c, http.MethodPost, srv.URL+"/upload", tc.body, "X-Forwarded-For", "203.0.113.3", "Origin", origin)
				checkProblem(t, "POST /upload "+tc.name, resp, body, http.StatusRequestEntityTooLarge)
				if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
					t.Errorf("POST /upload Access-Control-Allow-Origin = %q; want %q", got, origin)
				}
			})
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		hdr := []string{"X-Forwarded-For", "203.0.113.4", "Origin", origin}
		for i := range 3 {
			if resp, _ := get(t, c, srv.URL+"/users/1", hdr...); resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d status = %d; want 200", i+1, resp.StatusCode)
			}
		}
		resp, body := get(t, c, srv.URL+"/users/1", hdr...)
		checkProblem(t, "4th GET /users/1", resp, body, http.StatusTooManyRequests)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("429 Retry-After = %q; want whole seconds >= 1", resp.Header.Get("Retry-After"))
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("429 Access-Control-Allow-Origin = %q; want %q (CORS sits outside RateLimit)", got, origin)
		}
		// Another client is not affected.
		if resp, _ := get(t, c, srv.URL+"/users/1", "X-Forwarded-For", "203.0.113.5"); resp.StatusCode != http.StatusOK {
			t.Errorf("other client status = %d; want 200", resp.StatusCode)
		}
	})

	t.Run("timeout before writing", func(t *testing.T) {
		slow := http.NewServeMux()
		slow.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			w.Header().Set("X-Handler", "too late")
		})
		srv, _ := stackServer(t, 20*time.Millisecond, slow)
		for _, id := range []string{"req-slow-1", ""} {
			hdr := []string{"X-Forwarded-For", "203.0.113.6", "Origin", origin}
			if id != "" {
				hdr = append(hdr, "X-Request-ID", id)
			}
			resp, body := get(t, srv.Client(), srv.URL+"/slow", hdr...)
			checkProblem(t, "GET /slow", resp, body, http.StatusGatewayTimeout)
			if id != "" && resp.Header.Get("X-Request-ID") != id {
				t.Errorf("GET /slow X-Request-ID = %q; want %q", resp.Header.Get("X-Request-ID"), id)
			}
			if got := resp.Header.Get("X-Handler"); got != "" {
				t.Errorf("504 X-Handler = %q; want no header set by the handler", got)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("504 Access-Control-Allow-Origin = %q; want %q", got, origin)
			}
		}
	})
}

// TestFullStackStreaming checks that server-sent events are flushed through
// every layer and that ResponseController reaches the connection.
func TestFullStackStreaming(t *testing.T) {
	next := make(chan struct{})
	rcErrs := make(chan error, 4)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		rcErrs <- rc.Flush()
		select {
		case <-next: // the client has read event 1
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: 2\n\n")
		rcErrs <- rc.Flush()
	})
	mux.HandleFunc("GET /deadline", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rcErrs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		rcErrs <- rc.SetReadDeadline(time.Now().Add(time.Minute))
		rcErrs <- rc.SetWriteDeadline(time.Time{})
		w.WriteHeader(http.StatusNoContent)
	})
	srv, _ := stackServer(t, patience, mux)

	t.Run("SSE", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.10")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET /events err = %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("GET /events = %d %q; want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		br := bufio.NewReader(resp.Body)
		readEvent := func() string {
			t.Helper()
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading event: %v (got %q)", err, line)
			}
			if blank, err := br.ReadString('\n'); err != nil || blank != "\n" {
				t.Fatalf("reading event end: %q, %v", blank, err)
			}
			return strings.TrimSpace(line)
		}
		// The handler is blocked before event 2 until next is closed, so
		// receiving event 1 proves it was flushed through every layer.
		if got := readEvent(); got != "data: 1" {
			t.Fatalf("first event = %q; want data: 1", got)
		}
		if err := recv(t, rcErrs, "the first Flush"); err != nil {
			t.Errorf("ResponseController.Flush() = %v; want nil", err)
		}
		close(next)
		if got := readEvent(); got != "data: 2" {
			t.Fatalf("second event = %q; want data: 2", got)
		}
		if err := recv(t, rcErrs, "the second Flush"); err != nil {
			t.Errorf("ResponseController.Flush() = %v; want nil", err)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("after the events: %q, %v; want a clean end", rest, err)
		}
	})

	t.Run("SetWriteDeadline", func(t *testing.T) {
		resp, _ := get(t, srv.Client(), srv.URL+"/deadline", "X-Forwarded-For", "203.0.113.11")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("GET /deadline status = %d; want 204", resp.StatusCode)
		}
		for _, call := range []string{"SetWriteDeadline(now+1m)", "SetReadDeadline(now+1m)", "SetWriteDeadline(zero)"} {
			if err := recv(t, rcErrs, call); err != nil {
				t.Errorf("ResponseController.%s through the stack = %v; want nil (ErrNotSupported: %v)", call, err, errors.Is(err, http.ErrNotSupported))
			}
		}
	})
}

// TestGuardOrder mounts the guard middleware in different orders and checks
// the outcomes their documentation promises.
func TestGuardOrder(t *testing.T) {
	type step struct {
		method, path string
		body         string
		chunked      bool
		want         int
		// Headers that must (true) or must not (false) be on the response.
		headers map[string]bool
	}
	bigBody := strings.Repeat("x", 64)
	// X-Frame-Options comes only from SecurityHeaders (problem.Write sets
	// X-Content-Type-Options itself).
	corsAndSec := func(present bool) map[string]bool {
		return map[string]bool{"Access-Control-Allow-Origin": present, "X-Frame-Options": present}
	}
	cases := []struct {
		name    string
		order   []string
		timeout time.Duration // of Timeout; zero means patience
		burst   int           // of the per-client limit (1 an hour); zero means 1
		steps   []step
	}{
		{
			name:  "CORS and SecurityHeaders outside: rejections are readable and hardened",
			order: []string{"cors", "sec", "ratelimit", "maxbody", "timeout"},
			steps: []step{
				{method: "POST", path: "/upload", body: bigBody, want: 413, headers: corsAndSec(true)},
				{method: "GET", path: "/ok", want: 429, headers: map[string]bool{"Access-Control-Allow-Origin": true, "X-Frame-Options": true, "Retry-After": true}},
			},
		},
		{
			name:  "CORS and SecurityHeaders inside: rejections carry neither",
			order: []string{"ratelimit", "maxbody", "timeout", "cors", "sec"},
			burst: 2,
			steps: []step{
				{method: "GET", path: "/ok", want: 200, headers: corsAndSec(true)},
				{method: "POST", path: "/upload", body: bigBody, want: 413, headers: corsAndSec(false)},
				{method: "GET", path: "/ok", want: 429, headers: map[string]bool{"Access-Control-Allow-Origin": false, "X-Frame-Options": false, "Retry-After": true}},
			},
		},
		{
			name:  "MaxBody outside RateLimit: a declared oversized body costs no allowance",
			order: []string{"maxbody", "ratelimit"},
			steps: []step{
				{method: "POST", path: "/upload", body: bigBody, want: 413},
				{method: "GET", path: "/ok", want: 200},
				{method: "GET", path: "/ok", want: 429},
			},
		},
		{
			name:  "RateLimit outside MaxBody: an oversized body spends the allowance",
			order: []string{"ratelimit", "maxbody"},
			steps: []step{
				{method: "POST", path: "/upload", body: bigBody, want: 413},
				{method: "GET", path: "/ok", want: 429},
			},
		},
		{
			name:  "Timeout outside MaxBody: a chunked oversized body still gets 413",
			order: []string{"timeout", "maxbody"},
			steps: []step{{method: "POST", path: "/upload", body: bigBody, chunked: true, want: 413}},
		},
		{
			name:  "Timeout inside MaxBody: a chunked oversized body still gets 413",
			order: []string{"maxbody", "timeout"},
			steps: []step{{method: "POST", path: "/upload", body: bigBody, chunked: true, want: 413}},
		},
		{
			name:    "SecurityHeaders and CORS outside Timeout: the 504 carries them",
			order:   []string{"sec", "cors", "timeout"},
			timeout: 20 * time.Millisecond,
			steps:   []step{{method: "GET", path: "/slow", want: 504, headers: corsAndSec(true)}},
		},
		{
			name:    "SecurityHeaders and CORS inside Timeout: the 504 carries neither",
			order:   []string{"timeout", "sec", "cors"},
			timeout: 20 * time.Millisecond,
			steps:   []step{{method: "GET", path: "/slow", want: 504, headers: corsAndSec(false)}},
		},
		{
			name:    "Timeout outside RateLimit: a denied request is answered before the deadline",
			order:   []string{"timeout", "ratelimit"},
			timeout: patience,
			steps: []step{
				{method: "GET", path: "/ok", want: 200},
				{method: "GET", path: "/ok", want: 429, headers: map[string]bool{"Retry-After": true}},
			},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "read failed", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = patience
			}
			burst := max(tc.burst, 1)
			mws := map[string]func(http.Handler) http.Handler{
				"cors": guard.CORS(guard.CORSConfig{AllowedOrigins: []string{origin}}),
				"sec":  guard.SecurityHeaders(guard.DefaultSecurityHeaders()),
				"ratelimit": guard.RateLimit(guard.RateLimitConfig{
					Limiter: guard.NewMemoryLimiter(guard.Limit{Rate: burst, Per: time.Hour, Burst: burst}),
					Key:     guard.RemoteIP(),
					Logger:  slog.New(slog.DiscardHandler),
				}),
				"maxbody": guard.MaxBody(16),
				"timeout": guard.Timeout(timeout),
			}
			var chain []func(http.Handler) http.Handler
			for _, name := range tc.order {
				chain = append(chain, mws[name])
			}
			srv := httptest.NewServer(httpkit.Chain(chain...)(mux))
			defer srv.Close()
			for i, st := range tc.steps {
				var body io.Reader
				if st.body != "" {
					body = strings.NewReader(st.body)
					if st.chunked {
						body = io.MultiReader(body)
					}
				}
				resp, text := send(t, srv.Client(), st.method, srv.URL+st.path, body, "Origin", origin)
				if resp.StatusCode != st.want {
					t.Fatalf("step %d: %s %s through %v status = %d; want %d (body %q)", i+1, st.method, st.path, tc.order, resp.StatusCode, st.want, text)
				}
				if st.want >= 400 {
					if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("step %d: %s %s Content-Type = %q; want application/problem+json", i+1, st.method, st.path, ct)
					}
				}
				for h, present := range st.headers {
					if got := resp.Header.Get(h); (got != "") != present {
						t.Errorf("step %d: %s %s through %v header %s = %q; want present=%v", i+1, st.method, st.path, tc.order, h, got, present)
					}
				}
			}
		})
	}
}
