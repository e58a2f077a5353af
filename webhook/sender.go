package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/retryafter"
)

// defaultSchedule is the wait before each retry without WithSchedule, the
// schedule Standard Webhooks suggests: 8 attempts over about 27 hours.
var defaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxRetryAfter caps how long a receiver's Retry-After can delay a retry.
const MaxRetryAfter = 24 * time.Hour

// ErrGone is matched by the error of a delivery the receiver answered 410
// Gone: the endpoint asks to be disabled. The Sender does not retry it; the
// caller should stop sending to the endpoint.
var ErrGone = errors.New("webhook: endpoint gone")

// DeliveryError reports a failed delivery: the last attempt's status (0 if
// there was no response) or error. errors.Is matches ErrGone for a 410, and
// Unwrap returns the attempt's error (ErrForbiddenDestination,
// call.ErrCircuitOpen, a network error...).
type DeliveryError struct {
	// Endpoint is the URL without query or credentials.
	Endpoint string
	// Status is the last response's status, 0 when there was none.
	Status int
	// RetryAfter is the last response's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// Attempts is the number of attempts made, the first included.
	Attempts int
	// Err is the last attempt's error when there was no response.
	Err error
}

// Error returns "webhook: delivery to <endpoint> failed after N attempts:
// status 503" (or the cause).
func (e *DeliveryError) Error() string {
	cause := "status " + strconv.Itoa(e.Status)
	if e.Err != nil {
		cause = e.Err.Error()
	}
	return fmt.Sprintf("webhook: delivery to %s failed after %d attempts: %s", e.Endpoint, e.Attempts, cause)
}

// Is reports whether target is ErrGone and the receiver answered 410.
func (e *DeliveryError) Is(target error) bool {
	return target == ErrGone && e.Status == http.StatusGone
}

// Unwrap returns Err.
func (e *DeliveryError) Unwrap() error { return e.Err }

// IsPermanent reports whether retrying err is pointless: the endpoint is gone
// (410), the destination is forbidden, or the message cannot be signed.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrGone) || errors.Is(err, ErrForbiddenDestination) || errors.Is(err, errBadMessage)
}

var errBadMessage = errors.New("webhook: message cannot be sent")

// Endpoint is where a message goes and the secrets it is signed with: one
// usually, two during a rotation (the receiver accepts either signature).
type Endpoint struct {
	URL     string
	Secrets []string
}

// Message is one webhook. ID is the webhook-id, the same for every attempt
// (receivers deduplicate on it); Body is sent as is, with ContentType
// (empty means application/json).
type Message struct {
	ID          string
	Body        []byte
	ContentType string
}

// SenderOption configures [NewSender]: [WithSchedule] or [WithClock].
type SenderOption interface{ applySender(*Sender) }

type senderOptionFunc func(*Sender)

func (f senderOptionFunc) applySender(s *Sender) { f(s) }

func (o ClockOption) applySender(s *Sender) {
	if o.now != nil {
		s.now = o.now
	}
}

// WithSchedule sets the wait before each retry of [Sender.Send]: the nth
// value is the wait after the nth failed attempt, so len(delays)+1
// attempts are made. Each wait gets up to 10% random jitter, and a longer
// Retry-After from the receiver (429, 503) wins, up to MaxRetryAfter.
// Without this option the schedule is 5s, 5m, 30m, 2h, 5h, 10h, 10h. An
// empty schedule means one attempt. Panics if a delay is negative.
func WithSchedule(delays ...time.Duration) SenderOption {
	for i, d := range delays {
		if d < 0 {
			panic(fmt.Sprintf("webhook.WithSchedule: delays[%d] is negative (%v)", i, d))
		}
	}
	delays = append([]time.Duration{}, delays...)
	return senderOptionFunc(func(s *Sender) { s.schedule = delays })
}

// Sender delivers signed webhooks through a call.Client, which supplies
// the per-attempt timeout and a circuit breaker per endpoint host. Build one
// with [NewSender]; the zero Sender is not usable. It is safe for concurrent
// use.
type Sender struct {
	hc       *http.Client
	schedule []time.Duration
	now      func() time.Time
	// wait blocks for d or until ctx ends; tests replace it.
	wait func(ctx context.Context, d time.Duration) error
}

// NewSender returns a Sender that sends through c. Build c with
// call.WithTransport([NewTransport]()) so that receivers on internal
// addresses are refused at dial time (the SSRF guard lives in the
// transport; a Sender cannot add it to a client built without it), and
// with call.WithBreaker for a breaker per endpoint host. A nil c means
// exactly that: call.New(call.WithTransport(NewTransport()),
// call.WithBreaker(call.BreakerPolicy{}), call.WithTimeout(15*time.Second)).
// Redirects are not followed: a 3xx is a failed attempt. Retries are the
// Sender's (see [Sender.Send]); c does not retry POSTs unless it was built
// with RetryPolicy.RetryNonIdempotent. nil options are ignored.
func NewSender(c *call.Client, opts ...SenderOption) *Sender {
	if c == nil {
		c = call.New(call.WithTransport(NewTransport()), call.WithBreaker(call.BreakerPolicy{}), call.WithTimeout(15*time.Second))
	}
	hc := c.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Sender{hc: hc, schedule: defaultSchedule, now: time.Now, wait: sleep}
	for _, o := range opts {
		if o != nil {
			o.applySender(s)
		}
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Send delivers msg to ep, retrying failed attempts on the Sender's
// schedule, each attempt signed afresh (new timestamp, same webhook-id).
// Any 2xx is success; any other status (3xx and 4xx included, as the
// receiver may be misconfigured for a while) or a network error is retried,
// except that it stops early on a permanent failure (410 Gone, a
// forbidden destination: see [IsPermanent]) and returns a *DeliveryError for
// it and for the last failure when the schedule is exhausted.
//
// Send blocks for as long as the schedule (about 27 hours by default), in
// memory: ctx bounds it, and when ctx ends Send returns context.Cause(ctx)
// at once. For deliveries that must survive a restart, keep them in an
// [Outbox] and use [Sender.Deliver]. Send starts no goroutines.
func (s *Sender) Send(ctx context.Context, ep Endpoint, msg Message) error {
	for attempt := 1; ; attempt++ {
		err := s.Attempt(ctx, ep, msg)
		if err == nil {
			return nil
		}
		var de *DeliveryError
		if errors.As(err, &de) {
			de.Attempts = attempt
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		d, retry := s.Next(attempt, err)
		if !retry {
			return err
		}
		if err := s.wait(ctx, d); err != nil {
			return err
		}
	}
}

// Next returns how long to wait after the attempt-th failed attempt (1 for
// the first) that returned err, and whether to retry at all: not after a
// permanent error, nor once the schedule is exhausted. The wait is the
// schedule's, with up to 10% jitter, or the receiver's Retry-After if longer
// (at most MaxRetryAfter).
func (s *Sender) Next(attempt int, err error) (time.Duration, bool) {
	if IsPermanent(err) || attempt < 1 || attempt > len(s.schedule) {
		return 0, false
	}
	d := s.schedule[attempt-1]
	if d > 0 {
		d += rand.N(d/10 + 1)
	}
	var de *DeliveryError
	if errors.As(err, &de) && de.RetryAfter > d {
		d = min(de.RetryAfter, MaxRetryAfter)
	}
	return d, true
}

// Attempt makes one signed attempt to deliver msg to ep and returns nil on
// a 2xx, else a *DeliveryError (Attempts 1). The response body is read (at
// most 64 KiB) and closed. ctx bounds the attempt together with the
// client's per-attempt timeout.
func (s *Sender) Attempt(ctx context.Context, ep Endpoint, msg Message) error {
	endpoint := redact(ep.URL)
	fail := func(err error) error { return &DeliveryError{Endpoint: endpoint, Attempts: 1, Err: err} }
	if msg.ID == "" || len(ep.Secrets) == 0 {
		return fail(fmt.Errorf("%w: empty message id or no secret", errBadMessage))
	}
	ts := s.now()
	sigs := make([]string, 0, len(ep.Secrets))
	for _, secret := range ep.Secrets {
		sig, err := Sign(secret, msg.ID, ts, msg.Body)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", errBadMessage, err))
		}
		sigs = append(sigs, sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(msg.Body))
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errBadMessage, err))
	}
	ct := msg.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set(HeaderID, msg.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, strings.Join(sigs, " "))
	resp, err := s.hc.Do(req)
	if err != nil {
		return fail(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	after, _ := retryafter.Parse(resp.Header.Get("Retry-After"), s.now())
	return &DeliveryError{Endpoint: endpoint, Status: resp.StatusCode, RetryAfter: after, Attempts: 1}
}

// redact returns u without credentials, query or fragment, for errors.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.User, p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = nil, "", false, "", ""
	return p.String()
}
