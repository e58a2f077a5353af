package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzSignatureHeader checks the webhook-signature parser never panics,
// yields only MAC-sized or shorter values, and finds a valid signature
// wherever it sits among junk.
func FuzzSignatureHeader(f *testing.F) {
	for _, s := range []string{"", "v1,", "v1,abc=", ",,, v1,not,base64  v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v2,x v1", strings.Repeat("v1,AAAA ", 50)} {
		f.Add(s)
	}
	good := "v1," + base64.StdEncoding.EncodeToString(make([]byte, sha256.Size))
	f.Fuzz(func(t *testing.T, h string) {
		eachSignature(h, func(sig []byte) {
			if len(sig) > sha256.Size+3 {
				t.Fatalf("eachSignature(%q) yielded %d bytes", h, len(sig))
			}
		})
		if strings.Count(h, " ") > maxSignatures-2 {
			return // the valid one may fall past the bound
		}
		found := false
		eachSignature(h+" "+good, func(sig []byte) { found = found || len(sig) == sha256.Size && allZero(sig) })
		if !found {
			t.Fatalf("eachSignature(%q + valid) missed the valid signature", h)
		}
	})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// FuzzVerify checks Verify never panics on any header values, and accepts
// exactly what Sign produced for the same id, timestamp and body.
func FuzzVerify(f *testing.F) {
	f.Add("msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("", "", "", []byte(nil))
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, _ := NewVerifier(secret)
	now := time.Unix(1614265330, 0)
	v = v.WithClock(func() time.Time { return now })
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		_ = v.Verify(h, body)
		if id == "" {
			return
		}
		good, err := Sign(secret, id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		h.Set(HeaderTimestamp, "1614265330")
		h.Set(HeaderSignature, good)
		if err := v.Verify(h, body); err != nil && h.Get(HeaderID) == id {
			t.Fatalf("Verify(Sign(%q)) = %v", id, err)
		}
	})
}
