package main_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// TestServiceSheds drives the fixed-capacity /debug/work endpoint (two
// slots) with far more concurrent requests than it can serve: the adaptive
// limit answers the excess at once with 503 and Retry-After, and every
// other request succeeds. Readiness is never affected.
func TestServiceSheds(t *testing.T) {
	p := startService(t, "DEBUG_ENDPOINTS=true", "WORK_SLOTS=2", "DRAIN_DELAY=0s")
	base := "http://" + p.httpAddr
	const n = 60
	var (
		mu      sync.Mutex
		codes   = map[int]int{}
		noRetry int
		wg      sync.WaitGroup
	)
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", base+"/debug/work?d=100ms", nil)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			resp, err := hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				noRetry++
			}
		})
	}
	wg.Wait()
	if codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusOK] == 0 || codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != n {
		t.Errorf("statuses of %d concurrent requests = %v; want some 200s, some 503s and nothing else", n, codes)
	}
	if noRetry > 0 {
		t.Errorf("%d shed answers without Retry-After", noRetry)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz while shedding = %v, %v; want 200", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}
