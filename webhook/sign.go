package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// SecretPrefix starts the text form of a signing secret: "whsec_" followed
// by the key in standard base64.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a message's timestamp may be from the
// receiver's clock, either way, unless [Verifier.WithTolerance] says
// otherwise.
const DefaultTolerance = 5 * time.Minute

// Verification errors. [Verifier.Verify] returns one of them, possibly
// wrapped; the middleware answers 401 for each. Their texts never include
// the message.
var (
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrTimestamp: webhook-timestamp is not a Unix time in seconds within
	// the tolerance of the receiver's clock.
	ErrTimestamp = errors.New("webhook: timestamp invalid or outside tolerance")
	// ErrSignature: no v1 signature matched any of the Verifier's secrets.
	ErrSignature = errors.New("webhook: no matching signature")
)

// DecodeSecret returns the key of a signing secret: "whsec_<base64>", or the
// bare base64 (the reference libraries accept both). It reports an error,
// never the secret, for bad base64 or an empty key.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, errors.New("webhook: secret is not whsec_ followed by standard base64")
	}
	if len(key) == 0 {
		return nil, errors.New("webhook: secret is empty")
	}
	return key, nil
}

// Sign returns the webhook-signature value "v1,<base64 HMAC-SHA256>" of the
// message id, sent at ts (whole seconds; the fraction is dropped), with body,
// under secret. The headers to send are webhook-id: id, webhook-timestamp:
// ts.Unix() and webhook-signature: the result. It fails only on a malformed
// secret. To sign with several secrets during a rotation, join their
// results with a space.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

// mac is HMAC-SHA256(key, id "." ts "." body), the signed content of the
// specification.
func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verifier checks Standard Webhooks signatures against one or more secrets.
// Build one with [NewVerifier]; the zero Verifier is not usable. A Verifier
// is immutable and safe for concurrent use; the With methods return
// modified copies.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// NewVerifier returns a Verifier that accepts a message signed with any of
// secrets ("whsec_<base64>"): give the old and the new secret during a
// rotation. It returns an error, naming the secret by position, if there is
// none or one is malformed.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook.NewVerifier: no secret; pass at least one whsec_ secret")
	}
	v := &Verifier{tolerance: DefaultTolerance, now: time.Now}
	for i, s := range secrets {
		key, err := DecodeSecret(s)
		if err != nil {
			return nil, fmt.Errorf("webhook.NewVerifier: secrets[%d]: %w", i, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// WithTolerance returns a copy of v that accepts timestamps up to d away
// from its clock, either way. Zero means DefaultTolerance (5 minutes).
// Panics if d is negative.
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	if d < 0 {
		panic(fmt.Sprintf("webhook.Verifier.WithTolerance: d is negative (%v); use 0 for the default", d))
	}
	c := *v
	c.tolerance = d
	if d == 0 {
		c.tolerance = DefaultTolerance
	}
	return &c
}

// WithClock returns a copy of v that reads time from now. A nil now means
// time.Now.
func (v *Verifier) WithClock(now func() time.Time) *Verifier {
	c := *v
	c.now = now
	if now == nil {
		c.now = time.Now
	}
	return &c
}

// Tolerance returns how far a timestamp may be from v's clock.
func (v *Verifier) Tolerance() time.Duration { return v.tolerance }

// Verify reports whether h and body are a genuine, fresh message: the
// webhook-id, webhook-timestamp and webhook-signature headers are present,
// the timestamp is within the tolerance of v's clock, and one of the
// space-separated "v1,<base64>" signatures is the HMAC-SHA256 of
// id.timestamp.body under one of v's secrets (compared in constant time;
// other versions and malformed entries are skipped). It returns nil or an
// error matching ErrMissingHeader, ErrTimestamp or ErrSignature. It does not
// detect replays; [Verifier.Middleware] does.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	_, err := v.verify(h, body)
	return err
}

// verify is Verify, also returning the message's timestamp.
func (v *Verifier) verify(h http.Header, body []byte) (time.Time, error) {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return time.Time{}, ErrMissingHeader
	}
	ts, ok := parseTimestamp(tsText)
	if !ok {
		return time.Time{}, ErrTimestamp
	}
	now := v.now()
	if ts.Before(now.Add(-v.tolerance)) || ts.After(now.Add(v.tolerance)) {
		return time.Time{}, ErrTimestamp
	}
	var want [][]byte
	for _, k := range v.keys {
		want = append(want, mac(k, id, tsText, body))
	}
	found := false
	eachSignature(sigs, func(sig []byte) {
		for _, w := range want {
			// hmac.Equal is constant-time; keep looking after a match so the
			// time taken does not say which entry or secret matched.
			if hmac.Equal(sig, w) {
				found = true
			}
		}
	})
	if !found {
		return time.Time{}, ErrSignature
	}
	return ts, nil
}

// parseTimestamp parses decimal Unix seconds, at most 12 digits (the year
// 33658), so that no arithmetic on it can overflow.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) == 0 || len(s) > 12 {
		return time.Time{}, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		n = n*10 + int64(c-'0')
	}
	return time.Unix(n, 0), true
}

// maxSignatures bounds the entries of a webhook-signature header that are
// decoded, so a huge header costs no more than a few dozen decodes.
const maxSignatures = 32

// eachSignature calls f with the decoded bytes of each well-formed v1 entry
// of a webhook-signature value: entries are separated by spaces, each
// "version,base64". Other versions, empty and malformed entries are
// skipped.
func eachSignature(h string, f func(sig []byte)) {
	var buf [sha256.Size + 3]byte
	n := 0
	for entry := range strings.SplitSeq(h, " ") {
		version, b64, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" || b64 == "" {
			continue
		}
		if n++; n > maxSignatures {
			return
		}
		if base64.StdEncoding.DecodedLen(len(b64)) > len(buf) {
			continue // longer than any SHA-256 MAC
		}
		m, err := base64.StdEncoding.Decode(buf[:], []byte(b64))
		if err != nil {
			continue
		}
		f(buf[:m])
	}
}
