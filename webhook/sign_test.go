package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/webhook"
)

// The test vector of the Standard Webhooks reference libraries.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	otherKey  = "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24="
)

var vecTime = time.Unix(1614265330, 0)

func TestSignVector(t *testing.T) {
	t.Parallel()
	got, err := webhook.Sign(vecSecret, vecID, vecTime.Add(900*time.Millisecond), []byte(vecBody))
	if err != nil || got != vecSig {
		t.Fatalf("Sign(vector) = %q, %v; want %q", got, err, vecSig)
	}
	// The bare base64 form of a secret is accepted, as by the reference.
	if got, _ := webhook.Sign(strings.TrimPrefix(vecSecret, "whsec_"), vecID, vecTime, []byte(vecBody)); got != vecSig {
		t.Errorf("Sign(bare secret) = %q; want %q", got, vecSig)
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "whsec_abc"} {
		if _, err := webhook.Sign(bad, vecID, vecTime, nil); err == nil {
			t.Errorf("Sign(secret %q) = nil error; want one", bad)
		}
	}
}

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set(webhook.HeaderID, id)
	}
	if ts != "" {
		h.Set(webhook.HeaderTimestamp, ts)
	}
	if sig != "" {
		h.Set(webhook.HeaderSignature, sig)
	}
	return h
}

func TestVerify(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(vecTime)
	v, err := webhook.NewVerifier(otherKey, vecSecret) // rotation: either secret
	if err != nil {
		t.Fatal(err)
	}
	v = v.WithClock(clock.Now)
	ts := strconv.FormatInt(vecTime.Unix(), 10)
	tol := int64(webhook.DefaultTolerance / time.Second)
	other, _ := webhook.Sign(otherKey, vecID, vecTime, []byte(vecBody))
	tests := []struct {
		name        string
		id, ts, sig string
		body        string
		want        error
	}{
		{"vector", vecID, ts, vecSig, vecBody, nil},
		{"other secret", vecID, ts, other, vecBody, nil},
		{"several signatures", vecID, ts, "v1,bm9wZQ== v2,abc " + vecSig, vecBody, nil},
		{"junk around", vecID, ts, ",,, v1,not,base64  v1, " + vecSig, vecBody, nil},
		{"oldest allowed", vecID, strconv.FormatInt(vecTime.Unix()-tol, 10), "", vecBody, nil},
		{"newest allowed", vecID, strconv.FormatInt(vecTime.Unix()+tol, 10), "", vecBody, nil},
		{"too old", vecID, strconv.FormatInt(vecTime.Unix()-tol-1, 10), "", vecBody, webhook.ErrTimestamp},
		{"too new", vecID, strconv.FormatInt(vecTime.Unix()+tol+1, 10), "", vecBody, webhook.ErrTimestamp},
		{"bad timestamp", vecID, "16142653a0", vecSig, vecBody, webhook.ErrTimestamp},
		{"negative timestamp", vecID, "-1614265330", vecSig, vecBody, webhook.ErrTimestamp},
		{"huge timestamp", vecID, "99999999999999999999", vecSig, vecBody, webhook.ErrTimestamp},
		{"tampered body", vecID, ts, vecSig, vecBody + " ", webhook.ErrSignature},
		{"tampered id", vecID + "x", ts, vecSig, vecBody, webhook.ErrSignature},
		{"v2 only", vecID, ts, strings.Replace(vecSig, "v1,", "v2,", 1), vecBody, webhook.ErrSignature},
		{"truncated", vecID, ts, vecSig[:20], vecBody, webhook.ErrSignature},
		{"empty v1", vecID, ts, "v1,", vecBody, webhook.ErrSignature},
		{"no id", "", ts, vecSig, vecBody, webhook.ErrMissingHeader},
		{"no timestamp", vecID, "", vecSig, vecBody, webhook.ErrMissingHeader},
		{"no signature", vecID, ts, "", vecBody, webhook.ErrMissingHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sig := tc.sig
			if sig == "" && tc.ts != ts { // sign with the shifted timestamp
				n, _ := strconv.ParseInt(tc.ts, 10, 64)
				sig, _ = webhook.Sign(vecSecret, tc.id, time.Unix(n, 0), []byte(tc.body))
			}
			err := v.Verify(headers(tc.id, tc.ts, sig), []byte(tc.body))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify(%s) = %v; want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestNewVerifierErrors(t *testing.T) {
	t.Parallel()
	for _, secrets := range [][]string{nil, {"whsec_"}, {vecSecret, "whsec_%%%"}} {
		if _, err := webhook.NewVerifier(secrets...); err == nil {
			t.Errorf("NewVerifier(%q) = nil error; want one", secrets)
		} else if strings.Contains(err.Error(), "%%%") {
			t.Errorf("NewVerifier error %q quotes the secret", err)
		}
	}
}

func TestWithTolerance(t *testing.T) {
	t.Parallel()
	v, _ := webhook.NewVerifier(vecSecret)
	clock := fakeclock.New(vecTime.Add(time.Minute + time.Second))
	v = v.WithClock(clock.Now)
	h := headers(vecID, strconv.FormatInt(vecTime.Unix(), 10), vecSig)
	if err := v.Verify(h, []byte(vecBody)); err != nil {
		t.Errorf("default tolerance: Verify = %v; want nil", err)
	}
	if err := v.WithTolerance(time.Minute).Verify(h, []byte(vecBody)); !errors.Is(err, webhook.ErrTimestamp) {
		t.Errorf("1m tolerance, 61s late: Verify = %v; want ErrTimestamp", err)
	}
	if got := v.WithTolerance(0).Tolerance(); got != webhook.DefaultTolerance {
		t.Errorf("WithTolerance(0).Tolerance() = %v; want %v", got, webhook.DefaultTolerance)
	}
	defer func() {
		if r, _ := recover().(string); !strings.HasPrefix(r, "webhook.Verifier.WithTolerance: d is negative") {
			t.Errorf("WithTolerance(-1) panic = %q", r)
		}
	}()
	v.WithTolerance(-1)
}
