// Package logz sets up [log/slog] for services: JSON or text output, a level
// that can change at run time, trace correlation and secret redaction.
//
// Most services call [New] once in main and pass the logger down:
//
//	var level slog.LevelVar
//	level.Set(cfg.LogLevel) // a slog.Level field: config parses "debug", "warn+2"...
//	logger := logz.New(os.Stderr, &logz.Options{
//		HandlerOptions: slog.HandlerOptions{Level: &level},
//	})
//	logger.InfoContext(ctx, "listening", "addr", addr)
//	// {"time":"...","level":"INFO","msg":"listening","trace_id":"4bf9...","span_id":"00f0...","addr":":8080"}
//	level.Set(slog.LevelDebug) // later, from any goroutine
//
// [Options] embeds the standard [slog.HandlerOptions] and adds only what
// logz itself decides: text or JSON, and more words to redact.
//
// # Trace correlation
//
// Use the *Context logging methods (InfoContext, ErrorContext, Log ...) with
// a context that carries an OpenTelemetry span, such as a request context
// behind otelhttp. The record then gets trace_id and span_id at the top
// level, even from a logger built with WithGroup, so that a log backend can
// join logs with traces by a fixed field. Without a valid span context, no
// ids are added.
//
// # Redaction
//
// An attribute whose key contains a sensitive word (password, secret, token,
// authorization, cookie, apikey and the others of [DefaultRedactKeys], plus
// those of [Options.RedactKeys]) is logged as "[REDACTED]". The match ignores
// case and the separators '_', '-', '.' and ' ', and applies at any depth:
// inside groups, WithAttrs attributes and LogValuer results. Redaction is a
// safety net for keys; a secret logged under an innocent key ("value", or as
// part of the message) is not detected.
//
// # Wrapping another handler
//
// [NewHandler] adds correlation and redaction to any [slog.Handler], such as
// an OpenTelemetry log bridge or a test handler. Both live in the handler
// alone and read the context given to each record, so they keep working when
// the handler is itself wrapped, for example to log to two places:
//
//	h := slog.NewMultiHandler(logz.NewHandler(jsonToStderr), otelBridge)
//
// Middleware that logs (httpkit, grpckit) passes the request context to the
// logger and never adds trace ids itself, so each record has them once.
//
// # Performance
//
// A record without a span, sensitive keys or LogValuers goes straight to the
// wrapped handler after one scan of its keys. With a span, the ids are
// formatted and the record is copied; with groups open too, the groups are
// rebuilt as values. See BenchmarkLog for the cost against a plain
// slog.JSONHandler.
package logz
