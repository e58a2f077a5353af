package overload

// Priority orders work for admission: Critical > Default > Sheddable. The
// zero Priority is Default. As in-flight work approaches the limit, the
// lowest class is refused first:
//
//   - Critical work is admitted while fewer than Limit() units are in
//     flight.
//   - Default work is admitted while fewer than 90% of Limit() are (at least
//     1), so a tenth of the limit stays free for Critical work.
//   - Sheddable work is admitted while fewer than 75% of Limit() are (at
//     least 1).
//
// In the queue, a higher class is always admitted before a lower one, and a
// full queue makes room for higher-priority work by pushing out the newest
// waiter of the lowest class below it.
type Priority int8

// Priorities.
const (
	// Sheddable is work whose loss costs little: prefetches, retries of
	// idempotent reads, batch jobs, health-unrelated background calls.
	Sheddable Priority = -1
	// Default is ordinary work. It is the zero Priority.
	Default Priority = 0
	// Critical is work that must get through while anything does: the
	// requests that keep sessions, payments or the control plane alive.
	Critical Priority = 1

	numPriorities = 3
)

// String returns "sheddable", "default" or "critical", the values of the
// chassis.priority metric attribute; a value outside the three is "unknown".
func (p Priority) String() string {
	switch p {
	case Sheddable:
		return "sheddable"
	case Default:
		return "default"
	case Critical:
		return "critical"
	}
	return "unknown"
}

// ParsePriority returns the Priority whose String is s, and false (with
// Default) for anything else, so that a priority read from a request header
// or gRPC metadata never fails the request.
func ParsePriority(s string) (Priority, bool) {
	switch s {
	case "sheddable":
		return Sheddable, true
	case "default":
		return Default, true
	case "critical":
		return Critical, true
	}
	return Default, false
}

// index maps a valid Priority to 0..2 (sheddable, default, critical); an
// invalid one is treated as Default.
func (p Priority) index() int {
	if p < Sheddable || p > Critical {
		return int(Default + 1)
	}
	return int(p + 1)
}

// threshold is how many units may be in flight before work of priority
// index i is refused, given the limit.
func threshold(limit int64, i int) int64 {
	var t int64
	switch i {
	case 2: // critical
		return limit
	case 1: // default
		t = limit * 9 / 10
	default: // sheddable
		t = limit * 3 / 4
	}
	return max(t, 1)
}
