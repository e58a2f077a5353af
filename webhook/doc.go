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
// with [Sender.Deliver], which applies the retry schedule over an
// [Outbox]. webhook/pgoutbox implements Outbox on PostgreSQL; its SQL, in
// short:
//
//	CREATE TABLE webhook_outbox (
//	    id bigserial PRIMARY KEY, msg_id text NOT NULL, url text NOT NULL,
//	    secrets text NOT NULL, body bytea NOT NULL, content_type text NOT NULL DEFAULT '',
//	    attempts int NOT NULL DEFAULT 0, next_at timestamptz NOT NULL DEFAULT now(),
//	    done_at timestamptz, gave_up boolean NOT NULL DEFAULT false,
//	    last_status int, last_error text, created_at timestamptz NOT NULL DEFAULT now());
//	CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE done_at IS NULL;
//
//	-- Enqueue, inside the business transaction:
//	INSERT INTO webhook_outbox (msg_id, url, secrets, body) VALUES ($1, $2, $3, $4);
//
//	-- Due: claim with a lease, skipping rows other replicas hold
//	UPDATE webhook_outbox SET next_at = now() + interval '2 minutes'
//	WHERE id IN (SELECT id FROM webhook_outbox
//	             WHERE done_at IS NULL AND next_at <= now()
//	             ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
//	RETURNING id, msg_id, url, secrets, body, content_type, attempts;
//
//	-- Delivered
//	UPDATE webhook_outbox SET done_at = now(), attempts = attempts + 1 WHERE id = $1;
//	-- Failed: due again at next, or (next zero) done with gave_up = true
//	UPDATE webhook_outbox SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE id = $1;
//
// The lease must exceed a pass's attempts; a replica that dies mid-pass
// gives its claims back when the lease ends. Run Deliver from a periodic
// job on every replica, and purge done rows after a retention period.
// Delivery is at least once (a lease can end while an attempt is still
// running), which is why receivers deduplicate on webhook-id.
package webhook
