package call

import (
	"cmp"
	"slices"
	"time"
)

// MaxStatusHosts is the most hosts [Client.Status] reports.
const MaxStatusHosts = 20

// Status is a snapshot of a Client's breakers, for status pages such as
// the admin listener's. It is bounded: at most MaxStatusHosts hosts: open
// breakers first, then half-open ones, then those with the most failures
// in memory, then by name.
type Status struct {
	// Breakers is the number of per-host breakers the Client keeps.
	Breakers int `json:"breakers"`
	// Hosts are the reported breakers.
	Hosts []HostStatus `json:"hosts"`
}

// HostStatus is one host's breaker in a [Status].
type HostStatus struct {
	Host string `json:"host"`
	// State is "closed", "open" or "half_open".
	State string `json:"state"`
	// ConsecutiveFailures is the current run of failures while closed.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Requests and Failures are the outcomes in the failure-ratio window,
	// and FailureRatio their ratio; all zero unless
	// BreakerPolicy.FailureRatio is set.
	Requests     int64   `json:"requests"`
	Failures     int64   `json:"failures"`
	FailureRatio float64 `json:"failure_ratio"`
	// OpenUntil is when an open breaker lets probes through; omitted
	// unless open.
	OpenUntil *time.Time `json:"open_until,omitempty"`
}

// Status returns a snapshot of the Client's breakers. It takes the
// breakers' locks briefly, one at a time, so it may be called from a status
// page while requests flow. A Client without breakers reports none.
func (c *Client) Status() Status {
	set := c.rt.breakers
	if set == nil {
		return Status{Hosts: []HostStatus{}}
	}
	set.mu.RLock()
	bs := make([]*hostBreaker, 0, len(set.m))
	for _, b := range set.m {
		bs = append(bs, b)
	}
	set.mu.RUnlock()

	hosts := make([]HostStatus, 0, len(bs))
	for _, b := range bs {
		cn := b.Counts()
		h := HostStatus{
			Host:                b.host,
			State:               cn.State.String(),
			ConsecutiveFailures: cn.ConsecutiveFailures,
			Requests:            cn.Requests,
			Failures:            cn.Failures,
		}
		if cn.Requests > 0 {
			h.FailureRatio = float64(cn.Failures) / float64(cn.Requests)
		}
		if cn.State == StateOpen {
			t := cn.OpenUntil
			h.OpenUntil = &t
		}
		hosts = append(hosts, h)
	}
	rank := map[string]int{"open": 0, "half_open": 1}
	slices.SortFunc(hosts, func(a, b HostStatus) int {
		ra, ok := rank[a.State]
		if !ok {
			ra = 2
		}
		rb, ok := rank[b.State]
		if !ok {
			rb = 2
		}
		if c := cmp.Compare(ra, rb); c != 0 {
			return c
		}
		fa, fb := a.Failures+int64(a.ConsecutiveFailures), b.Failures+int64(b.ConsecutiveFailures)
		if c := cmp.Compare(fb, fa); c != 0 {
			return c
		}
		return cmp.Compare(a.Host, b.Host)
	})
	if len(hosts) > MaxStatusHosts {
		hosts = hosts[:MaxStatusHosts]
	}
	return Status{Breakers: len(bs), Hosts: hosts}
}
