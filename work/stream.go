package work

import (
	"context"
	"sync"
	"sync/atomic"
)

// Result is one output of [Stream]: fn's Value and Err for the input item
// received at position Index (0 for the first item read from in). Err is what
// fn returned or a *[PanicError]; Value is fn's value, which is the zero value
// after a panic.
type Result[R any] struct {
	Value R
	Err   error
	Index int
}

// Stream reads items from in and calls fn on each, on [Workers](n)
// goroutines (default GOMAXPROCS), sending one [Result] per item on the
// returned channel. Results come in completion order, or in input order with
// [Ordered] (see [Window] for the bound on buffering). A failing item does
// not stop the stream; [FailFast] has no effect. A panic in fn is recovered
// and delivered as that item's *[PanicError].
//
// The output channel is unbuffered and is closed once in is closed and every
// item read has been delivered, or once ctx is done.
//
// Cancellation contract: the caller must either drain the channel until it
// is closed or cancel ctx; after that Stream leaks nothing, even if the
// consumer has stopped reading and the producer neither sends nor closes in.
// When ctx is done the workers stop reading in, fn calls in flight see their
// context cancelled, and results not yet delivered are dropped (one racing
// with the cancellation may still be delivered, so keep receiving until the
// channel is closed, or stop receiving: both are safe). Without Ordered the
// channel is closed when the last running fn has returned; with Ordered it is
// closed at once and the workers exit as their fn returns. In both cases
// every goroutine exits once its fn honours the cancellation. Stream never
// closes in, and stops reading it on cancellation (an item whose receive
// races with the cancellation may still be taken and passed to fn with a
// cancelled context). If ctx is already done, Stream returns a closed
// channel and starts nothing; check ctx.Err().
//
// Item spans are children of the work.Stream span, itself a child of ctx's
// span; the work.Stream span ends when the output channel is closed.
//
// Panics if fn is nil.
func Stream[T, R any](ctx context.Context, in <-chan T, fn func(context.Context, T) (R, error), opts ...Option) <-chan Result[R] {
	if fn == nil {
		panic("work.Stream: fn is nil; pass the function to apply to each item")
	}
	out := make(chan Result[R])
	if ctx.Err() != nil {
		close(out)
		return out
	}
	cfg := newConfig(opts)
	w := cfg.poolSize()
	ctx, tel := startCall(ctx, &cfg, opStream)
	if tel.recording {
		tel.span.SetAttributes(attrWorkers.Int(w), attrOrdered.Bool(cfg.ordered))
	}
	s := &stream[T, R]{
		ctx:  ctx,
		done: ctx.Done(),
		in:   in,
		fn:   fn,
		out:  out,
		tel:  tel,
	}
	s.active.Store(int64(w))
	if cfg.ordered {
		window := cfg.window
		if window == 0 {
			window = w
		}
		s.window = window
		s.tokens = make(chan struct{}, window)
		s.results = make(chan Result[R], window)
		go s.collect()
	}
	for range w {
		go s.work()
	}
	return out
}

// stream is the shared state of one Stream call.
type stream[T, R any] struct {
	ctx    context.Context // the call span's
	done   <-chan struct{}
	in     <-chan T
	fn     func(context.Context, T) (R, error)
	out    chan Result[R]
	tel    telemetry
	active atomic.Int64 // workers still running

	// recv serialises reading in, so that indices follow input order.
	recv sync.Mutex
	next int

	// Ordered only: a token is held by each item read and not yet
	// delivered, and workers hand results to collect through results.
	window  int
	tokens  chan struct{}
	results chan Result[R]
}

// work is one worker.
func (s *stream[T, R]) work() {
	defer s.exit()
	for {
		i, item, ok := s.receive()
		if !ok {
			return
		}
		r := s.process(i, item)
		if s.tokens != nil {
			// Never blocks: results has room for every token holder.
			select {
			case s.results <- r:
			case <-s.done:
				return
			}
			continue
		}
		select {
		case <-s.done:
			return // drop the result rather than race the cancellation
		default:
		}
		select {
		case s.out <- r:
		case <-s.done:
			return
		}
	}
}

// receive reads the next item and assigns its index. It returns false once
// in is closed or the context is done.
func (s *stream[T, R]) receive() (int, T, bool) {
	var zero T
	s.recv.Lock()
	defer s.recv.Unlock()
	select {
	case <-s.done:
		return 0, zero, false
	default:
	}
	if s.tokens != nil {
		select {
		case s.tokens <- struct{}{}:
		case <-s.done:
			return 0, zero, false
		}
	}
	select {
	case item, ok := <-s.in:
		if ok {
			i := s.next
			s.next++
			return i, item, true
		}
	case <-s.done:
	}
	if s.tokens != nil {
		<-s.tokens // ours: never blocks
	}
	return 0, zero, false
}

func (s *stream[T, R]) process(i int, item T) Result[R] {
	r := Result[R]{Index: i}
	ctx, span := s.tel.startItem(s.ctx, i)
	r.Err = protect(ctx, i, func(ctx context.Context, _ int) error {
		var err error
		r.Value, err = s.fn(ctx, item)
		return err
	})
	s.tel.endItem(ctx, span, r.Err)
	return r
}

// exit is deferred by each worker; the last one out closes the output (or,
// when ordered, tells collect that no more results will come).
func (s *stream[T, R]) exit() {
	if s.active.Add(-1) != 0 {
		return
	}
	if s.tokens != nil {
		close(s.results)
		return
	}
	s.tel.end(nil)
	close(s.out)
}

// collect delivers the results of an ordered stream in input order. Slot
// i%window of pending holds result i: the tokens guarantee that every result
// waiting is within window of the next one to deliver.
func (s *stream[T, R]) collect() {
	defer func() {
		s.tel.end(nil)
		close(s.out)
	}()
	pending := make([]Result[R], s.window)
	ready := make([]bool, s.window)
	next := 0
	for {
		select {
		case r, ok := <-s.results:
			if !ok {
				return // every worker has exited and every result was delivered
			}
			slot := r.Index % s.window
			pending[slot], ready[slot] = r, true
			for slot := next % s.window; ready[slot]; slot = next % s.window {
				select {
				case s.out <- pending[slot]:
				case <-s.done:
					return
				}
				pending[slot], ready[slot] = Result[R]{}, false
				next++
				<-s.tokens // held by the item just delivered: never blocks
			}
		case <-s.done:
			return
		}
	}
}
