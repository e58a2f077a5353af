package pgoutbox_test

import (
	"context"
	"database/sql"
	"log"
	"time"

	"github.com/chassis-go/chassis/webhook"
	"github.com/chassis-go/chassis/webhook/pgoutbox"
)

// The outbox in a service: enqueue with the business change, drain from a
// periodic job on every replica. (Not run: it needs a PostgreSQL.)
func ExampleOutbox() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://app@db/app")
	if err != nil {
		log.Fatal(err)
	}
	box := pgoutbox.New(db)
	if err := box.CreateTable(ctx); err != nil { // or box.DDL() in a migration
		log.Fatal(err)
	}

	// In the request that marks the invoice paid:
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	// ... UPDATE invoices SET paid = true ...
	err = box.Enqueue(ctx, tx,
		webhook.Endpoint{URL: "https://customer.example/hooks", Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		webhook.Message{ID: "msg_2Lq3", Body: []byte(`{"type":"invoice.paid","id":"in_1"}`)})
	if err != nil {
		_ = tx.Rollback()
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	// On every replica, every few seconds (a tick.Every job in a real service):
	sender := webhook.NewSender(nil) // SSRF-safe transport, breaker per host
	for range time.Tick(5 * time.Second) {
		if _, err := sender.Deliver(ctx, box, 100); err != nil {
			log.Print(err)
		}
	}
}
