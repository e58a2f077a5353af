package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/webhook"
)

// The interoperability tests run chassis's webhook package against the
// Standard Webhooks reference library (github.com/standard-webhooks/
// standard-webhooks/libraries, Go): what one signs, the other verifies.
// They use the real clock, since the reference library reads time.Now.

var interopBodies = []string{
	`{"type":"invoice.paid","data":{"id":"in_1","amount":100}}`,
	``,
	"binary \x00\xff\n bytes",
	strings.Repeat("ü", 10000),
}

const interopSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestWebhookInteropTheirsToOurs(t *testing.T) {
	t.Parallel()
	ref, err := standardwebhooks.NewWebhook(interopSecret)
	if err != nil {
		t.Fatal(err)
	}
	// Ours holds a second, rotated secret too: either must do.
	v, err := webhook.NewVerifier("whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=", interopSecret)
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range interopBodies {
		id := "msg_" + strconv.Itoa(i)
		now := time.Now()
		sig, err := ref.Sign(id, now, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		h.Set("webhook-signature", sig)
		if err := v.Verify(h, []byte(body)); err != nil {
			t.Errorf("body %d: reference signature %q rejected by webhook.Verify: %v", i, sig, err)
		}
		if err := v.Verify(h, []byte(body+"x")); err == nil {
			t.Errorf("body %d: tampered body accepted", i)
		}
		// Through the middleware as well: the handler gets the body intact.
		var got string
		mw := v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = string(b)
		}))
		r := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
		r.Header = h.Clone()
		w := httptest.NewRecorder()
		mw.ServeHTTP(w, r)
		if w.Code != http.StatusOK || got != body {
			t.Errorf("body %d through the middleware: %d, handler read %d bytes; want 200 and the body", i, w.Code, len(got))
		}
	}
}

func TestWebhookInteropOursToTheirs(t *testing.T) {
	t.Parallel()
	ref, err := standardwebhooks.NewWebhook(interopSecret)
	if err != nil {
		t.Fatal(err)
	}
	var verified []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := ref.Verify(b, r.Header); err != nil {
			t.Errorf("reference library rejected a webhook.Sender delivery: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		verified = append(verified, r.Header.Get("webhook-id"))
	}))
	defer srv.Close()

	for i, body := range interopBodies {
		id := "msg_" + strconv.Itoa(i)
		now := time.Now()
		sig, err := webhook.Sign(interopSecret, id, now, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		h.Set("webhook-signature", sig)
		if err := ref.Verify([]byte(body), h); err != nil {
			t.Errorf("body %d: webhook.Sign signature %q rejected by the reference: %v", i, sig, err)
		}
		if want, _ := ref.Sign(id, now, []byte(body)); want != sig {
			t.Errorf("body %d: webhook.Sign = %q; reference = %q", i, sig, want)
		}
	}

	// A Sender signing with two secrets (a rotation) still verifies with
	// the reference library, which holds one of them.
	c := call.New(call.WithTransport(webhook.NewTransport(webhook.AllowLoopback())))
	defer c.CloseIdleConnections()
	err = webhook.NewSender(c, webhook.WithSchedule()).Send(t.Context(), webhook.Endpoint{URL: srv.URL, Secrets: []string{"whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=", interopSecret}},
		webhook.Message{ID: "msg_sender", Body: []byte(interopBodies[0])})
	if err != nil {
		t.Fatalf("Sender.Send to a reference-library receiver: %v", err)
	}
	if len(verified) != 1 || verified[0] != "msg_sender" {
		t.Errorf("reference receiver verified %v; want [msg_sender]", verified)
	}
}
