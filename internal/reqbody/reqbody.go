// Package reqbody reads a request body under a cap and hands the next
// handler an intact, replayable copy: what every middleware that must see
// the raw body before the handler does (idempotency fingerprints, webhook
// signatures) needs, written once.
package reqbody

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/chassis-go/chassis/problem"
)

// Read reads r's body, at most max bytes. A nil or empty body reads as nil.
// A body longer than max returns tooLarge; a *http.MaxBytesError (an outer
// guard.MaxBody cut the body) is returned as is, so that problem.Write
// answers 413; any other read error is returned wrapped in readFailed.
func Read(r *http.Request, max int64, tooLarge, readFailed *problem.Error) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, err
	case err != nil:
		return nil, readFailed.Wrap(err)
	case int64(len(body)) > max:
		return nil, tooLarge
	}
	return body, nil
}

// Replace returns a shallow copy of r whose body is body again, with
// GetBody set so that it can be read any number of times.
func Replace(r *http.Request, body []byte) *http.Request {
	r2 := r.WithContext(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r2.ContentLength = int64(len(body))
	return r2
}
