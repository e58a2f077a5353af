package overload_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/overload"
)

func TestNewLimiterPanics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  overload.Config
		want string
	}{
		{"negative MinLimit", overload.Config{MinLimit: -1}, "cfg.MinLimit is negative"},
		{"negative MaxLimit", overload.Config{MaxLimit: -1}, "cfg.MaxLimit is negative"},
		{"Max below Min", overload.Config{MinLimit: 10, MaxLimit: 5}, "cfg.MaxLimit 5 is less than cfg.MinLimit 10"},
		{"negative InitialLimit", overload.Config{InitialLimit: -1}, "cfg.InitialLimit is negative"},
		{"Initial below Min", overload.Config{MinLimit: 10, InitialLimit: 5}, "cfg.InitialLimit 5 is outside"},
		{"Initial above Max", overload.Config{MaxLimit: 10, InitialLimit: 50}, "cfg.InitialLimit 50 is outside"},
		{"negative MaxQueue", overload.Config{MaxQueue: -1}, "cfg.MaxQueue is negative"},
		{"negative MaxWait", overload.Config{MaxWait: -time.Second}, "cfg.MaxWait is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "overload.NewLimiter: "+tc.want) {
					t.Errorf("NewLimiter(%+v) panicked with %q; want prefix %q", tc.cfg, msg, "overload.NewLimiter: "+tc.want)
				}
			}()
			overload.NewLimiter(tc.cfg)
		})
	}
	t.Run("Fixed(0)", func(t *testing.T) {
		t.Parallel()
		defer func() {
			if msg, _ := recover().(string); !strings.HasPrefix(msg, "overload.Fixed: n must be at least 1, got 0") {
				t.Errorf("Fixed(0) panicked with %q", msg)
			}
		}()
		overload.Fixed(0)
	})
}

// TestNilOptions shows CONTRIBUTING.md's rule 3 for a config struct: a nil
// Clock and a nil MeterProvider mean the defaults.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Clock: nil, MeterProvider: nil})
	defer l.Close()
	tk, err := l.Acquire(context.Background(), overload.Default)
	if err != nil {
		t.Fatalf("Acquire = %v; want admitted", err)
	}
	tk.Done(overload.Success)
	if l.Limit() != 20 || l.InFlight() != 0 {
		t.Errorf("Limit() = %d, InFlight() = %d; want 20, 0", l.Limit(), l.InFlight())
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  overload.Config
		want int
	}{
		{overload.Config{}, 20},
		{overload.Config{MaxLimit: 8}, 8},
		{overload.Config{MinLimit: 50}, 50},
		{overload.Config{Algorithm: overload.Fixed(3), MaxLimit: 1}, 3},
	} {
		if got := overload.NewLimiter(tc.cfg).Limit(); got != tc.want {
			t.Errorf("NewLimiter(%+v).Limit() = %d; want %d", tc.cfg, got, tc.want)
		}
	}
}

func TestPriorityHeadroom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit                      int
		sheddable, deflt, critical int
	}{
		{20, 15, 18, 20},
		{10, 7, 9, 10},
		{1, 1, 1, 1},
	} {
		for _, p := range []struct {
			p    overload.Priority
			want int
		}{{overload.Sheddable, tc.sheddable}, {overload.Default, tc.deflt}, {overload.Critical, tc.critical}, {overload.Priority(9), tc.deflt}} {
			l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(tc.limit)})
			n := 0
			var err error
			for err == nil {
				_, err = l.Acquire(context.Background(), p.p)
				if err == nil {
					n++
				}
			}
			var oe *overload.OverloadError
			if !errors.As(err, &oe) || oe.Reason != overload.ReasonLimit {
				t.Errorf("limit %d, %v: refusal = %v; want ReasonLimit", tc.limit, p.p, err)
			}
			if n != p.want {
				t.Errorf("limit %d: %v work admitted up to %d in flight; want %d", tc.limit, p.p, n, p.want)
			}
		}
	}
}

func TestDoneTwicePanics(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{})
	tk, _ := l.Acquire(context.Background(), overload.Default)
	tk.Done(overload.Success)
	defer func() {
		if msg, _ := recover().(string); !strings.Contains(msg, "Ticket.Done called twice") {
			t.Errorf("second Done panicked with %q; want Ticket.Done called twice", msg)
		}
	}()
	tk.Done(overload.Success)
}

func TestNilTicketDone(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(1)})
	_, _ = l.Acquire(context.Background(), overload.Default)
	tk, err := l.Acquire(context.Background(), overload.Default)
	tk.Done(overload.Success) // nil: no-op
	if err == nil || l.InFlight() != 1 {
		t.Errorf("Acquire at the limit = %v, InFlight() = %d; want a refusal and 1", err, l.InFlight())
	}
}

func TestAcquireCancelledContext(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx, overload.Default); err != context.Canceled {
		t.Errorf("Acquire(cancelled ctx) = %v; want context.Canceled", err)
	}
	if st := l.Status(); len(st.Rejected) != 0 {
		t.Errorf("a cancelled caller counted as a rejection: %v", st.Rejected)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err      overload.OverloadError
		text     string
		deadline bool
	}{
		{overload.OverloadError{Reason: overload.ReasonLimit, Priority: overload.Sheddable}, "overload: sheddable work refused: limit", false},
		{overload.OverloadError{Reason: overload.ReasonQueueFull, Priority: overload.Default}, "overload: default work refused: queue_full", false},
		{overload.OverloadError{Reason: overload.ReasonDeadline, Priority: overload.Critical}, "overload: critical work refused: deadline", true},
		{overload.OverloadError{Reason: overload.ReasonQueueTimeout}, "overload: default work refused: queue_timeout", false},
	} {
		err := &tc.err
		if err.Error() != tc.text || !errors.Is(err, overload.ErrOverloaded) || errors.Is(err, context.DeadlineExceeded) != tc.deadline {
			t.Errorf("%v: Error() = %q, Is(ErrOverloaded) = %v, Is(DeadlineExceeded) = %v; want %q, true, %v",
				tc.err, err.Error(), errors.Is(err, overload.ErrOverloaded), errors.Is(err, context.DeadlineExceeded), tc.text, tc.deadline)
		}
	}
	for _, tc := range []struct{ got, want string }{
		{overload.Reason(9).String(), "unknown"},
		{overload.Priority(9).String(), "unknown"},
		{overload.Ignored.String(), "ignored"},
		{overload.Success.String(), "success"},
		{overload.Dropped.String(), "dropped"},
		{overload.Outcome(9).String(), "unknown"},
		{overload.Gradient().String(), "gradient"},
		{overload.Algorithm{}.String(), "gradient"},
		{overload.AIMD().String(), "aimd"},
		{overload.Vegas().String(), "vegas"},
		{overload.Fixed(2).String(), "fixed"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q; want %q", tc.got, tc.want)
		}
	}
}

func TestParsePriority(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want overload.Priority
		ok   bool
	}{
		{"critical", overload.Critical, true},
		{"default", overload.Default, true},
		{"sheddable", overload.Sheddable, true},
		{"", overload.Default, false},
		{"CRITICAL", overload.Default, false},
	} {
		if got, ok := overload.ParsePriority(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(1), Name: "api"})
	tk, _ := l.Acquire(context.Background(), overload.Critical)
	defer tk.Done(overload.Ignored)
	_, _ = l.Acquire(context.Background(), overload.Sheddable)
	_, _ = l.Acquire(context.Background(), overload.Sheddable)
	b, err := json.Marshal(l.Status())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"api","algorithm":"fixed","limit":1,"in_flight":1,"queued":0,"baseline_ns":0,"rejected":{"sheddable":{"limit":2}}}`
	if string(b) != want {
		t.Errorf("Status() JSON = %s; want %s", b, want)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(2), MeterProvider: mp, Name: "api"})
	defer l.Close()
	tk, _ := l.Acquire(context.Background(), overload.Default)
	defer tk.Done(overload.Success)
	_, _ = l.Acquire(context.Background(), overload.Sheddable)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/chassis-go/chassis/overload" {
			continue
		}
		for _, m := range sm.Metrics {
			var pts []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				pts = d.DataPoints
			case metricdata.Sum[int64]:
				pts = d.DataPoints
			}
			for _, p := range pts {
				key := m.Name
				if r, ok := p.Attributes.Value("chassis.overload.reason"); ok {
					pr, _ := p.Attributes.Value("chassis.priority")
					key += "/" + r.AsString() + "/" + pr.AsString()
				}
				if n, _ := p.Attributes.Value("chassis.overload.name"); n.AsString() != "api" {
					t.Errorf("%s: chassis.overload.name = %q; want api", key, n.AsString())
				}
				got[key] = p.Value
			}
		}
	}
	for k, want := range map[string]int64{
		"chassis.overload.limit":                            2,
		"chassis.overload.inflight":                         1,
		"chassis.overload.queued":                           0,
		"chassis.overload.rejections/limit/sheddable":       1,
		"chassis.overload.rejections/deadline/critical":     0,
		"chassis.overload.rejections/queue_timeout/default": 0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("metric %s = %d (present %v); want %d", k, v, ok, want)
		}
	}
}

// TestConcurrent hammers a queued limiter from many goroutines: in-flight
// work never exceeds the limit, and everything is released at the end.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(4), MaxQueue: 8, MaxWait: time.Minute})
	var cur, peak atomic.Int64
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	prios := []overload.Priority{overload.Sheddable, overload.Default, overload.Critical}
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				tk, err := l.Acquire(context.Background(), prios[(g+i)%3])
				if err != nil {
					if !errors.Is(err, overload.ErrOverloaded) {
						t.Errorf("Acquire = %v; want nil or ErrOverloaded", err)
					}
					refused.Add(1)
					continue
				}
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				cur.Add(-1)
				tk.Done(overload.Success)
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 4 {
		t.Errorf("peak in flight = %d; want <= 4", p)
	}
	if st := l.Status(); st.InFlight != 0 || st.Queued != 0 || admitted.Load()+refused.Load() != 16*200 {
		t.Errorf("after the run: %+v, admitted %d + refused %d; want nothing in flight or queued, 3200 decisions", st, admitted.Load(), refused.Load())
	}
}
