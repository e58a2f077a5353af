package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/chassis-go/chassis/problem"
)

// A full store answers creates with 507 and stays ready: filling it must
// not let a client pull the replica out of rotation.
func TestMemStoreFull(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	for i := range maxNotes {
		if _, err := s.create(ctx, noteInput{Title: "n"}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	_, err := s.create(ctx, noteInput{Title: "one too many"})
	var p *problem.Error
	if !errors.As(err, &p) || p.Status != http.StatusInsufficientStorage {
		t.Errorf("create on a full store = %v; want a 507 problem", err)
	}
	if err := s.ping(ctx); err != nil {
		t.Errorf("readiness of a full store = %v; want ready", err)
	}
	if n, err := s.purge(ctx, time.Now().Add(time.Hour)); err != nil || n != maxNotes {
		t.Errorf("purge = %d, %v; want %d", n, err, maxNotes)
	}
}
