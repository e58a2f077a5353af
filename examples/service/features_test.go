package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/webhook"
)

const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestServiceFeatures covers the parts of the reference service built on
// idempotency, webhook, flags and tick.
func TestServiceFeatures(t *testing.T) {
	p := startService(t,
		"WEBHOOK_SECRETS="+webhookSecret,
		"FLAG_DIGEST=false",
		"NOTE_RETENTION=1s", "PURGE_INTERVAL=1s",
		"DRAIN_DELAY=0s",
	)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	c := client{t: t, base: "http://" + p.httpAddr, ip: "198.51.100.20", hc: hc}

	t.Run("idempotent create", func(t *testing.T) {
		key := fmt.Sprintf(`"create-%d"`, time.Now().UnixNano())
		body := `{"title":"once","body":"only once"}`
		r1, b1 := c.do("POST", "/v1/notes", "application/json", body, "Idempotency-Key", key)
		r2, b2 := c.do("POST", "/v1/notes", "application/json", body, "Idempotency-Key", key)
		if r1.StatusCode != 201 || r2.StatusCode != 201 || string(b1) != string(b2) {
			t.Fatalf("two creates with one key = %d %s / %d %s; want the same 201", r1.StatusCode, b1, r2.StatusCode, b2)
		}
		if r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry not marked Idempotent-Replayed: %v", r2.Header)
		}
		r3, b3 := c.do("POST", "/v1/notes", "application/json", `{"title":"other"}`, "Idempotency-Key", key)
		wantProblem(t, r3, b3, http.StatusUnprocessableEntity)
	})

	t.Run("signed webhook", func(t *testing.T) {
		body := `{"title":"from a webhook"}`
		id := fmt.Sprintf("msg_%d", time.Now().UnixNano())
		sig, err := webhook.Sign(webhookSecret, id, time.Now(), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		hdr := []string{"webhook-id", id, "webhook-timestamp", fmt.Sprint(time.Now().Unix()), "webhook-signature", sig}
		resp, b := c.do("POST", "/v1/webhooks/notes", "application/json", body, hdr...)
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(b), "from a webhook") {
			t.Fatalf("signed webhook = %d %s; want 201", resp.StatusCode, b)
		}
		resp, b = c.do("POST", "/v1/webhooks/notes", "application/json", body, hdr...)
		wantProblem(t, resp, b, http.StatusUnauthorized) // a replay
		hdr[5] = "v1,AAAA"
		resp, b = c.do("POST", "/v1/webhooks/notes", "application/json", body, hdr...)
		wantProblem(t, resp, b, http.StatusUnauthorized)
	})

	t.Run("flag switches the digest off", func(t *testing.T) {
		resp, b := c.do("GET", "/v1/digest", "", "")
		wantProblem(t, resp, b, http.StatusServiceUnavailable)
	})

	t.Run("purge job deletes old notes", func(t *testing.T) {
		resp, b := c.do("POST", "/v1/notes", "application/json", `{"title":"old soon"}`)
		if resp.StatusCode != 201 {
			t.Fatalf("create = %d %s", resp.StatusCode, b)
		}
		var n struct{ ID int64 }
		_ = json.Unmarshal(b, &n)
		// The job runs every second and deletes notes older than a
		// second: wait for it, with a bound.
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, _ := c.do("GET", fmt.Sprintf("/v1/notes/%d", n.ID), "", "")
			if resp.StatusCode == http.StatusNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("note %d still there 20s later; logs:\n%s", n.ID, p.logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(p.logs(), `"purged notes"`) {
			t.Error("no \"purged notes\" log line")
		}
	})
}
