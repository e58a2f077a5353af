package rediscache

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chassis-go/chassis/internal/panicval"
)

// Codec turns values into bytes stored in Redis and back. Implementations
// must be safe for concurrent use. Unmarshal reads bytes from Redis, which
// another replica (or anyone with access to Redis) wrote: it must return an
// error, never panic, on input it does not understand.
type Codec[V any] interface {
	Marshal(v V) ([]byte, error)
	Unmarshal(data []byte) (V, error)
}

// JSON is the default [Codec]: encoding/json. Its zero value is ready to
// use.
type JSON[V any] struct{}

// Marshal returns the JSON encoding of v.
func (JSON[V]) Marshal(v V) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON into a new V.
func (JSON[V]) Unmarshal(data []byte) (V, error) {
	var v V
	err := json.Unmarshal(data, &v)
	return v, err
}

// The stored form of a value is one format byte and the codec's bytes. The
// format byte lets a Delete leave a tombstone that no codec output can be
// mistaken for, and lets a later version change the layout.
const (
	formatValue     = 'v'
	formatTombstone = 't'
)

// errFormat is a stored value whose format byte this version does not know.
var errFormat = errors.New("rediscache: unknown stored format")

// encode returns the stored form of v.
func encode[V any](codec Codec[V], v V) ([]byte, error) {
	data, err := codec.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{formatValue}, data...), nil
}

// decode parses a stored form: a value (ok), a tombstone (not ok, nil
// error) or garbage (an error). It never panics on its input, whatever
// the codec does.
func decode[V any](codec Codec[V], stored []byte) (v V, ok bool, err error) {
	if len(stored) == 0 {
		return v, false, errFormat
	}
	switch stored[0] {
	case formatTombstone:
		return v, false, nil
	case formatValue:
		v, err = unmarshal(codec, stored[1:])
		return v, err == nil, err
	}
	return v, false, errFormat
}

func unmarshal[V any](codec Codec[V], data []byte) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero V
			v, err = zero, fmt.Errorf("rediscache: codec panicked decoding a stored value: %s", panicval.String(r))
		}
	}()
	return codec.Unmarshal(data)
}
