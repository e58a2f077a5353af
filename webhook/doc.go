// Package webhook signs, verifies and sends webhooks in the Standard
// Webhooks format (https://www.standardwebhooks.com): the headers
// webhook-id, webhook-timestamp and webhook-signature, the latter
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" with "whsec_<base64>"
// secrets. Receivers need [NewVerifier] and [Verifier.Middleware]; senders
// need [NewSender] and [Sender.Send], or [Sender.Deliver] over an [Outbox].
//
// # Receiving
//
//	v, err := webhook.NewVerifier(os.Getenv("WEBHOOK_SECRET")) // several during a rotation
//	if err != nil { ... }
//	mux.Handle("POST /webhooks/billing", v.Middleware()(handler))
//
// The middleware reads the raw body under a cap, checks the signature in
// constant time against every secret, refuses timestamps more than the
// tolerance (5 minutes) from its clock and ids it has already accepted in
// that window, and answers 401 problem+json to anything else. The handler
// gets the body intact. A replay cache per process suffices for one
// replica; with several, plug the shared one of webhook/redisreplay (SET NX
// PX on Redis) in with [WithReplayCache]. Handlers should still treat webhook-id as an
// idempotency key: a sender retries a message whose answer it did not get,
// possibly after the window.
//
// # Sending
//
// A [Sender] signs each attempt afresh with the same webhook-id, posts it
// through a call.Client (per-attempt timeout, a circuit breaker per
// endpoint host) and retries on a long schedule (5s up to 10h, 8 attempts
// over about 27 hours), honouring 429/503 Retry-After. A 410 Gone stops the
// retries with an error matching [ErrGone]: disable the endpoint.
// Endpoints are URLs that users type, so the client must come from
// [NewTransport], which refuses loopback, private, link-local and other
// special-purpose addresses at dial time, after DNS resolution (DNS
// rebinding and redirects cannot get around it); tests use
// [AllowLoopback].
//
// # Durable delivery: the outbox
//
// [Sender.Send] retries in memory; a restart loses what it was retrying.
// For at-least-once delivery, write each delivery to an outbox table in the
// transaction that makes the change the webhook announces, and drain it
// with [Sender.Deliver], which implements the retry schedule over an
// [Outbox]. With PostgreSQL:
//
//	CREATE TABLE webhook_outbox (
//	    id          bigserial PRIMARY KEY,
//	    msg_id      text        NOT NULL UNIQUE,    -- webhook-id: msg_<ulid>
//	    url         text        NOT NULL,
//	    secret      text        NOT NULL,           -- or a reference to it
//	    body        bytea       NOT NULL,
//	    attempts    int         NOT NULL DEFAULT 0,
//	    next_at     timestamptz NOT NULL DEFAULT now(),
//	    done_at     timestamptz,                    -- delivered or given up
//	    last_error  text
//	);
//	CREATE INDEX ON webhook_outbox (next_at) WHERE done_at IS NULL;
//
//	-- in the business transaction:
//	INSERT INTO webhook_outbox (msg_id, url, secret, body) VALUES ($1, $2, $3, $4);
//
//	-- Outbox.Due: claim with a lease, skipping rows other replicas hold
//	UPDATE webhook_outbox SET next_at = now() + interval '2 minutes'
//	WHERE id IN (SELECT id FROM webhook_outbox
//	             WHERE done_at IS NULL AND next_at <= now()
//	             ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
//	RETURNING id, msg_id, url, secret, body, attempts;
//
//	-- Outbox.Delivered
//	UPDATE webhook_outbox SET done_at = now(), attempts = attempts + 1 WHERE id = $1;
//	-- Outbox.Failed (next zero: SET done_at = now() instead of next_at)
//	UPDATE webhook_outbox SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE id = $1;
//
// The lease (2 minutes here) must exceed one attempt's timeout; a replica
// that dies mid-pass releases its claims when it expires. Run Deliver from
// a periodic job on every replica. Delete done rows after a retention
// period. Delivery is at least once: the lease can expire while an attempt
// is still running, which is why receivers deduplicate on webhook-id.
package webhook
