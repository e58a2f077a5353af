package webhook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chassis-go/chassis/webhook"
)

// memOutbox is an Outbox over a slice, recording outcomes.
type memOutbox struct {
	due       []webhook.Delivery
	delivered []string
	failed    map[string]time.Time
	errs      map[string]error
}

func (o *memOutbox) Due(_ context.Context, n int) ([]webhook.Delivery, error) {
	d := o.due[:min(n, len(o.due))]
	o.due = o.due[len(d):]
	return d, nil
}
func (o *memOutbox) Delivered(_ context.Context, d webhook.Delivery) error {
	o.delivered = append(o.delivered, d.Key)
	return nil
}
func (o *memOutbox) Failed(_ context.Context, d webhook.Delivery, err error, next time.Time) error {
	o.failed[d.Key], o.errs[d.Key] = next, err
	return nil
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	s, clock, _ := testSender(t, webhook.WithSchedule(time.Minute, time.Hour))
	_, ok := newScripted(t, clock)
	_, gone := newScripted(t, clock, 410)
	_, failing := newScripted(t, clock, 500, 500)
	ep := func(url string) webhook.Endpoint { return webhook.Endpoint{URL: url, Secrets: []string{vecSecret}} }
	o := &memOutbox{failed: map[string]time.Time{}, errs: map[string]error{}, due: []webhook.Delivery{
		{Key: "ok", Endpoint: ep(ok), Message: msg},
		{Key: "gone", Endpoint: ep(gone), Message: msg},
		{Key: "retry", Endpoint: ep(failing), Message: msg, Attempts: 1},
		{Key: "last", Endpoint: ep(failing), Message: msg, Attempts: 2},
		{Key: "later", Endpoint: ep(ok), Message: msg},
	}}
	n, err := s.Deliver(context.Background(), o, 4)
	if n != 1 || err != nil {
		t.Fatalf("Deliver = %d, %v; want 1, nil", n, err)
	}
	if len(o.delivered) != 1 || o.delivered[0] != "ok" || len(o.due) != 1 {
		t.Errorf("delivered %v, left %d; want [ok], 1 left", o.delivered, len(o.due))
	}
	now := clock.Now()
	if next := o.failed["gone"]; !next.IsZero() || !errors.Is(o.errs["gone"], webhook.ErrGone) {
		t.Errorf("gone: next %v, err %v; want zero (given up), ErrGone", next, o.errs["gone"])
	}
	if next := o.failed["retry"]; next.Before(now.Add(time.Hour)) || next.After(now.Add(66*time.Minute)) {
		t.Errorf("retry after attempt 2: next in %v; want about 1h", next.Sub(now))
	}
	if next := o.failed["last"]; !next.IsZero() {
		t.Errorf("last attempt: next %v; want zero (schedule exhausted)", next)
	}
	var de *webhook.DeliveryError
	if !errors.As(o.errs["last"], &de) || de.Attempts != 3 {
		t.Errorf("last: %v; want a DeliveryError after 3 attempts", o.errs["last"])
	}
}
