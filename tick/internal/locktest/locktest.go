// Package locktest holds the tests every tick.Locker must pass, so that the
// Redis and PostgreSQL lockers are held to one contract, written once.
package locktest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/tick"
)

// RecordHandler is a slog.Handler that sends a job's Error records on the
// channel, dropping them when it is full.
type RecordHandler chan slog.Record

// Enabled reports whether l is Error or above.
func (h RecordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

// Handle sends r, unless the channel is full.
func (h RecordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r:
	default:
	}
	return nil
}

// WithAttrs returns h.
func (h RecordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup returns h.
func (h RecordHandler) WithGroup(string) slog.Handler { return h }

// observed reports each refusal of its Locker on refused.
type observed struct {
	tick.Locker
	refused chan struct{}
}

func (o observed) Acquire(ctx context.Context, name string) (tick.Lease, error) {
	ls, err := o.Locker.Acquire(ctx, name)
	if errors.Is(err, tick.ErrLocked) {
		select {
		case o.refused <- struct{}{}:
		default:
		}
	}
	return ls, err
}

// NeverOverlap runs two replicas of the job name, each with a Locker from
// newLocker, ticking every millisecond, and fails t if their runs ever
// overlap or the fencing tokens do not increase. Each run lasts until the
// other replica has been refused the lock at least once, so every run is
// contended.
func NeverOverlap(t *testing.T, name string, newLocker func() tick.Locker) {
	t.Helper()
	const want = 20
	var (
		inRun, overlaps atomic.Int32
		mu              sync.Mutex
		tokens          []int64
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	refused := [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for i := range 2 {
		other := refused[1-i]
		fn := func(ctx context.Context) error {
			if inRun.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer inRun.Add(-1)
			tok, _ := tick.FencingToken(ctx)
			mu.Lock()
			tokens = append(tokens, tok)
			if len(tokens) >= want {
				cancel()
			}
			mu.Unlock()
			select { // an old refusal happened during this holder's previous run
			case <-other:
			default:
			}
			select {
			case <-other:
			case <-ctx.Done():
			}
			return nil
		}
		job := tick.Every(name, time.Millisecond, fn, tick.WithLock(observed{newLocker(), refused[i]}),
			tick.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		wg.Go(func() {
			if err := job.Run(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("replica %d: Run() = %v; want context.Canceled", i, err)
			}
		})
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d runs overlapped another", n)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Errorf("fencing tokens %v do not increase", tokens)
			break
		}
	}
	if len(tokens) < want {
		t.Errorf("%d runs; want at least %d", len(tokens), want)
	}
}
