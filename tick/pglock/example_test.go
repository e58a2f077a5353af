package pglock_test

import (
	"context"
	"database/sql"
	"log"
	"os"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/pglock"
)

// A job that every replica schedules but only one runs at a time, using
// the PostgreSQL the replicas share. (It needs a server, so it has no
// output to check.)
func ExampleNew() {
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	purge := tick.Every("purge-notes", time.Hour, func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, `DELETE FROM notes WHERE expires_at < now()`)
		return err
	}, tick.WithLock(pglock.New(db)), tick.Timeout(5*time.Minute))

	_ = purge.Run // pass purge.Run to lifecycle.Run
}
