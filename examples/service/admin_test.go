package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAdminListener checks the operator's listener: the status page and
// its JSON with every stateful part, metrics (Go runtime included), the log
// level, pprof, and the stand-in downstream; and that none of the admin
// routes is on the public port.
func TestAdminListener(t *testing.T) {
	p := startService(t, "DRAIN_DELAY=0s")
	if p.adminAddr == "" {
		t.Fatalf("the listening line has no admin address:\n%s", p.logs())
	}
	admin := "http://" + p.adminAddr
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, page := get(admin + "/")
	for _, want := range []string{"downstream client", "rate limiter", "feature flags", "purge job", "notes cache"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("admin page (%d) lacks section %q", code, want)
		}
	}
	code, body := get(admin + "/status.json")
	var st map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Errorf("/status.json = %d %.200s; want JSON", code, body)
	}
	if code, body := get(admin + "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("admin /metrics = %d, without the Go runtime and process series", code)
	}
	if code, _ := get(admin + "/debug/pprof/"); code != 200 {
		t.Errorf("admin /debug/pprof/ = %d; want 200", code)
	}
	req, _ := http.NewRequest("PUT", admin+"/loglevel", strings.NewReader(`{"level":"debug"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("PUT /loglevel = %v, %v; want 200", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	// The public port serves the API and the probes only.
	public := "http://" + p.httpAddr
	for _, path := range []string{"/status.json", "/debug/pprof/", "/loglevel", "/buildinfo"} {
		if code, _ := get(public + path); code != http.StatusNotFound {
			t.Errorf("public %s = %d; want 404 (admin routes are not public)", path, code)
		}
	}
	req, _ = http.NewRequest("POST", public+"/internal/analyze", strings.NewReader(`{"text":"x"}`))
	req.Header.Set("Authorization", "Bearer "+downstreamToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the internal downstream route answers on the public port")
		}
	}
}
