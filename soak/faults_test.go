package main

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestScheduleAt(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := schedule{start: t0, cycle: []segment{{regimeOutage, 5 * time.Second}, {regimeFlaky, 4 * time.Second}, {regimeThrottle, 4 * time.Second}}}
	tests := []struct {
		at       time.Duration
		want     regime
		segStart time.Duration
	}{
		{-time.Second, regimeHealthy, 0},
		{0, regimeOutage, 0},
		{4999 * time.Millisecond, regimeOutage, 0},
		{5 * time.Second, regimeFlaky, 5 * time.Second},
		{12 * time.Second, regimeThrottle, 9 * time.Second},
		{13 * time.Second, regimeOutage, 13 * time.Second},
		{30 * time.Second, regimeOutage, 26 * time.Second}, // third cycle
	}
	for _, tc := range tests {
		r, start := s.at(t0.Add(tc.at))
		if r != tc.want || !start.Equal(t0.Add(tc.segStart)) {
			t.Errorf("at(+%v) = %v since +%v; want %v since +%v", tc.at, r, start.Sub(t0), tc.want, tc.segStart)
		}
	}
	if r, _ := (schedule{start: t0}).at(t0.Add(time.Hour)); r != regimeHealthy {
		t.Errorf("empty schedule at(+1h) = %v; want healthy", r)
	}
	if s.length() != 0 {
		t.Errorf("endless schedule length() = %v; want 0", s.length())
	}

	// Two cycles, then a tail, then healthy for good.
	fin := s
	fin.cycles, fin.tail = 2, []segment{{regimeOutage, 3 * time.Second}}
	if got, want := fin.length(), 29*time.Second; got != want {
		t.Errorf("length() = %v; want %v", got, want)
	}
	for _, tc := range []struct {
		at       time.Duration
		want     regime
		segStart time.Duration
	}{
		{25 * time.Second, regimeThrottle, 22 * time.Second},
		{26 * time.Second, regimeOutage, 26 * time.Second},
		{28 * time.Second, regimeOutage, 26 * time.Second},
		{29 * time.Second, regimeHealthy, 29 * time.Second},
		{time.Hour, regimeHealthy, 29 * time.Second},
	} {
		r, start := fin.at(t0.Add(tc.at))
		if r != tc.want || !start.Equal(t0.Add(tc.segStart)) {
			t.Errorf("finite at(+%v) = %v since +%v; want %v since +%v", tc.at, r, start.Sub(t0), tc.want, tc.segStart)
		}
	}
	settle := 2 * time.Second
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{time.Second, false}, {2 * time.Second, true}, {4900 * time.Millisecond, true}, {6 * time.Second, false}, {15 * time.Second, true}} {
		if got := s.steadyOpen(t0.Add(tc.at), settle); got != tc.want {
			t.Errorf("steadyOpen(+%v, %v) = %v; want %v", tc.at, settle, got, tc.want)
		}
	}
}

func TestDecideRates(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 200_000
	var got [numRegimes][numOutcomes]int
	for r := range numRegimes {
		for range n {
			got[r][decide(r, rng.Float64())]++
		}
	}
	near := func(count int, p float64) bool {
		want := p * n
		return float64(count) > want*0.9-50 && float64(count) < want*1.1+50
	}
	checks := []struct {
		r    regime
		o    dsOutcome
		want float64
	}{
		{regimeHealthy, dsOK, 1},
		{regimeFlaky, ds503, flaky503},
		{regimeFlaky, dsReset, flakyReset},
		{regimeFlaky, dsSpike, flakySpike},
		{regimeThrottle, ds429, throttle429},
		{regimeOutage, dsReset, outageResets},
		{regimeOutage, ds503, 1 - outageResets},
		{regimeOutage, dsOK, 0},
	}
	for _, c := range checks {
		if !near(got[c.r][c.o], c.want) {
			t.Errorf("decide(%v): %v in %d of %d; want about %.0f", c.r, c.o, got[c.r][c.o], n, c.want*n)
		}
	}
}

func TestTraceID(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "", false},
		{"", "", false},
		{"garbage", "", false},
	}
	for _, tc := range tests {
		got, ok := traceID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("traceID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAttemptLog(t *testing.T) {
	var l attemptLog
	t0 := time.Now()
	l.observe("t1|a", t0, regimeFlaky)
	l.observe("t1|b", t0, regimeFlaky)
	l.observe("t1|a", t0.Add(time.Second), regimeFlaky)       // retry
	l.observe("t1|a", t0.Add(attemptGen+1), regimeThrottle)   // retry, found in the previous generation
	l.observe("t2|a", t0.Add(3*attemptGen), regimeThrottle)   // two rotations later: new
	l.observe("t1|b", t0.Add(3*attemptGen+1), regimeThrottle) // forgotten: counts as new
	first, retries := l.totals()
	if first[regimeFlaky] != 2 || retries[regimeFlaky] != 1 || first[regimeThrottle] != 2 || retries[regimeThrottle] != 1 {
		t.Errorf("totals() = first %v, retries %v; want flaky 2/1, throttle 2/1", first, retries)
	}
}

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tservice\nVmPeak:\t  900000 kB\nVmHWM:\t   40000 kB\nVmRSS:\t   30000 kB\nThreads:\t7\n"
	rss, hwm, err := parseProcStatus([]byte(in))
	if err != nil || rss != 30000<<10 || hwm != 40000<<10 {
		t.Errorf("parseProcStatus = %d, %d, %v; want %d, %d, nil", rss, hwm, err, 30000<<10, 40000<<10)
	}
	for _, bad := range []string{"", "VmRSS: 12 MB\nVmHWM: 1 kB\n", "VmRSS: x kB\nVmHWM: 1 kB\n", "VmRSS: 1 kB\n"} {
		if _, _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("parseProcStatus(%q) = nil error; want one", bad)
		}
	}
}

// TestDownstream drives the fault server over loopback in each regime.
func TestDownstream(t *testing.T) {
	d, err := newDownstream("tok", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	// No keep-alive: net/http would otherwise resend a request with an
	// Idempotency-Key by itself when a reused connection is reset.
	hc := newClient(0, false)
	defer hc.CloseIdleConnections()
	post := func(token, text string) (*http.Response, []byte, error) {
		body, _ := json.Marshal(map[string]string{"text": text})
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, d.url(), strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		req.Header.Set("Idempotency-Key", "analyze-1")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	resp, body, err := post("tok", "héllo wörld δ")
	if err != nil || resp.StatusCode != 200 || string(body) != `{"words":3,"chars":13}` {
		t.Errorf("healthy POST = %v %s %v; want 200 {\"words\":3,\"chars\":13}", resp, body, err)
	}
	if resp, _, err := post("wrong", "x"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST with a wrong token = %v, %v; want 401", resp, err)
	}

	d.setSchedule(schedule{start: time.Now().Add(-time.Second), cycle: []segment{{regimeOutage, time.Hour}}})
	var resets, unavailable int
	for range 40 {
		resp, _, err := post("tok", "x")
		switch {
		case err != nil:
			resets++
		case resp.StatusCode == http.StatusServiceUnavailable:
			unavailable++
		default:
			t.Fatalf("outage POST = %d; want 503 or a reset", resp.StatusCode)
		}
	}
	if resets == 0 || unavailable == 0 {
		t.Errorf("outage: %d resets, %d 503s; want some of each", resets, unavailable)
	}

	d.setSchedule(schedule{start: time.Now().Add(-time.Second), cycle: []segment{{regimeThrottle, time.Hour}}})
	var throttled int
	for range 40 {
		resp, _, err := post("tok", "x")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled++
			if resp.Header.Get("Retry-After") != "0" {
				t.Errorf("429 Retry-After = %q; want 0", resp.Header.Get("Retry-After"))
			}
		}
	}
	if throttled == 0 {
		t.Error("throttle: no 429 in 40 requests")
	}

	c := d.counts()
	if c[regimeHealthy][dsOK] != 1 || c[regimeHealthy][dsUnauthorized] != 1 || c[regimeOutage][dsReset] != uint64(resets) {
		t.Errorf("counts = %v; want 1 ok and 1 unauthorized while healthy, %d resets in the outage", c, resets)
	}
	first, retries := d.attempts.totals()
	if first[regimeHealthy] != 1 || retries[regimeOutage] != 40 {
		t.Errorf("attempts: first %v, retries %v; want 1 first attempt, then every request with the same trace and key a retry", first, retries)
	}
	d.closeIdle()
}
