package grpckit

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/problem"
)

// internalMessage is the status message of every error that is neither a
// problem, a status nor a context error: their text stays in the log.
const internalMessage = "internal error"

// toStatus returns the code a handler's err is sent with, and the error to
// return to grpc for it. err is not nil.
func toStatus(err error) (codes.Code, error) {
	if p, ok := errors.AsType[*problem.Error](err); ok {
		code := codes.Code(p.GRPCCode())
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		return code, status.Error(code, msg)
	}
	if st, ok := status.FromError(err); ok {
		return st.Code(), err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
	case errors.Is(err, context.Canceled):
		return codes.Canceled, status.Error(codes.Canceled, context.Canceled.Error())
	}
	return codes.Internal, status.Error(codes.Internal, internalMessage)
}

// ProblemFromStatus converts the error of a gRPC call into a *problem.Error,
// so that a service can answer its own clients with what an upstream said:
//
//   - nil for a nil err;
//   - the nearest *problem.Error in err's chain, as is;
//   - for a gRPC status error (status.FromError): a problem whose Code is the
//     status code, whose Status is [problem.Code.HTTPStatus] of it (NotFound
//     is 404, Unavailable 503, Canceled 499 ...), whose Detail is the status
//     message and which wraps err, so errors.Is and status.Code still see it;
//   - otherwise [problem.From](err): 504 for a deadline, 499 for a
//     cancellation, a 500 with no detail for anything else.
//
// The status message is sent on by [problem.Write] as the Detail: if the
// upstream's messages must not reach your clients, replace it with
// WithDetail. Status details (RetryInfo and so on) are not converted; read
// them from the wrapped error with status.Convert.
func ProblemFromStatus(err error) *problem.Error {
	if err == nil {
		return nil
	}
	if p, ok := errors.AsType[*problem.Error](err); ok {
		return p
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() == codes.OK {
		return problem.From(err)
	}
	code := problem.Code(st.Code())
	return problem.New(code.HTTPStatus(), st.Message()).WithCode(code).Wrap(err)
}
