package call

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/chassis-go/chassis/internal/panicval"
)

// Token is a bearer token and its expiry.
type Token struct {
	// Value is sent as "Authorization: Bearer <Value>". It must not be
	// empty.
	Value string
	// Expiry is when the token stops being valid. The zero Expiry means
	// the token never expires.
	Expiry time.Time
}

// TokenSource supplies bearer tokens to a Client ([WithTokenSource]). It is
// shaped like golang.org/x/oauth2's TokenSource, with a context, so that
// adapting one takes a few lines.
//
// The Client caches the token and calls Token only when it has no token,
// when the token has expired, or ahead of expiry: once less than the
// smaller of 30s and a tenth of the token's lifetime (as seen from when it
// was fetched) remains. Ahead of expiry, requests keep using the current
// token while one refresh runs in the background; a failed refresh is
// retried by the next request. Concurrent requests share one call to Token
// (singleflight), and no lock is held while it runs.
//
// Token runs on a context detached from any single request: it carries the
// values (trace, logger) of the request that started the fetch but not its
// cancellation, and has its own timeout of [TokenFetchTimeout]. A request
// whose context ends while it waits for a token returns that context's
// error at once; the fetch goes on for the others, so the goroutine running
// Token may outlive the request that started it (never the timeout, if
// Token honours its context). Token must be safe for concurrent use with
// itself. A panic in Token is recovered on the goroutine that runs it and
// becomes the error of every request waiting for that fetch: a *[PanicError]
// whose Stack is the panicking goroutine's; it is not retried.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// TokenFunc adapts a function to [TokenSource].
type TokenFunc func(ctx context.Context) (Token, error)

// Token returns f(ctx).
func (f TokenFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }

// TokenFetchTimeout bounds each call to [TokenSource.Token] made by a Client.
const TokenFetchTimeout = 10 * time.Second

// maxRefreshAhead is the most a token is refreshed ahead of expiry; tokens
// with a lifetime under 5 minutes are refreshed a tenth of it ahead.
const maxRefreshAhead = 30 * time.Second

var errEmptyToken = errors.New("call: token source returned an empty token")

// tokenCache is the Client's cache in front of its TokenSource.
type tokenCache struct {
	src TokenSource
	now func() time.Time
	sf  singleflight.Group

	mu      sync.Mutex
	tok     Token
	refresh time.Time // when to refresh ahead of expiry; zero: never

	// beforeFlight, if non-nil, is called between the cache read that found
	// no usable token and joining the flight; tests park a caller there to
	// reproduce the race the re-check in fetch closes.
	beforeFlight func()
}

func newTokenCache(src TokenSource, now func() time.Time) *tokenCache {
	return &tokenCache{src: src, now: now}
}

// token returns a valid token value, fetching one if needed.
func (c *tokenCache) token(ctx context.Context) (string, error) {
	tok, fresh := c.cached()
	if fresh {
		return tok.Value, nil
	}
	if c.beforeFlight != nil {
		c.beforeFlight()
	}
	if tok.Value != "" {
		// Valid but due for refresh: refresh in the background.
		c.sf.DoChan("", func() (any, error) { return c.fetch(ctx) })
		return tok.Value, nil
	}
	ch := c.sf.DoChan("", func() (any, error) { return c.fetch(ctx) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(Token).Value, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// cached returns the cached token if it is still valid (its Value is empty
// otherwise), and reports whether it is fresh: valid and not yet due for
// refresh.
func (c *tokenCache) cached() (tok Token, fresh bool) {
	c.mu.Lock()
	tok, refresh := c.tok, c.refresh
	c.mu.Unlock()
	if tok.Value == "" {
		return Token{}, false
	}
	now := c.now()
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return Token{}, false
	}
	return tok, refresh.IsZero() || now.Before(refresh)
}

// fetch calls the source on a context detached from ctx's cancellation and
// stores the result. It runs inside the flight, so it first looks at the
// cache again: a caller that found the cache empty may join (start) a
// flight only after an earlier flight stored a token and ended, and must
// then share that token rather than fetch another.
func (c *tokenCache) fetch(ctx context.Context) (Token, error) {
	if tok, fresh := c.cached(); fresh {
		return tok, nil
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TokenFetchTimeout)
	defer cancel()
	fetched := c.now()
	tok, err := c.callSource(fctx)
	if err != nil {
		return Token{}, err
	}
	if tok.Value == "" {
		return Token{}, errEmptyToken
	}
	var refresh time.Time
	if !tok.Expiry.IsZero() {
		ahead := min(maxRefreshAhead, tok.Expiry.Sub(fetched)/10)
		refresh = tok.Expiry.Add(-max(ahead, 0))
	}
	c.mu.Lock()
	c.tok, c.refresh = tok, refresh
	c.mu.Unlock()
	return tok, nil
}

// callSource calls the source, turning a panic into a *PanicError: fetch
// runs on singleflight's goroutine, where a panic would end the program.
func (c *tokenCache) callSource(ctx context.Context) (tok Token, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return c.src.Token(ctx)
}

// PanicError is the error of requests whose [TokenSource] panicked: the
// panic is recovered on the goroutine that ran Token, which singleflight
// starts, where it would otherwise end the program. Value is the value
// passed to panic and Stack the panicking goroutine's stack, as
// [runtime/debug.Stack] formats it. Client.Do returns it wrapped; find it
// with errors.As.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "call: token source panic: <Value>", the value's text
// bounded to about 1 KiB, without the stack.
func (e *PanicError) Error() string {
	return "call: token source panic: " + panicval.String(e.Value)
}

// Unwrap returns Value if it is an error (panic(err)), so that errors.Is
// and errors.As see it, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
