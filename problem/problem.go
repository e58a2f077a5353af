package problem

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"
)

// StatusClientClosedRequest is the non-standard status (nginx's 499) that
// [From] gives a cancelled context: the client went away before the answer.
const StatusClientClosedRequest = 499

// DefaultType is the RFC 9457 "type" of a problem that sets none: the
// problem is fully described by its HTTP status.
const DefaultType = "about:blank"

// Error is a problem detail: an error with an HTTP status, a canonical code
// and the RFC 9457 members. Handlers return it; [Write] renders it.
//
// Treat an *Error as immutable: the With methods and Wrap return copies, so a
// package-level *Error may be shared by concurrent requests. Build one with
// [New] or a status constructor such as [NotFound]; a literal &Error{...} is
// valid too, with these defaults: Status outside 400–599 means 500, an empty
// Type means [DefaultType], an empty Title means the status text, a zero Code
// means [CodeForStatus](Status).
type Error struct {
	// Type is a URI reference identifying the problem type.
	Type string
	// Title is a short, human-readable summary of the problem type.
	Title string
	// Status is the HTTP status code.
	Status int
	// Detail is a human-readable explanation of this occurrence. It is sent
	// to the client: never put internal error text in it.
	Detail string
	// Instance is a URI reference identifying this occurrence.
	Instance string
	// Code is the canonical code used when the error crosses gRPC.
	Code Code
	// Extensions are extra members written at the top level of the JSON
	// object. Keys that collide with the members above (or with
	// "request_id") are ignored when writing.
	Extensions map[string]any

	cause error
}

// New returns a problem with the given HTTP status and detail. Any status in
// 400–599 is kept as is (a 422 stays 422); other values become 500 because a
// problem is by definition not a success.
func New(status int, detail string) *Error {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	return &Error{Status: status, Detail: detail}
}

// BadRequest returns a 400 problem.
func BadRequest(detail string) *Error { return New(http.StatusBadRequest, detail) }

// Unauthorized returns a 401 problem.
func Unauthorized(detail string) *Error { return New(http.StatusUnauthorized, detail) }

// Forbidden returns a 403 problem.
func Forbidden(detail string) *Error { return New(http.StatusForbidden, detail) }

// NotFound returns a 404 problem.
func NotFound(detail string) *Error { return New(http.StatusNotFound, detail) }

// Conflict returns a 409 problem.
func Conflict(detail string) *Error { return New(http.StatusConflict, detail) }

// PayloadTooLarge returns a 413 problem.
func PayloadTooLarge(detail string) *Error { return New(http.StatusRequestEntityTooLarge, detail) }

// UnsupportedMediaType returns a 415 problem.
func UnsupportedMediaType(detail string) *Error {
	return New(http.StatusUnsupportedMediaType, detail)
}

// TooManyRequests returns a 429 problem. The caller sets Retry-After.
func TooManyRequests(detail string) *Error { return New(http.StatusTooManyRequests, detail) }

// Internal returns a 500 problem. Its detail is sent to the client, so it
// must not contain internal error text; use Wrap to keep the cause for logs.
func Internal(detail string) *Error { return New(http.StatusInternalServerError, detail) }

// Unavailable returns a 503 problem.
func Unavailable(detail string) *Error { return New(http.StatusServiceUnavailable, detail) }

// Timeout returns a 504 problem: the server gave up waiting.
func Timeout(detail string) *Error { return New(http.StatusGatewayTimeout, detail) }

// Error returns a one-line description for logs: status, title, detail and,
// if any, the cause. It is not what clients see.
func (e *Error) Error() string {
	s := "problem: " + strconv.Itoa(e.status()) + " " + e.title()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the cause set by Wrap, or nil.
func (e *Error) Unwrap() error { return e.cause }

// GRPCCode returns e.Code, or the code derived from the status when Code is
// zero.
func (e *Error) GRPCCode() Code {
	if e.Code != CodeOK {
		return e.Code
	}
	return CodeForStatus(e.status())
}

// With returns a copy of e with the extension member key set to value.
// value must be encodable by encoding/json; one that is not is left out when
// the problem is written.
func (e *Error) With(key string, value any) *Error {
	c := e.clone()
	c.Extensions = make(map[string]any, len(e.Extensions)+1)
	maps.Copy(c.Extensions, e.Extensions)
	c.Extensions[key] = value
	return c
}

// WithDetail returns a copy of e with Detail set.
func (e *Error) WithDetail(detail string) *Error { c := e.clone(); c.Detail = detail; return c }

// WithType returns a copy of e with Type set.
func (e *Error) WithType(typ string) *Error { c := e.clone(); c.Type = typ; return c }

// WithTitle returns a copy of e with Title set.
func (e *Error) WithTitle(title string) *Error { c := e.clone(); c.Title = title; return c }

// WithInstance returns a copy of e with Instance set.
func (e *Error) WithInstance(instance string) *Error {
	c := e.clone()
	c.Instance = instance
	return c
}

// WithCode returns a copy of e with Code set.
func (e *Error) WithCode(code Code) *Error { c := e.clone(); c.Code = code; return c }

// Wrap returns a copy of e whose Unwrap returns cause, so errors.Is and
// errors.As see the cause and logs show it. The cause is never written to
// the client.
func (e *Error) Wrap(cause error) *Error { c := e.clone(); c.cause = cause; return c }

func (e *Error) clone() *Error {
	c := *e
	return &c
}

func (e *Error) status() int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

func (e *Error) title() string {
	if e.Title != "" {
		return e.Title
	}
	if e.status() == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	if t := http.StatusText(e.status()); t != "" {
		return t
	}
	return "Error"
}

// From returns the problem that err should be reported as:
//   - nil for a nil err;
//   - the nearest *Error in err's chain (errors.As), so wrapping with %w keeps
//     the status;
//   - 504 for context.DeadlineExceeded;
//   - 499 ([StatusClientClosedRequest]) for context.Canceled;
//   - 413 for *http.MaxBytesError;
//   - otherwise a 500 whose detail reveals nothing; err stays reachable
//     through Unwrap for logging.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	if p, ok := errors.AsType[*Error](err); ok {
		return p
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout("the request took too long").Wrap(err)
	case errors.Is(err, context.Canceled):
		return New(StatusClientClosedRequest, "the request was cancelled").Wrap(err)
	case errors.As(err, &mbe):
		return PayloadTooLarge("request body exceeds "+strconv.FormatInt(mbe.Limit, 10)+" bytes").
			With("limit", mbe.Limit).Wrap(err)
	}
	return Internal("internal error").Wrap(err)
}
