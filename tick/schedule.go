package tick

import (
	"time"

	"github.com/robfig/cron/v3"
)

// schedule is the sequence of a job's ticks. A schedule is immutable; at
// returns the sequence anchored at the time Run starts.
type schedule interface {
	// first returns the first tick at or after start.
	first(start time.Time) time.Time
	// next returns the first tick strictly after t; the zero time if there
	// is none.
	next(t time.Time) time.Time
}

// every ticks at anchor + k·interval, k = 0, 1, 2 ...: the ticks are
// computed from the anchor, never from the end of a run, so they cannot
// drift.
type every struct {
	anchor   time.Time
	interval time.Duration
}

func (e every) first(time.Time) time.Time { return e.anchor }

func (e every) next(t time.Time) time.Time {
	if t.Before(e.anchor) {
		return e.anchor
	}
	k := t.Sub(e.anchor)/e.interval + 1
	return e.anchor.Add(k * e.interval)
}

// cronSchedule ticks at the activations of a cron expression.
type cronSchedule struct{ s cron.Schedule }

func (c cronSchedule) first(start time.Time) time.Time { return c.s.Next(start.Add(-time.Nanosecond)) }
func (c cronSchedule) next(t time.Time) time.Time      { return c.s.Next(t) }

// skipTo returns the first tick of s at or after end that follows due, and
// how many ticks strictly between due and that tick were passed over.
// Ticks that passed while a run was in progress are skipped, never run
// late one after the other.
func skipTo(s schedule, due, end time.Time) (time.Time, int) {
	n := s.next(due)
	if n.IsZero() || !n.Before(end) {
		return n, 0
	}
	if e, ok := s.(every); ok {
		// Closed form: the first tick >= end.
		k := (end.Sub(e.anchor) + e.interval - 1) / e.interval
		t := e.anchor.Add(k * e.interval)
		return t, int(t.Sub(n) / e.interval)
	}
	skipped := 0
	for !n.IsZero() && n.Before(end) {
		n = s.next(n)
		skipped++
	}
	return n, skipped
}
