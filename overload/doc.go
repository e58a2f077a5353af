// Package overload admits only the work a service can finish: an adaptive
// concurrency limit with priorities, a bounded queue and deadline-aware
// refusal. Most callers need only [NewLimiter], [Limiter.Acquire] and
// [Ticket.Done]; guard.Shed, call.WithOverload and grpckit wrap them for
// HTTP servers, HTTP clients and gRPC servers.
//
//	l := overload.NewLimiter(overload.Config{MaxQueue: 50}) // zero fields: defaults
//	t, err := l.Acquire(ctx, overload.Default)
//	if err != nil {
//		return err // errors.Is(err, overload.ErrOverloaded): refused, nothing started
//	}
//	err = work(ctx)
//	t.Done(outcome(ctx, err)) // Success, Dropped (timed out, 503) or Ignored (caller gone)
//
// # Why a concurrency limit
//
// Rate limits per client stop one greedy client, not the sum of all of
// them. When more work arrives than a service can do, everything queues,
// every latency passes every caller's timeout, and goodput falls to zero
// while the service is busy with work nobody will read (congestion
// collapse). By Little's law, throughput = concurrency / latency: past the
// concurrency the service sustains, more concurrency only adds queueing.
// A Limiter finds that concurrency from the latency of the work it admits
// and refuses the rest at once, cheaply, so the work it admits finishes in
// time. It needs no CPU reading, so it works for I/O-bound services and in
// containers, where CPU-based shedders (kratos BBR, go-zero) misfire.
//
// # How the limit moves
//
// The limit stays within [Config.MinLimit, Config.MaxLimit], grows slowly
// and is cut fast; see [Algorithm] for the four algorithms ([Gradient], the
// default, [AIMD], [Vegas] and [Fixed]). Only completed work teaches it:
// [Ticket.Done] with Success or Dropped adds a latency sample; work that was
// refused, or that ends Ignored because the caller went away, adds none, so
// a burst of cancellations neither pulls the limit up (short latencies) nor
// down.
//
// # Priorities, queue and deadlines
//
// [Critical] work may use the whole limit, [Default] work 90% of it and
// [Sheddable] work 75%, so as in-flight work nears the limit the lowest
// class is refused first. With Config.MaxQueue > 0, work that finds the
// limit reached waits in a bounded queue, highest priority first, for at
// most Config.MaxWait; a full queue pushes out its newest lowest-priority
// waiter to make room for higher-priority work. Work whose context deadline
// leaves less than the service time (the limiter's baseline latency) is
// refused at once, and no wait in the queue outlasts what the deadline
// leaves: queueing work that cannot finish would spend capacity on it.
//
// # Cost
//
// While nobody is queued, Acquire and Done are a few atomic operations and
// two reads of the monotonic clock, with no lock: the Done that fills a
// window moves the limit under a lock that no other Done waits for (it
// tries it, and leaves the window to the holder). Neither allocates, and a
// refusal returns a preallocated error. The queue, when used, has its own
// lock. See BENCHMARKS.md for the numbers
// and for the overload simulation against failsafe-go, kratos BBR and
// go-zero.
//
// # Metrics
//
// chassis.overload.limit, chassis.overload.inflight and
// chassis.overload.queued (gauges) and chassis.overload.rejections (a
// counter by chassis.overload.reason and chassis.priority), each with
// chassis.overload.name; see docs/metrics.md.
package overload
