package retry_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/chassis-go/chassis/retry"
)

// pgError stands in for the driver's error type: pgx's *pgconn.PgError and
// lib/pq's *pq.Error both report the SQLSTATE code.
type pgError struct{ code, msg string }

func (e *pgError) Error() string    { return "ERROR: " + e.msg + " (SQLSTATE " + e.code + ")" }
func (e *pgError) SQLState() string { return e.code }

// retryableSQL reports whether a failed transaction is worth running
// again: a serialization failure or deadlock (the database asks for a
// retry), or a connection that broke before the statement could have run.
// Constraint violations, syntax errors and the like are not.
func retryableSQL(err error) bool {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		switch st.SQLState() {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.As(err, &ne)
}

// A transaction under SERIALIZABLE isolation is retried when PostgreSQL
// reports a serialization failure, and only then. In a real service the
// function would be
//
//	func(ctx context.Context) (int64, error) {
//		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
//		...
//		err = tx.QueryRowContext(ctx, `UPDATE accounts SET balance = balance - $1
//			WHERE id = $2 RETURNING balance`, amount, id).Scan(&balance)
//		...
//		return balance, tx.Commit()
//	}
//
// and the Budget one value shared by every query to that database.
func ExampleDoValue() {
	budget := retry.NewBudget(retry.BudgetConfig{}) // one per database
	policy := retry.Policy{
		MaxAttempts: 5,
		BaseDelay:   time.Millisecond,
		MaxElapsed:  2 * time.Second,
		Budget:      budget,
		Retryable:   retryableSQL,
	}
	tries := 0
	balance, err := retry.DoValue(context.Background(), policy, func(ctx context.Context) (int64, error) {
		tries++
		if tries <= 2 {
			return 0, &pgError{"40001", "could not serialize access due to concurrent update"}
		}
		return 70, nil
	})
	fmt.Println(balance, err, "after", tries, "tries")

	tries = 0
	_, err = retry.DoValue(context.Background(), policy, func(ctx context.Context) (int64, error) {
		tries++
		return 0, &pgError{"23514", `new row violates check constraint "balance_not_negative"`}
	})
	fmt.Println(err, "after", tries, "try")
	// Output:
	// 70 <nil> after 3 tries
	// ERROR: new row violates check constraint "balance_not_negative" (SQLSTATE 23514) after 1 try
}

// Permanent stops the retries from inside the function, for an error
// that the policy's Retryable would otherwise retry.
func ExamplePermanent() {
	tries := 0
	err := retry.Do(context.Background(), retry.Policy{BaseDelay: time.Millisecond}, func(ctx context.Context) error {
		tries++
		return retry.Permanent(errors.New("account closed"))
	})
	fmt.Println(err, "after", tries, "try")
	// Output: account closed after 1 try
}
