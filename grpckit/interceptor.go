package grpckit

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/chassis-go/chassis/internal/panicval"
)

// serverMW holds what the chassis interceptors share.
type serverMW struct {
	logger *slog.Logger
	quiet  map[string]bool // methods without Info-level access log lines
}

// unary is AccessLog(StatusMapping(Recovery(handler))).
func (s *serverMW) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := s.callUnary(ctx, req, info, handler)
	if err == nil {
		releaseShed(ctx, codes.OK)
		s.logCall(ctx, info.FullMethod, start, codes.OK, nil)
		return resp, nil
	}
	code, mapped := toStatus(err)
	releaseShed(ctx, code)
	s.logCall(ctx, info.FullMethod, start, code, err)
	return nil, mapped
}

// callUnary is Recovery(handler).
func (s *serverMW) callUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, s.recovered(ctx, info.FullMethod, v)
		}
	}()
	return handler(ctx, req)
}

// stream is AccessLog(StatusMapping(Recovery(handler))).
func (s *serverMW) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx := ss.Context()
	err := s.callStream(ctx, srv, ss, info, handler)
	if err == nil {
		releaseShed(ctx, codes.OK)
		s.logCall(ctx, info.FullMethod, start, codes.OK, nil)
		return nil
	}
	code, mapped := toStatus(err)
	releaseShed(ctx, code)
	s.logCall(ctx, info.FullMethod, start, code, err)
	return mapped
}

// callStream is Recovery(handler).
func (s *serverMW) callStream(ctx context.Context, srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = s.recovered(ctx, info.FullMethod, v)
		}
	}()
	return handler(srv, ss)
}

// panicError is what Recovery returns for a recovered panic: StatusMapping
// turns it into Internal and AccessLog adds panic=true.
type panicError struct{ value any }

// Error returns one bounded line: the value's text is cut at about 1 KiB
// and never formatted by recursing into the value.
func (e *panicError) Error() string { return "grpckit: handler panic: " + panicval.String(e.value) }

// recovered logs a recovered panic with its stack and returns the error
// that stands for it.
func (s *serverMW) recovered(ctx context.Context, method string, v any) error {
	stack := debug.Stack()
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs,
		slog.String("panic", panicval.String(v)),
		slog.String("method", method))
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	attrs = append(attrs, slog.String("stack", string(stack)))
	s.logger.LogAttrs(ctx, slog.LevelError, "grpc handler panic", attrs...)
	return &panicError{value: v}
}

// serverFault reports whether code means the server failed, the codes
// OpenTelemetry's semantic conventions mark as errors on server spans.
func serverFault(code codes.Code) bool {
	switch code {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented,
		codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// logCall writes the access log line of one call. err is the error before
// mapping (nil for OK): it is logged, never sent.
func (s *serverMW) logCall(ctx context.Context, method string, start time.Time, code codes.Code, err error) {
	_, panicked := err.(*panicError)
	level := slog.LevelInfo
	if (panicked || serverFault(code)) && err != errWatchShutdown {
		level = slog.LevelError
	} else if s.quiet[method] {
		return
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs,
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)))
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if panicked {
		attrs = append(attrs, slog.Bool("panic", true))
	}
	s.logger.LogAttrs(ctx, level, "grpc request", attrs...)
}
