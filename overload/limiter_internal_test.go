package overload

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
)

// sim drives a limiter with a fake clock: each round admits as much
// Critical work as the limit allows, lets lat pass, and ends it all with o.
type sim struct {
	t   *testing.T
	l   *Limiter
	clk *fakeclock.Clock
}

func newSim(t *testing.T, cfg Config) *sim {
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Clock = clk.Now
	return &sim{t: t, l: NewLimiter(cfg), clk: clk}
}

// round runs one round and returns the limit after it.
func (s *sim) round(lat time.Duration, o Outcome) int {
	s.t.Helper()
	var ts []*Ticket
	for {
		tk, err := s.l.Acquire(context.Background(), Critical)
		if err != nil {
			if !errors.Is(err, ErrOverloaded) {
				s.t.Fatalf("Acquire = %v; want ErrOverloaded", err)
			}
			break
		}
		ts = append(ts, tk)
	}
	if len(ts) != s.l.Limit() {
		s.t.Fatalf("admitted %d; want Limit() = %d", len(ts), s.l.Limit())
	}
	s.clk.Advance(lat)
	for _, tk := range ts {
		tk.Done(o)
	}
	return s.l.Limit()
}

// rounds runs n rounds and returns every limit seen.
func (s *sim) rounds(n int, lat time.Duration, o Outcome) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = s.round(lat, o)
	}
	return out
}

func TestAlgorithms(t *testing.T) {
	t.Parallel()
	const base = 10 * time.Millisecond
	for _, tc := range []struct {
		name string
		algo Algorithm
	}{
		{"gradient", Gradient()},
		{"aimd", AIMD()},
		{"vegas", Vegas()},
	} {
		t.Run(tc.name+"/grows slowly to the ceiling", func(t *testing.T) {
			t.Parallel()
			s := newSim(t, Config{Algorithm: tc.algo, MinLimit: 5, MaxLimit: 60, InitialLimit: 20})
			prev := s.l.Limit()
			for i, got := range s.rounds(200, base, Success) {
				// slowly: never more than +50% in one round
				if got < prev || float64(got) > float64(prev)*1.5+1 {
					t.Fatalf("round %d: limit %d -> %d; want a slow, monotonic rise", i, prev, got)
				}
				prev = got
			}
			if prev != 60 {
				t.Errorf("after 200 rounds at the baseline latency Limit() = %d; want the ceiling 60", prev)
			}
		})
		t.Run(tc.name+"/cuts fast to the floor", func(t *testing.T) {
			t.Parallel()
			s := newSim(t, Config{Algorithm: tc.algo, MinLimit: 10, MaxLimit: 200, InitialLimit: 100})
			s.rounds(3, base, Success) // learn the baseline
			start := s.l.Limit()
			lims := s.rounds(100, 4*base, Success)
			if lims[len(lims)-1] != 10 {
				t.Errorf("after 100 rounds at 4x latency Limit() = %d; want the floor 10 (limits %v)", lims[len(lims)-1], lims)
			}
			for i, got := range lims {
				if got < 10 {
					t.Fatalf("round %d: Limit() = %d; below MinLimit 10", i, got)
				}
			}
			if lims[0] >= start {
				t.Errorf("first round at 4x latency: Limit() %d -> %d; want a cut at once", start, lims[0])
			}
		})
		t.Run(tc.name+"/dropped cuts", func(t *testing.T) {
			t.Parallel()
			s := newSim(t, Config{Algorithm: tc.algo, MaxLimit: 200, InitialLimit: 100})
			s.rounds(1, base, Success)
			before := s.l.Limit()
			got := s.round(base, Dropped)
			if want := int(float64(before)*backoff + 0.5); got > want {
				t.Errorf("a window with Dropped at baseline latency: Limit() %d -> %d; want <= %d", before, got, want)
			}
		})
		t.Run(tc.name+"/ignored teaches nothing", func(t *testing.T) {
			t.Parallel()
			s := newSim(t, Config{Algorithm: tc.algo, MaxLimit: 200, InitialLimit: 50})
			s.rounds(2, base, Success)
			before, bl := s.l.Limit(), s.l.baseline.Load()
			// cancelled work is fast; sampled, it would pull the baseline down
			// and the limit up.
			s.rounds(50, time.Microsecond, Ignored)
			if got := s.l.Limit(); got != before {
				t.Errorf("after 50 rounds of Ignored: Limit() = %d; want %d unchanged", got, before)
			}
			if got := s.l.baseline.Load(); got != bl {
				t.Errorf("after 50 rounds of Ignored: baseline = %v; want %v unchanged", time.Duration(got), time.Duration(bl))
			}
		})
	}
}

func TestGradientSettles(t *testing.T) {
	t.Parallel()
	// A resource with 20 slots: latency grows with queueing once more than
	// 20 units are in flight. The limit must settle above 20 (no goodput is
	// lost) and below 2x (latency stays within the tolerance).
	s := newSim(t, Config{MaxLimit: 500, InitialLimit: 10})
	const slots, service = 20, 10 * time.Millisecond
	var lim int
	for range 300 {
		l := s.l.Limit()
		lat := service
		if l > slots {
			lat = service * time.Duration(l) / slots
		}
		lim = s.round(lat, Success)
	}
	if lim < slots || lim > 2*slots {
		t.Errorf("Gradient on a 20-slot resource settled at Limit() = %d; want within [20, 40]", lim)
	}
}

func TestBaselineExpires(t *testing.T) {
	t.Parallel()
	// The service really gets 3x slower: the limit is cut, and once the old
	// baseline expired (10 to 20s) it grows back.
	s := newSim(t, Config{MinLimit: 2, MaxLimit: 100, InitialLimit: 40})
	s.rounds(5, 10*time.Millisecond, Success)
	low := 40
	for range 100 { // 100 rounds of 30ms+: > 3s, baseline still the old one
		low = min(low, s.round(30*time.Millisecond, Success))
	}
	if low > 10 {
		t.Fatalf("3x slower service: lowest Limit() = %d; want a deep cut", low)
	}
	s.clk.Advance(25 * time.Second)
	lims := s.rounds(300, 30*time.Millisecond, Success)
	if got := lims[len(lims)-1]; got < 50 {
		t.Errorf("after the old baseline expired: Limit() = %d; want it grown back (>= 50)", got)
	}
	// the smoothed means converge on 30ms from below
	if got := time.Duration(s.l.baseline.Load()); got < 25*time.Millisecond || got > 30*time.Millisecond {
		t.Errorf("baseline = %v; want within [25ms, 30ms]", got)
	}
}

func TestFixedNeverMoves(t *testing.T) {
	t.Parallel()
	s := newSim(t, Config{Algorithm: Fixed(7), MinLimit: 1, MaxLimit: 3})
	for _, lat := range []time.Duration{time.Millisecond, time.Second} {
		for _, got := range s.rounds(20, lat, Dropped) {
			if got != 7 {
				t.Fatalf("Fixed(7) Limit() = %d; want 7", got)
			}
		}
	}
}

func TestDeadlineRefusal(t *testing.T) {
	t.Parallel()
	s := newSim(t, Config{Algorithm: Fixed(20)})
	short, cancel := withDeadline(s.clk.Now().Add(5 * time.Millisecond))
	defer cancel()
	// before any sample the service time is unknown: admitted
	tk, err := s.l.Acquire(short, Default)
	if err != nil {
		t.Fatalf("Acquire(5ms deadline) before any sample = %v; want admitted", err)
	}
	tk.Done(Ignored)
	s.rounds(minWindow/20, 10*time.Millisecond, Success) // one window: baseline 10ms
	for _, tc := range []struct {
		name   string
		left   time.Duration
		refuse bool
	}{
		{"shorter than the service time", 5 * time.Millisecond, true},
		{"already passed", -time.Millisecond, true},
		{"long enough", 50 * time.Millisecond, false},
	} {
		ctx, cancel := withDeadline(s.clk.Now().Add(tc.left))
		tk, err := s.l.Acquire(ctx, Critical)
		cancel()
		if !tc.refuse {
			if err != nil {
				t.Errorf("%s: Acquire = %v; want admitted", tc.name, err)
			}
			tk.Done(Ignored)
			continue
		}
		var oe *OverloadError
		if !errors.As(err, &oe) || oe.Reason != ReasonDeadline || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrOverloaded) {
			t.Errorf("%s: Acquire = %v; want an OverloadError with ReasonDeadline matching DeadlineExceeded", tc.name, err)
		}
	}
}

// manualTimer replaces the queue-wait timer.
type manualTimer struct {
	d  chan time.Duration
	ch chan time.Time
}

func hookTimer(l *Limiter) *manualTimer {
	m := &manualTimer{d: make(chan time.Duration, 16), ch: make(chan time.Time, 1)}
	l.newTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
		m.d <- d
		return m.ch, func() bool { return true }
	}
	return m
}

func TestQueueWaitBounded(t *testing.T) {
	t.Parallel()
	s := newSim(t, Config{Algorithm: Fixed(1), MaxQueue: 4, MaxWait: time.Second})
	s.l.maxQueue = 0                                  // rounds fill the limit
	s.rounds(minWindow, 10*time.Millisecond, Success) // baseline 10ms
	s.l.maxQueue = 4
	m := hookTimer(s.l)
	held, _ := s.l.Acquire(context.Background(), Critical)
	defer held.Done(Ignored)

	for _, tc := range []struct {
		name     string
		deadline time.Duration // 0: none
		want     time.Duration
	}{
		{"no deadline waits MaxWait", 0, time.Second},
		{"a deadline shortens the wait by the service time", 300 * time.Millisecond, 290 * time.Millisecond},
	} {
		ctx := context.Background()
		if tc.deadline > 0 {
			var cancel context.CancelFunc
			ctx, cancel = withDeadline(s.clk.Now().Add(tc.deadline))
			defer cancel()
		}
		errc := make(chan error, 1)
		go func() {
			_, err := s.l.Acquire(ctx, Default)
			errc <- err
		}()
		var got time.Duration
		select {
		case got = <-m.d:
		case err := <-errc:
			t.Fatalf("%s: Acquire = %v without waiting", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: queue wait = %v; want %v", tc.name, got, tc.want)
		}
		m.ch <- time.Time{}
		var oe *OverloadError
		if err := <-errc; !errors.As(err, &oe) || oe.Reason != ReasonQueueTimeout {
			t.Errorf("%s: Acquire after the wait = %v; want ReasonQueueTimeout", tc.name, err)
		}
	}
	if q := s.l.Status().Queued; q != 0 {
		t.Errorf("Queued = %d after timeouts; want 0", q)
	}
}

func TestQueueOrder(t *testing.T) {
	t.Parallel()
	s := newSim(t, Config{Algorithm: Fixed(1), MaxQueue: 3})
	hookTimer(s.l)
	joined := make(chan struct{})
	s.l.onWait = func() { joined <- struct{}{} }
	held, err := s.l.Acquire(context.Background(), Critical)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		name string
		err  error
	}
	got := make(chan result, 8)
	release := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	enqueue := func(name string, p Priority) {
		wg.Go(func() {
			tk, err := s.l.Acquire(context.Background(), p)
			got <- result{name, err}
			if err == nil {
				<-release // hold the unit until the test lets the next one in
				tk.Done(Success)
			}
		})
		<-joined
	}
	enqueue("sheddable-1", Sheddable)
	enqueue("default-1", Default)
	enqueue("sheddable-2", Sheddable)
	// the queue is full (3): a Critical arrival pushes out the newest sheddable
	enqueue("critical-1", Critical)
	r := <-got
	var oe *OverloadError
	if r.name != "sheddable-2" || !errors.As(r.err, &oe) || oe.Reason != ReasonQueueFull {
		t.Fatalf("first result = %s %v; want sheddable-2 evicted with ReasonQueueFull", r.name, r.err)
	}
	// full again, and nothing lower than Sheddable to push out
	if _, err := s.l.Acquire(context.Background(), Sheddable); !errors.As(err, &oe) || oe.Reason != ReasonQueueFull {
		t.Fatalf("Acquire(Sheddable) with a full queue = %v; want ReasonQueueFull", err)
	}
	held.Done(Success)
	for _, want := range []string{"critical-1", "default-1", "sheddable-1"} {
		r := <-got
		if r.name != want || r.err != nil {
			t.Errorf("admitted %s (%v); want %s next", r.name, r.err, want)
		}
		release <- struct{}{}
	}
	wg.Wait()
	if st := s.l.Status(); st.InFlight != 0 || st.Queued != 0 {
		t.Errorf("after all: InFlight %d, Queued %d; want 0, 0", st.InFlight, st.Queued)
	}
}

func TestQueueLeaveOnCancel(t *testing.T) {
	t.Parallel()
	s := newSim(t, Config{Algorithm: Fixed(1), MaxQueue: 1})
	hookTimer(s.l)
	joined := make(chan struct{})
	s.l.onWait = func() { joined <- struct{}{} }
	held, _ := s.l.Acquire(context.Background(), Default)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.l.Acquire(ctx, Default)
		errc <- err
	}()
	<-joined
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("Acquire after cancel = %v; want context.Canceled unchanged", err)
	}
	// the place is free again: the next caller queues instead of being refused
	go func() {
		tk, err := s.l.Acquire(context.Background(), Default)
		if err == nil {
			tk.Done(Success)
		}
		errc <- err
	}()
	<-joined
	held.Done(Success)
	if err := <-errc; err != nil {
		t.Errorf("Acquire after a waiter left = %v; want admitted from the queue", err)
	}
	if st := s.l.Status(); st.Queued != 0 || st.InFlight != 0 || len(st.Rejected) != 0 {
		t.Errorf("Status() = %+v; want nothing queued, in flight or rejected", st)
	}
}

// deadlineCtx has a deadline on the fake clock that never fires in real
// time: the limiter reads it through Deadline only.
type deadlineCtx struct {
	context.Context
	dl time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.dl, true }

func withDeadline(dl time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	return deadlineCtx{ctx, dl}, cancel
}
