// Package testkit provides helpers for tests of services built on chassis: a
// logger that writes to the test log, a loopback listener, and a scripted
// HTTP server that records what it receives.
//
// Every helper takes the test's [testing.TB] and releases what it holds in
// t.Cleanup, so a test never closes anything itself:
//
//	func TestClientRetries(t *testing.T) {
//		srv := testkit.NewServer(t,
//			testkit.Response{Status: 503},
//			testkit.Response{Status: 200, Body: `{"ok":true}`},
//		)
//		c := call.New(call.WithRetry(call.RetryPolicy{MaxAttempts: 3}))
//		// ... call srv.URL + "/v1/things" with c, with testkit.Logger(t) as the logger ...
//		if got := len(srv.Requests()); got != 2 {
//			t.Errorf("server got %d requests; want 2", got)
//		}
//	}
//
// testkit imports no other chassis package, so any package's tests can use it.
package testkit
