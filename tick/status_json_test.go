package tick_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/chassis-go/chassis/tick"
)

func TestStatusJSON(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	b, err := json.Marshal(tick.Status{Name: "purge", LastRun: at, LastError: errors.New("db down"), Runs: 3, Failures: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"purge","running":false,"last_run":"2026-12-06T10:00:00Z","last_error":"db down","runs":3,"failures":1,"skipped":0}`
	if string(b) != want {
		t.Errorf("json.Marshal(Status) = %s; want %s", b, want)
	}
}
