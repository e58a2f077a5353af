// Package idempotency makes unsafe HTTP methods safe to retry: a request
// carrying an Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header)
// runs at most once per key, and retries get the stored response.
// Most services need only [Middleware] with a [Store]:
//
//	idem := idempotency.Middleware(idempotency.Config{
//		Store: idempotency.NewMemoryStore(),   // redisstore.New(rdb) for several replicas
//		Key:   guard.RemoteIP(),                // or the authenticated principal
//	})
//	mux.Handle("POST /payments", idem(http.HandlerFunc(pay)))
//
// # Scope
//
// A key is valid within one scope: the client's identity (Config.Key), the
// method and the route. Mount the middleware per route, inside the
// ServeMux, so that the route is the matched pattern (r.Pattern); wrapping
// the whole mux also works, and then the route is the request path, which
// is finer than the pattern and equally safe.
//
// # Records and stores
//
// The first request with a key claims it in the Store with an in-flight
// record holding the SHA-256 of its body. When it ends, the record is
// completed with the status, an allowlist of headers and the body, kept for
// Config.Retention; server errors, 408, 429 and oversized responses are not
// stored but release the key, so the client's retry runs again. A lock
// outlives its handler by at most Config.LockTTL: set it above the
// handler's timeout.
//
// [MemoryStore] is bounded (MaxKeys) and serves one replica.
// idempotency/redisstore shares records between replicas: the claim is a
// SET NX PX, completion and release are Lua scripts that check the claim's
// token, and records expire with Redis TTLs.
//
// # When the store fails
//
// By default the middleware fails closed: the request is answered 503 with
// Retry-After and the handler does not run, because running it unprotected
// could execute a payment twice. Config.FailOpen chooses availability
// instead, for handlers whose duplicates are harmless or caught downstream.
package idempotency
