package webhook

import (
	"context"
	"fmt"
	"time"
)

// Outbox is the durable queue behind at-least-once delivery: the service
// writes a delivery into it in the same database transaction as the change
// the message announces, and [Sender.Deliver] drains it. The package
// documentation shows a PostgreSQL implementation. Implementations must be
// safe for concurrent use by several replicas.
type Outbox interface {
	// Due claims up to n deliveries whose next attempt is due, hiding them
	// from other callers of Due until they are reported (or a lease
	// expires, so that a crashed replica's claims come back).
	Due(ctx context.Context, n int) ([]Delivery, error)
	// Delivered records that d was accepted by its endpoint.
	Delivered(ctx context.Context, d Delivery) error
	// Failed records a failed attempt of d (err is a *DeliveryError) and
	// schedules the next at next, or gives d up when next is zero (a
	// permanent failure or an exhausted schedule; errors.Is(err, ErrGone)
	// says the endpoint should be disabled).
	Failed(ctx context.Context, d Delivery, err error, next time.Time) error
}

// Delivery is one message for one endpoint, as an Outbox holds it.
type Delivery struct {
	// Key identifies the delivery to its Outbox (a row id, say).
	Key      string
	Endpoint Endpoint
	Message  Message
	// Attempts is the number of attempts already made.
	Attempts int
}

// Deliver makes one pass over o: it claims up to n due deliveries, makes
// one attempt at each, in order, on the calling goroutine, and reports
// each outcome to o (the next attempt is scheduled with [Sender.Next]). It
// returns the number delivered and the first error of o itself; failed
// attempts are outcomes, not errors. Call it periodically, for example from
// a tick.Every job; run it on several replicas to deliver in parallel.
// When ctx ends, Deliver stops after the current attempt and returns
// context.Cause(ctx); the claimed deliveries it did not reach come back when
// their lease expires.
func (s *Sender) Deliver(ctx context.Context, o Outbox, n int) (int, error) {
	ds, err := o.Due(ctx, n)
	if err != nil {
		return 0, fmt.Errorf("webhook: outbox due: %w", err)
	}
	sent := 0
	for _, d := range ds {
		if ctx.Err() != nil {
			return sent, context.Cause(ctx)
		}
		err := s.Attempt(ctx, d.Endpoint, d.Message)
		if err == nil {
			sent++
			if err := o.Delivered(ctx, d); err != nil {
				return sent, fmt.Errorf("webhook: outbox delivered: %w", err)
			}
			continue
		}
		if de, ok := err.(*DeliveryError); ok {
			de.Attempts = d.Attempts + 1
		}
		var next time.Time
		if wait, retry := s.Next(d.Attempts+1, err); retry {
			next = s.now().Add(wait)
		}
		if err := o.Failed(ctx, d, err, next); err != nil {
			return sent, fmt.Errorf("webhook: outbox failed: %w", err)
		}
	}
	return sent, nil
}
