package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

// DecodeOption configures [DecodeJSON].
type DecodeOption func(*decodeConfig)

type decodeConfig struct {
	limits          secval.Limits
	disallowUnknown bool
}

// DisallowUnknownFields makes [DecodeJSON] reject an object member that
// matches no field of the destination struct, with a 400 whose detail
// names it: `body: unknown field "nmae"`. It catches client typos that
// would otherwise be silently ignored.
func DisallowUnknownFields() DecodeOption {
	return func(c *decodeConfig) { c.disallowUnknown = true }
}

// WithLimits sets the hardening limits of [DecodeJSON]; the default is the
// zero [secval.Limits] (1 MiB, depth 32, 1000 keys per object, 10000
// elements per array, 64 KiB strings, the prototype-pollution deny list).
// l.MaxBytes is the body size limit; a negative value lifts it.
func WithLimits(l secval.Limits) DecodeOption {
	return func(c *decodeConfig) { c.limits = l }
}

// DecodeJSON decodes the JSON request body into v, which must be a non-nil
// pointer, in a single pass that also enforces the size and shape limits of
// [secval.Limits] (see [WithLimits]). It does not write a response: on
// failure it returns a *problem.Error for the handler to pass to
// [problem.Write], so the handler stays in control of the response. Its
// detail names the problem, always prefixed "body: ":
//
//   - 415 if Content-Type is not application/json or application/*+json
//     (parameters allowed, but a charset must be utf-8). Requiring the
//     type also stops cross-site HTML forms, which cannot send it.
//   - 413 if the body exceeds the size limit ("body: exceeds 1048576
//     bytes", extension "limit": "max_bytes"); the body is read through
//     http.MaxBytesReader, so the server closes the connection after the
//     response instead of reading the rest.
//   - 400 for an empty body ("body: empty"); malformed JSON ("body:
//     invalid JSON at offset 15: invalid character ...", the 0-based
//     position of the offending byte); a truncated document; a value of
//     the wrong type (`body: field "age": expected integer, got string`);
//     an unknown field (with [DisallowUnknownFields]); a broken secval
//     limit (`body: JSON key "__proto__" is not allowed`, extension
//     "limit"); or anything but whitespace after the value ("body:
//     unexpected data after the JSON value").
//   - 500 if v is not a non-nil pointer: a programming error, reported
//     without detail to the client (the cause is kept for logs through
//     Unwrap).
//
// Errors returned by a json.Unmarshaler in v that are or wrap a
// *problem.Error keep their status; other errors from the body (read
// errors, Unmarshaler errors) become a 400 "body: invalid value" wrapping
// them. DecodeJSON reads no more than the size limit and stops after the
// first token following the value; it neither drains nor closes the body
// (net/http does). w is used only by http.MaxBytesReader. A nil option is
// ignored.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, opts ...DecodeOption) error {
	var cfg decodeConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	if max := cfg.limits.MaxBytes; max >= 0 {
		if max == 0 {
			max = secval.DefaultMaxBytes
		}
		body = http.MaxBytesReader(w, body, max)
	}
	dec := json.NewDecoder(cfg.limits.Reader(body))
	if cfg.disallowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if err != nil && (errors.Is(err, secval.ErrLimit) || errors.As(err, &mbe)) {
			return decodeError(err)
		}
		return problem.BadRequest("body: unexpected data after the JSON value")
	}
	return nil
}

func checkContentType(ct string) error {
	if ct == "application/json" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return problem.UnsupportedMediaType("body: Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return problem.UnsupportedMediaType("body: charset must be utf-8")
	}
	return nil
}

func decodeError(err error) error {
	var (
		pe  *problem.Error
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		ie  *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &pe):
		return pe.WithDetail("body: " + pe.Detail)
	case errors.As(err, &mbe):
		return problem.PayloadTooLarge(fmt.Sprintf("body: exceeds %d bytes", mbe.Limit)).
			With("limit", "max_bytes").Wrap(err)
	case errors.Is(err, io.EOF):
		return problem.BadRequest("body: empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest("body: unexpected end of JSON input")
	case errors.As(err, &se):
		// Offset counts the bytes read, the bad one included; report the
		// bad byte's 0-based position, as secval does.
		return problem.BadRequest(fmt.Sprintf("body: invalid JSON at offset %d: %s", max(se.Offset-1, 0), se.Error()))
	case errors.As(err, &te):
		got := te.Value
		if got == "bool" {
			got = "boolean"
		}
		if te.Field == "" {
			return problem.BadRequest(fmt.Sprintf("body: expected %s, got %s", jsonType(te.Type), got))
		}
		return problem.BadRequest(fmt.Sprintf("body: field %q: expected %s, got %s", te.Field, jsonType(te.Type), got))
	case errors.As(err, &ie):
		return problem.Internal("internal error").Wrap(err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The key is quoted (%q) by encoding/json.
		return problem.BadRequest("body: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	return problem.BadRequest("body: invalid value").Wrap(err)
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 string"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "value"
}

// bufPool holds encoding buffers for WriteJSON; buffers that grew past
// maxPooledBuffer are dropped rather than pinned.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

// WriteJSON writes v as a JSON response with the given status:
// Content-Type application/json and a Content-Length. v is encoded in full
// before anything is written, so if encoding fails (a channel, a cyclic
// value, a failing MarshalJSON) the client gets a 500 problem response
// instead of a half-written body, and WriteJSON returns the encoding error
// for the caller to log; do not write to w again. Otherwise it returns the
// error of the final Write, if any (usually a client that went away).
//
// The encoding is encoding/json's, with HTML characters escaped and a
// trailing newline. For HEAD requests only the headers are sent, and for a
// status that forbids a body (1xx, 204, 304) only the status is sent and v
// is not encoded. r may be nil; it is used for HEAD detection and for the
// request id of a problem response. status must be valid for WriteHeader.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		problem.Write(w, r, problem.Internal("internal error").Wrap(err))
		return fmt.Errorf("httpkit.WriteJSON: encode %T: %w", v, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r != nil && r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	return err
}
