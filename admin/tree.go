package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"
)

// A node is one value of a report, kept in document order: reports come
// from structs whose field order is meaningful to a reader, and a Go map
// would shuffle them on every refresh.
type node struct {
	kind kind
	text string   // string value, or the JSON literal of a number
	keys []string // object member names, parallel to kids
	kids []*node  // object members or array elements
}

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// maxDepth bounds nesting, so a report cannot make rendering recurse deeply.
const maxDepth = 16

// errTooLarge reports a report whose JSON is over the size limit.
var errTooLarge = errors.New("admin: report too large")

// toTree encodes v as JSON (at most limit bytes) and parses it into a tree.
// A slog.Value or slog.LogValuer (what config.Redacted returns) is turned
// into a tree directly, keeping its attribute order.
func toTree(v any, limit int) (*node, error) {
	var n *node
	switch x := v.(type) {
	case slog.Value:
		n = fromSlog(x, 0)
	case slog.LogValuer:
		n = fromSlog(slog.AnyValue(x), 0)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if len(b) > limit {
			return nil, fmt.Errorf("%w: %d bytes of JSON, over the limit of %d; report the top entries only", errTooLarge, len(b), limit)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if n, err = parse(d, 0); err != nil {
			return nil, err
		}
	}
	if size := len(n.json()); size > limit {
		return nil, fmt.Errorf("%w: %d bytes of JSON, over the limit of %d; report the top entries only", errTooLarge, size, limit)
	}
	return n, nil
}

// parse reads one value from d.
func parse(d *json.Decoder, depth int) (*node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("admin: report nested deeper than %d levels", maxDepth)
		}
		n := &node{kind: kindArray}
		if t == '{' {
			n.kind = kindObject
		}
		for d.More() {
			if n.kind == kindObject {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			kid, err := parse(d, depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case json.Number:
		return &node{kind: kindNumber, text: t.String()}, nil
	case string:
		return &node{kind: kindString, text: t}, nil
	case bool:
		return &node{kind: kindBool, text: strconv.FormatBool(t)}, nil
	case nil:
		return &node{kind: kindNull, text: "null"}, nil
	}
	return nil, io.ErrUnexpectedEOF // not reached: Token returns only the types above
}

// fromSlog converts a slog value, resolving LogValuers.
func fromSlog(v slog.Value, depth int) *node {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		n := &node{kind: kindObject}
		if depth >= maxDepth {
			return &node{kind: kindString, text: "(nested too deep)"}
		}
		for _, a := range v.Group() {
			n.keys = append(n.keys, a.Key)
			n.kids = append(n.kids, fromSlog(a.Value, depth+1))
		}
		return n
	case slog.KindBool:
		return &node{kind: kindBool, text: strconv.FormatBool(v.Bool())}
	case slog.KindInt64:
		return &node{kind: kindNumber, text: strconv.FormatInt(v.Int64(), 10)}
	case slog.KindUint64:
		return &node{kind: kindNumber, text: strconv.FormatUint(v.Uint64(), 10)}
	case slog.KindFloat64:
		return number(v.Float64())
	case slog.KindDuration:
		return &node{kind: kindString, text: v.Duration().String()}
	case slog.KindTime:
		return &node{kind: kindString, text: v.Time().Format(time.RFC3339Nano)}
	case slog.KindString:
		return &node{kind: kindString, text: v.String()}
	}
	if v.Any() == nil {
		return &node{kind: kindNull, text: "null"}
	}
	if n, err := toTree(v.Any(), 1<<20); err == nil && depth < maxDepth {
		return n
	}
	return &node{kind: kindString, text: v.String()}
}

// number returns a number node; JSON has no NaN or infinities, so those
// become strings.
func number(f float64) *node {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &node{kind: kindString, text: s}
	}
	return &node{kind: kindNumber, text: s}
}

// object builds an object node from alternating keys and values.
func object(kv ...any) *node {
	n := &node{kind: kindObject}
	for i := 0; i+1 < len(kv); i += 2 {
		n.keys = append(n.keys, kv[i].(string))
		n.kids = append(n.kids, kv[i+1].(*node))
	}
	return n
}

func str(s string) *node { return &node{kind: kindString, text: s} }

// json returns the JSON encoding of n.
func (n *node) json() []byte { return n.appendJSON(nil) }

// MarshalJSON lets a tree sit inside structs encoded with encoding/json.
func (n *node) MarshalJSON() ([]byte, error) { return n.json(), nil }

func (n *node) appendJSON(b []byte) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	switch n.kind {
	case kindObject, kindArray:
		open, end := byte('['), byte(']')
		if n.kind == kindObject {
			open, end = '{', '}'
		}
		b = append(b, open)
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			if n.kind == kindObject {
				b = appendString(b, n.keys[i])
				b = append(b, ':')
			}
			b = k.appendJSON(b)
		}
		return append(b, end)
	case kindString:
		return appendString(b, n.text)
	}
	return append(b, n.text...)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// keyFields are the members whose string value names an array element in a
// series path, so that "hosts[api.example.com].failures" follows its host
// when a top-N list reorders.
var keyFields = [...]string{"name", "host", "key", "id"}

// elemName returns how path segments name element i of an array.
func elemName(elem *node, i int) string {
	if elem.kind == kindObject {
		for _, f := range keyFields {
			for j, k := range elem.keys {
				if k == f && elem.kids[j].kind == kindString {
					return "[" + elem.kids[j].text + "]"
				}
			}
		}
	}
	return "[" + strconv.Itoa(i) + "]"
}

// childPath returns the path of member i of n, whose own path is p.
func childPath(n *node, p string, i int) string {
	if n.kind == kindArray {
		return p + elemName(n.kids[i], i)
	}
	if p == "" {
		return n.keys[i]
	}
	return p + "." + n.keys[i]
}

// numbers calls fn with the path and value of every finite numeric leaf of
// n, in document order, until fn returns false.
func (n *node) numbers(p string, fn func(path string, v float64) bool) bool {
	switch n.kind {
	case kindNumber:
		f, err := strconv.ParseFloat(n.text, 64)
		if err != nil {
			return true
		}
		return fn(p, f)
	case kindObject, kindArray:
		for i, k := range n.kids {
			if !k.numbers(childPath(n, p, i), fn) {
				return false
			}
		}
	}
	return true
}
