package tick

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chassis-go/chassis/health"
)

// Status is a snapshot of a job's state, for status pages. Times are read
// from the job's clock; a zero time means "never".
type Status struct {
	// Name is the job's name.
	Name string
	// Running reports whether the job's Run is running (not whether a run
	// is in progress: see LastRun).
	Running bool
	// Started is when Run started; zero if it never did.
	Started time.Time
	// Next is when the next run is due (jitter included); zero while a run
	// is in progress or when Run is not running.
	Next time.Time
	// LastRun is when the latest run started; LastSuccess when the latest
	// successful run ended, during the current Run.
	LastRun, LastSuccess time.Time
	// LastError is the error of the latest failed tick, nil once a run
	// succeeds.
	LastError error
	// Runs counts the runs started, Failures the failed ticks and Skipped
	// the ticks passed over, since the Job was built.
	Runs, Failures, Skipped uint64

	// lastOK is when the job was last seen working: a success, or a tick
	// skipped because another replica holds the lease.
	lastOK time.Time
}

// Status returns a snapshot of the job's state.
func (j *Job) Status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.st
	if !st.Running {
		st.Next = time.Time{}
	}
	return st
}

// ErrNotRunning is matched by the error of [Job.Check] while the job's Run
// is not running (not yet started, or returned).
var ErrNotRunning = errors.New("tick: job not running")

// ErrStale is matched by the error of [Job.Check] when the job has not
// succeeded for k intervals.
var ErrStale = errors.New("tick: job has not succeeded recently")

// Check returns a health check that fails while the job looks stuck or
// broken: when Run is not running ([ErrNotRunning]), or when the last
// success is older than k intervals ([ErrStale], wrapping the last error
// if any). For an [Every] job the limit is k × interval, plus the
// [Jitter]; for a [Cron] job it is the k-th activation after the last
// success. Before the first success the limit counts from Run's start
// (plus the [StartJitter]). A tick skipped because another replica holds
// the lease counts as a success here: the job is being done, by the other
// replica.
//
// The check never blocks and ignores its context. A run may end a little
// after its tick, so k = 1 flaps; k = 3 tolerates two missed runs. A
// failing job should rarely make the service unready, so add the check as
// non-critical:
//
//	checker.Add("job:purge-notes", job.Check(3), health.NonCritical())
//
// Panics if k < 1.
func (j *Job) Check(k int) health.Check {
	if k < 1 {
		panic(fmt.Sprintf("tick.Job.Check: k is %d; pass k >= 1 (3 tolerates two missed runs)", k))
	}
	return func(context.Context) error {
		j.mu.Lock()
		st := j.st
		j.mu.Unlock()
		if !st.Running {
			return fmt.Errorf("tick: job %q: %w", j.name, ErrNotRunning)
		}
		ref, slack := st.lastOK, j.cfg.jitter
		if ref.IsZero() {
			ref, slack = st.Started, slack+j.cfg.startJitter
		}
		limit := j.staleAfter(ref, k)
		if limit.IsZero() || !j.now().After(limit.Add(slack)) {
			return nil
		}
		if st.LastError != nil {
			return fmt.Errorf("tick: job %q: no success since %s: %w: %w", j.name,
				ref.Format(time.RFC3339), ErrStale, st.LastError)
		}
		return fmt.Errorf("tick: job %q: no success since %s: %w", j.name, ref.Format(time.RFC3339), ErrStale)
	}
}

// staleAfter returns the time k intervals after ref: ref + k·interval, or
// the k-th cron activation after ref.
func (j *Job) staleAfter(ref time.Time, k int) time.Time {
	if j.cron == nil {
		return ref.Add(time.Duration(k) * j.interval)
	}
	t := ref
	for range k {
		if t = j.cron.Next(t); t.IsZero() {
			return t
		}
	}
	return t
}

// MarshalJSON encodes s for status pages, with snake_case names, zero times
// left out and LastError as its text.
func (s Status) MarshalJSON() ([]byte, error) {
	type out struct {
		Name        string     `json:"name"`
		Running     bool       `json:"running"`
		Started     *time.Time `json:"started,omitempty"`
		Next        *time.Time `json:"next,omitempty"`
		LastRun     *time.Time `json:"last_run,omitempty"`
		LastSuccess *time.Time `json:"last_success,omitempty"`
		LastError   string     `json:"last_error,omitempty"`
		Runs        uint64     `json:"runs"`
		Failures    uint64     `json:"failures"`
		Skipped     uint64     `json:"skipped"`
	}
	t := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	o := out{Name: s.Name, Running: s.Running, Started: t(s.Started), Next: t(s.Next),
		LastRun: t(s.LastRun), LastSuccess: t(s.LastSuccess), Runs: s.Runs, Failures: s.Failures, Skipped: s.Skipped}
	if s.LastError != nil {
		o.LastError = s.LastError.Error()
	}
	return json.Marshal(o)
}
