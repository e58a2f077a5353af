package problem

import (
	"net/http"
	"strconv"
)

// Code is a canonical error code with the same numbering as gRPC's
// codes.Code, so a Code converts to a gRPC code with a plain conversion.
// The zero Code is OK, which an *Error never reports: [Error.GRPCCode] derives
// a code from the HTTP status when Code is zero.
type Code uint32

// The 17 canonical codes, numbered as in google.rpc.Code.
const (
	CodeOK                 Code = 0
	CodeCanceled           Code = 1
	CodeUnknown            Code = 2
	CodeInvalidArgument    Code = 3
	CodeDeadlineExceeded   Code = 4
	CodeNotFound           Code = 5
	CodeAlreadyExists      Code = 6
	CodePermissionDenied   Code = 7
	CodeResourceExhausted  Code = 8
	CodeFailedPrecondition Code = 9
	CodeAborted            Code = 10
	CodeOutOfRange         Code = 11
	CodeUnimplemented      Code = 12
	CodeInternal           Code = 13
	CodeUnavailable        Code = 14
	CodeDataLoss           Code = 15
	CodeUnauthenticated    Code = 16
)

var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// String returns the canonical upper-case name ("NOT_FOUND"), or
// "CODE(n)" for a value outside the 17 canonical codes.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// HTTPStatus returns the HTTP status conventionally used for c (the mapping
// of google.rpc.Code's documentation and grpc-gateway). Codes outside the
// canonical set map to 500; CodeOK maps to 200.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeOK:
		return http.StatusOK
	case CodeCanceled:
		return StatusClientClosedRequest
	case CodeInvalidArgument, CodeFailedPrecondition, CodeOutOfRange:
		return http.StatusBadRequest
	case CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case CodeNotFound:
		return http.StatusNotFound
	case CodeAlreadyExists, CodeAborted:
		return http.StatusConflict
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeResourceExhausted:
		return http.StatusTooManyRequests
	case CodeUnimplemented:
		return http.StatusNotImplemented
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default: // CodeUnknown, Internal, CodeDataLoss and non-canonical values
		return http.StatusInternalServerError
	}
}

// CodeForStatus returns the canonical code for an HTTP status. Statuses
// without a conventional code map to CodeUnknown (4xx) or Internal (5xx and
// anything else).
func CodeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType:
		return CodeInvalidArgument
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodePermissionDenied
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeAborted
	case http.StatusPreconditionFailed:
		return CodeFailedPrecondition
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return CodeResourceExhausted
	case http.StatusRequestedRangeNotSatisfiable:
		return CodeOutOfRange
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return CodeDeadlineExceeded
	case StatusClientClosedRequest:
		return CodeCanceled
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return CodeUnimplemented
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	if status >= 400 && status < 500 {
		return CodeUnknown
	}
	return CodeInternal
}
