package overload

import (
	"context"
	"time"
)

// The queue: one FIFO list per priority, guarded by Limiter.qmu. A waiter
// leaves its list in one of three ways, each decided under qmu so exactly
// one applies: granted (dispatchLocked took a unit for it), evicted (a
// higher priority needed its place), or gone (it left on its own, on its
// timer or its ctx, in wait).

type waitState uint8

const (
	waiting waitState = iota
	granted
	evicted
)

type waiter struct {
	pi         int
	state      waitState
	t          *Ticket
	ch         chan struct{} // closed when state leaves waiting
	prev, next *waiter
}

type waitList struct {
	head, tail *waiter
	n          int
}

func (q *waitList) push(w *waiter) {
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
}

func (q *waitList) remove(w *waiter) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	q.n--
}

// wait is Acquire's slow path: the limit is reached, or others are queued.
func (l *Limiter) wait(ctx context.Context, pi int, remain time.Duration) (*Ticket, error) {
	l.qmu.Lock()
	ahead := false
	for i := pi; i < numPriorities; i++ {
		ahead = ahead || l.queues[i].n > 0
	}
	if !ahead {
		if n, ok := l.tryAdmit(pi); ok {
			l.qmu.Unlock()
			return l.ticket(n), nil
		}
	}
	if l.maxQueue == 0 {
		l.qmu.Unlock()
		return nil, l.reject(ReasonLimit, pi)
	}
	d := l.maxWait
	if remain >= 0 {
		d = min(d, remain-time.Duration(l.baseline.Load()))
		if d <= 0 {
			l.qmu.Unlock()
			return nil, l.reject(ReasonDeadline, pi)
		}
	}
	if int(l.queued.Load()) >= l.maxQueue && !l.evictBelowLocked(pi) {
		l.qmu.Unlock()
		return nil, l.reject(ReasonQueueFull, pi)
	}
	w := &waiter{pi: pi, ch: make(chan struct{})}
	l.queues[pi].push(w)
	l.queued.Add(1)
	// A Done that ran between the failed tryAdmit and the push saw no
	// waiter; dispatching here makes sure its unit is not left idle.
	l.dispatchLocked()
	l.qmu.Unlock()
	if l.onWait != nil {
		l.onWait()
	}

	timer, stop := l.newTimer(d)
	var timedOut bool
	select {
	case <-w.ch:
	case <-timer:
		timedOut = true
	case <-ctx.Done():
	}
	stop()

	l.qmu.Lock()
	switch w.state {
	case granted:
		l.qmu.Unlock()
		if err := ctx.Err(); err != nil {
			w.t.Done(Ignored)
			return nil, err
		}
		return w.t, nil
	case evicted:
		l.qmu.Unlock()
		return nil, l.reject(ReasonQueueFull, pi)
	}
	l.queues[pi].remove(w)
	l.queued.Add(-1)
	l.qmu.Unlock()
	if timedOut {
		return nil, l.reject(ReasonQueueTimeout, pi)
	}
	return nil, ctx.Err()
}

// evictBelowLocked pushes out the newest waiter of the lowest priority
// below pi, and reports whether there was one.
func (l *Limiter) evictBelowLocked(pi int) bool {
	for i := 0; i < pi; i++ {
		if w := l.queues[i].tail; w != nil {
			l.queues[i].remove(w)
			l.queued.Add(-1)
			w.state = evicted
			close(w.ch)
			return true
		}
	}
	return false
}

// dispatchLocked admits queued waiters, highest priority first and FIFO
// within a priority, while the limit allows. Priorities' thresholds shrink
// from Critical to Sheddable, so once the head of one list cannot be
// admitted, no lower list can be either.
func (l *Limiter) dispatchLocked() {
	for i := numPriorities - 1; i >= 0; i-- {
		q := &l.queues[i]
		for q.head != nil {
			n, ok := l.tryAdmit(i)
			if !ok {
				return
			}
			w := q.head
			q.remove(w)
			l.queued.Add(-1)
			w.state, w.t = granted, l.ticket(n)
			close(w.ch)
		}
	}
}
