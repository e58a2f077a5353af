package flags

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// DefaultPollInterval is how often [Provider.Run] checks a flag file for
// changes unless [PollInterval] says otherwise.
const DefaultPollInterval = 5 * time.Second

// Option configures a [Provider]; pass options to [NewProvider]. A nil
// Option is ignored.
type Option func(*options)

type options struct {
	log      *slog.Logger
	mp       metric.MeterProvider
	now      func() time.Time
	interval time.Duration
}

// WithLogger sets the logger for reloads (Info) and rejected flag files
// (Error). Without this option, or with a nil l, the Provider uses
// [slog.Default] as of [NewProvider].
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithMeterProvider sets the meter provider for the chassis.flags.reloads
// and chassis.flags.evaluations counters. Without this option, or with a nil
// mp, the Provider uses [otel.GetMeterProvider] as of [NewProvider].
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.mp = mp }
}

// WithClock sets the clock that stamps [Status].LoadedAt and
// [Status].LastErrorAt. Without this option, or with a nil now, the Provider
// uses [time.Now]. Polling uses a real ticker whatever the clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// PollInterval sets how often [Provider.Run] checks a file source's
// modification time and size; the default is [DefaultPollInterval] (5s).
// Panics if d is not positive (to stop polling, do not call Run).
func PollInterval(d time.Duration) Option {
	if d <= 0 {
		panic("flags.PollInterval: d must be positive, got " + d.String() + "; omit the option for the 5s default")
	}
	return func(o *options) { o.interval = d }
}
