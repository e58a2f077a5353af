package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/webhook"
)

func ExampleSign() {
	sig, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	fmt.Println(sig, err)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= <nil>
}

func ExampleVerifier_Middleware() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		panic(err)
	}
	h := v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // the original body, intact
		fmt.Println("handled", string(body))
	}))

	body := `{"type":"invoice.paid"}`
	now := time.Now()
	sig, _ := webhook.Sign(secret, "msg_1", now, []byte(body))
	for _, sig := range []string{sig, "v1,Zm9yZ2Vk", sig} { // genuine, forged, replayed
		r := httptest.NewRequest("POST", "/webhooks", strings.NewReader(body))
		r.Header.Set("webhook-id", "msg_1")
		r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		r.Header.Set("webhook-signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// handled {"type":"invoice.paid"}
	// 200
	// 401
	// 401
}

func ExampleSender_Send() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, _ := webhook.NewVerifier(secret)
	receiver := httptest.NewServer(v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("received", r.Header.Get("webhook-id"))
	})))
	defer receiver.Close()

	// Production code omits AllowLoopback: receivers on loopback, private and
	// link-local addresses are then refused at dial time.
	c := call.New(call.WithTransport(webhook.NewTransport(webhook.AllowLoopback())), call.WithBreaker(call.BreakerPolicy{}))
	defer c.CloseIdleConnections()
	s := webhook.NewSender(c)
	err := s.Send(context.Background(),
		webhook.Endpoint{URL: receiver.URL, Secrets: []string{secret}},
		webhook.Message{ID: "msg_2", Body: []byte(`{"type":"invoice.paid"}`)})
	fmt.Println(err)
	// Output:
	// received msg_2
	// <nil>
}
