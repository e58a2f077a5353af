package problem

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"unsafe"

	"github.com/chassis-go/chassis/internal/reqmeta"
)

// ContentType is the media type of a problem response body (RFC 9457).
const ContentType = "application/problem+json"

// RequestIDHeader is the header that carries a request id. [Write] takes the
// id httpkit.RequestID recorded in the request context, else a valid id on
// this header of the response, else of the request.
const RequestIDHeader = "X-Request-ID"

// Write writes err as an RFC 9457 problem response: the status of [From](err),
// Content-Type application/problem+json, and a JSON object with the members
// type, title, status, detail (if set) and instance (if set), then the
// extension members at the top level in key order, then "request_id" when the
// response or request carries a valid X-Request-ID (1–128 characters of
// [A-Za-z0-9._-]). A nil err is written as a 500 "internal error": Write is
// only called on a failure path, so a nil error there is a bug in the caller,
// and answering 500 keeps that bug visible instead of sending a success status
// with a problem body. HEAD requests get the
// headers only. Extensions never overwrite the members named above, and an
// extension whose value cannot be encoded is left out, so the body is always
// valid JSON.
//
// Write must be called before anything else is written to w; like
// http.Error, it cannot take back a response that has started.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	p := From(err)
	if p == nil {
		p = Internal("internal error")
	}
	id := requestID(w, r)
	body := p.appendJSON(make([]byte, 0, 256), id)
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Encoding")
	w.WriteHeader(p.status())
	if r != nil && r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// Prepared is a problem response encoded once, for an answer sent many times
// (a rate limiter's 429, say). Its Write sends exactly what [Write] sends for
// the error given to [Prepare], request id included, without encoding the
// body again: only a request id, when there is one, is added per response.
// A Prepared is immutable and safe for concurrent use.
type Prepared struct {
	status int
	body   []byte // the whole body without a request id
	length string // len(body) in decimal
}

// Prepare encodes err as [Write] would and returns the result for repeated
// use. It reads err (and the *Error it resolves to) once: changes made to
// them afterwards are not seen by the Prepared.
func Prepare(err error) *Prepared {
	p := From(err)
	if p == nil {
		p = Internal("internal error")
	}
	body := p.appendJSON(nil, "")
	return &Prepared{status: p.status(), body: body, length: strconv.Itoa(len(body))}
}

// Write writes the prepared problem response to w, with the request id in
// force for r (see [Write]), under the same rules as Write: call it before
// anything else is written to w; HEAD requests get the headers only.
func (p *Prepared) Write(w http.ResponseWriter, r *http.Request) {
	id := requestID(w, r)
	body, length := p.body, p.length
	// One allocation holds the three header values (not shared between
	// responses, so a later middleware may modify them); a second one holds
	// the body and Content-Length when a request id must be spliced in.
	v := new([3]string)
	if id != "" {
		b := make([]byte, 0, len(body)+len(`,"request_id":""`)+len(id)+8+20)
		b = append(b, body[:len(body)-1]...)
		b = append(b, `,"request_id":`...)
		if ValidRequestID(id) { // nothing to escape
			b = append(b, '"')
			b = append(b, id...)
			b = append(b, '"')
		} else {
			b = appendString(b, id)
		}
		b = append(b, '}')
		n := len(b)
		b = strconv.AppendInt(b, int64(n), 10)
		body, length = b[:n:n], unsafe.String(&b[n], len(b)-n)
	}
	v[0], v[1], v[2] = ContentType, "nosniff", length
	h := w.Header()
	h["Content-Type"] = v[0:1:1]
	h["X-Content-Type-Options"] = v[1:2:2]
	h["Content-Length"] = v[2:3:3]
	delete(h, "Content-Encoding")
	w.WriteHeader(p.status)
	if r != nil && r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// MarshalJSON encodes e as the JSON object [Write] sends, without a request
// id. It never fails: unencodable extension values are left out.
func (e *Error) MarshalJSON() ([]byte, error) {
	return e.appendJSON(nil, ""), nil
}

func (e *Error) appendJSON(b []byte, requestID string) []byte {
	typ := e.Type
	if typ == "" {
		typ = DefaultType
	}
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"title":`...)
	b = appendString(b, e.title())
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status()), 10)
	if e.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendString(b, e.Detail)
	}
	if e.Instance != "" {
		b = append(b, `,"instance":`...)
		b = appendString(b, e.Instance)
	}
	if len(e.Extensions) > 0 {
		seen := make(map[string]bool, len(e.Extensions))
		for _, k := range slices.Sorted(maps.Keys(e.Extensions)) {
			key := appendString(nil, k)
			// Two different invalid-UTF-8 keys can encode to the same JSON
			// string; keep the first so the object has no duplicate member.
			if isReserved(k) || seen[string(key)] || isReserved(unquote(key)) {
				continue
			}
			v, err := json.Marshal(e.Extensions[k])
			if err != nil {
				continue
			}
			seen[string(key)] = true
			b = append(b, ',')
			b = append(b, key...)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	if requestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendString(b, requestID)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

func unquote(q []byte) string {
	var s string
	if json.Unmarshal(q, &s) != nil {
		return ""
	}
	return s
}

// requestID returns the request id in force: the one httpkit.RequestID
// recorded in the request context (its one home), else a valid id on the
// response or request header, for services that set ids without httpkit.
func requestID(w http.ResponseWriter, r *http.Request) string {
	if r != nil {
		if id := reqmeta.RequestID(r.Context()); id != "" {
			return id
		}
	}
	if id := w.Header().Get(RequestIDHeader); ValidRequestID(id) {
		return id
	}
	if r != nil {
		if id := r.Header.Get(RequestIDHeader); ValidRequestID(id) {
			return id
		}
	}
	return ""
}

// ValidRequestID reports whether id is an acceptable request id: 1 to 128
// characters, each a letter, digit, '.', '_' or '-'. httpkit.RequestID uses
// the same rule for inbound ids.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isReserved reports whether an extension named k would collide with a
// member Write sets itself.
func isReserved(k string) bool {
	switch k {
	case "type", "title", "status", "detail", "instance", "request_id":
		return true
	}
	return false
}
