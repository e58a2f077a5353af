package call

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
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
// itself. A panic in Token is not recovered: like a panic in any goroutine,
// it ends the program.
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
}

func newTokenCache(src TokenSource, now func() time.Time) *tokenCache {
	return &tokenCache{src: src, now: now}
}

// token returns a valid token value, fetching one if needed.
func (c *tokenCache) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, refresh := c.tok, c.refresh
	c.mu.Unlock()
	if tok.Value != "" {
		now := c.now()
		if tok.Expiry.IsZero() || now.Before(tok.Expiry) {
			if !refresh.IsZero() && !now.Before(refresh) {
				c.sf.DoChan("", func() (any, error) { return c.fetch(ctx) }) // refresh in the background
			}
			return tok.Value, nil
		}
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

// fetch calls the source on a context detached from ctx's cancellation and
// stores the result.
func (c *tokenCache) fetch(ctx context.Context) (Token, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TokenFetchTimeout)
	defer cancel()
	fetched := c.now()
	tok, err := c.src.Token(fctx)
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
