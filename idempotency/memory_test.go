package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// storeOp is one call to a Store and its expected outcome.
type storeOp struct {
	op       string // acquire, complete, release, advance
	key, tok string
	fp       string
	d        time.Duration // lock TTL, retention or clock advance
	acquired bool
	done     bool // for a refused acquire: the record returned is done
	err      error
}

func runStoreOps(t *testing.T, s idempotency.Store, clock func(time.Duration), ops []storeOp) {
	t.Helper()
	ctx := context.Background()
	for i, o := range ops {
		var err error
		switch o.op {
		case "acquire":
			var rec idempotency.Record
			var acquired bool
			rec, acquired, err = s.Acquire(ctx, o.key, o.tok, o.fp, o.d)
			if err == nil && acquired != o.acquired {
				t.Fatalf("op %d: Acquire(%s) acquired = %v; want %v", i, o.key, acquired, o.acquired)
			}
			if err == nil && !acquired && (rec.Done != o.done || rec.Fingerprint != o.fp) {
				t.Errorf("op %d: Acquire(%s) = done %v fp %q; want done %v fp %q", i, o.key, rec.Done, rec.Fingerprint, o.done, o.fp)
			}
			if err == nil && !acquired && o.done && (rec.Status != 201 || string(rec.Body) != "body") {
				t.Errorf("op %d: Acquire(%s) = %d %q; want the stored 201 body", i, o.key, rec.Status, rec.Body)
			}
		case "complete":
			err = s.Complete(ctx, o.key, o.tok, idempotency.Record{Fingerprint: o.fp, Done: true, Status: 201, Body: []byte("body")}, o.d)
		case "release":
			err = s.Release(ctx, o.key, o.tok)
		case "advance":
			clock(o.d)
		}
		if !errors.Is(err, o.err) {
			t.Fatalf("op %d (%s %s): err = %v; want %v", i, o.op, o.key, err, o.err)
		}
	}
}

// storeContract is the behaviour every Store shares.
var storeContract = []struct {
	name string
	ops  []storeOp
}{
	{"claim, complete, replay", []storeOp{
		{op: "acquire", key: "a", tok: "t1", fp: "f", d: time.Minute, acquired: true},
		{op: "acquire", key: "a", tok: "t2", fp: "f", d: time.Minute},
		{op: "complete", key: "a", tok: "t1", fp: "f", d: time.Hour},
		{op: "acquire", key: "a", tok: "t3", fp: "f", d: time.Minute, done: true},
		{op: "advance", d: time.Hour},
		{op: "acquire", key: "a", tok: "t4", fp: "g", d: time.Minute, acquired: true},
	}},
	{"release frees the key", []storeOp{
		{op: "acquire", key: "a", tok: "t1", fp: "f", d: time.Minute, acquired: true},
		{op: "release", key: "a", tok: "t2"}, // not the holder: nothing happens
		{op: "acquire", key: "a", tok: "t3", fp: "f", d: time.Minute},
		{op: "release", key: "a", tok: "t1"},
		{op: "acquire", key: "a", tok: "t4", fp: "f", d: time.Minute, acquired: true},
	}},
	{"expired lock is lost", []storeOp{
		{op: "acquire", key: "a", tok: "t1", fp: "f", d: time.Minute, acquired: true},
		{op: "advance", d: time.Minute},
		{op: "acquire", key: "a", tok: "t2", fp: "f", d: time.Minute, acquired: true},
		{op: "complete", key: "a", tok: "t1", fp: "f", d: time.Hour, err: idempotency.ErrLockLost},
		{op: "complete", key: "a", tok: "t2", fp: "f", d: time.Hour},
		{op: "complete", key: "a", tok: "t2", fp: "f", d: time.Hour, err: idempotency.ErrLockLost}, // twice
		{op: "release", key: "a", tok: "t2"},                                                       // done records stay
		{op: "acquire", key: "a", tok: "t3", fp: "f", d: time.Minute, done: true},
	}},
}

func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	for _, tc := range storeContract {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := fakeclock.New(start)
			runStoreOps(t, idempotency.NewMemoryStore(idempotency.WithClock(c.Now)), c.Advance, tc.ops)
		})
	}
}

// TestMemoryStoreBound fills a store of 3 and checks what goes at the cap:
// expired records, then the oldest completed one, never an in-flight one.
func TestMemoryStoreBound(t *testing.T) {
	t.Parallel()
	c := fakeclock.New(start)
	s := idempotency.NewMemoryStore(idempotency.MaxKeys(3), idempotency.WithClock(c.Now))
	runStoreOps(t, s, c.Advance, []storeOp{
		{op: "acquire", key: "done1", tok: "t", fp: "f", d: time.Minute, acquired: true},
		{op: "complete", key: "done1", tok: "t", fp: "f", d: time.Hour},
		{op: "acquire", key: "done2", tok: "t", fp: "f", d: time.Minute, acquired: true},
		{op: "complete", key: "done2", tok: "t", fp: "f", d: time.Hour},
		{op: "acquire", key: "fly1", tok: "t", fp: "f", d: time.Minute, acquired: true},
		// Full: the oldest completed record goes.
		{op: "acquire", key: "fly2", tok: "t", fp: "f", d: time.Minute, acquired: true},
		{op: "acquire", key: "done2", tok: "t", fp: "f", d: time.Minute, done: true},
		{op: "acquire", key: "fly3", tok: "t", fp: "f", d: time.Minute, acquired: true},
		// Only in-flight records remain: refused.
		{op: "acquire", key: "fly4", tok: "t", fp: "f", d: time.Minute, err: idempotency.ErrFull},
		{op: "acquire", key: "fly1", tok: "t2", fp: "f", d: time.Minute},
		// Locks expire: room again.
		{op: "advance", d: time.Minute},
		{op: "acquire", key: "fly4", tok: "t", fp: "f", d: time.Minute, acquired: true},
	})
	if s.Len() > 3 {
		t.Errorf("Len() = %d; want at most 3", s.Len())
	}
}

func TestNilOptions(t *testing.T) {
	t.Parallel()
	s := idempotency.NewMemoryStore(nil, idempotency.WithClock(nil), nil)
	if _, ok, err := s.Acquire(context.Background(), "k", "t", "f", time.Minute); !ok || err != nil {
		t.Errorf("Acquire on a store built with nil options = %v, %v; want true, nil", ok, err)
	}
}

func TestMaxKeysPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if v, _ := recover().(string); v != "idempotency.MaxKeys: n must be at least 1, got 0" {
			t.Errorf("MaxKeys(0) panic = %q", v)
		}
	}()
	idempotency.MaxKeys(0)
}
