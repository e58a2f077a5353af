// Package tick runs background jobs on a schedule: runs never overlap,
// never drift, survive panics, stop with the service, and, when asked, run
// on one replica at a time. [Every] (or [Cron]) builds a [Job]; its
// [Job.Run] method is a lifecycle.Component:
//
//	purge := tick.Every("purge-notes", time.Hour, store.PurgeExpired,
//		tick.Timeout(5*time.Minute), tick.Jitter(time.Minute))
//	checker.Add("job:purge-notes", purge.Check(3), health.NonCritical())
//	err := lifecycle.Run(ctx, lifecycle.HTTP(srv), purge.Run)
//
// # Schedule
//
// An Every job ticks at start + k·interval, where start is when Run was
// called (shifted by [StartJitter] if given). The ticks are computed from
// start, never from the end of the previous run, so they do not drift. Runs
// happen on Run's goroutine one after the other: a run still in progress at
// a tick makes the job skip that tick, and any later ones that pass before
// it ends, rather than run them late back to back. Skipped ticks are
// counted (chassis.tick.skipped, reason "overrun") and logged. [Jitter]
// delays each run by a random amount below the interval without moving
// the ticks.
//
// # Failures
//
// A run fails when fn returns an error, panics (the panic becomes a
// *[PanicError] and the job goes on), overruns its [Timeout], or loses its
// lease. Every failure is logged and counted; [OnError] chooses what
// follows: carry on ([Continue], the default), space runs out ([BackOff])
// or make Run return the error ([Stop]).
//
// # Shutdown
//
// Cancelling Run's context ends Run within one run: a wait for the next
// tick ends at once, and a run in progress sees its context cancelled and
// is waited for (it is never abandoned, so it cannot leak). A run ended by
// shutdown is not counted as a failure.
//
// # Singleton jobs
//
// [WithLock] makes the job take a lease from a [Locker] before each run:
// tick/redislock (Redis SET NX PX, renewed while the run lasts) and
// tick/pglock (a PostgreSQL advisory lock on a connection held for the
// run). A replica that finds the lease taken skips the tick (reason
// "locked"; not a failure). Losing the lease during a run (Redis
// unreachable, connection dropped) cancels the run's context at once, with
// cause [ErrLeaseLost]. A lease is not a perfect mutex: a holder paused
// for longer than the lease may still write after another took over, so a
// run that writes to a store should pass [FencingToken] along and let the
// store refuse writes with a token older than the newest it has seen.
//
// # Health
//
// [Job.Check] returns a health.Check that fails when the job has not
// succeeded for k intervals, so a job that silently stopped working shows
// up on /readyz (add it as health.NonCritical) and on status pages
// ([Job.Status]).
//
// # Metrics
//
// Recorded through the OpenTelemetry API (scope
// github.com/chassis-go/chassis/tick), each with the attribute chassis.job
// (the job's name):
//   - chassis.tick.runs (counter, {run}): runs started.
//   - chassis.tick.failures (counter, {run}): failed ticks, by error.type:
//     error, panic, timeout, lease_lost, lock (the lock could not be asked
//     for; fn did not run).
//   - chassis.tick.skipped (counter, {tick}): ticks passed over, by
//     chassis.tick.reason: overrun, backoff, locked.
//   - chassis.tick.duration (histogram, s): run durations, by
//     chassis.tick.outcome: success, failure, canceled (by shutdown).
//   - chassis.tick.last_success.age (gauge, s): time since the last
//     success (since Run started if none yet), while Run runs. With a lock,
//     only the replica that ran the job sees its success: alert on the
//     minimum across replicas.
package tick
