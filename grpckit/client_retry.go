package grpckit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/retry"
)

// pushbackKey is the trailer in which a server asks for a retry delay in
// milliseconds (gRFC A6); a negative or malformed value means "do not
// retry".
const pushbackKey = "grpc-retry-pushback-ms"

// dialConfig is what the DialOptions set.
type dialConfig struct {
	telemetry  telemetryConfig
	retry      *retry.Policy
	breaker    *breaker.Policy
	hedge      *HedgePolicy
	idempotent map[string]bool
	idemFuncs  []func(fullMethod string) bool
}

// dialOnly is the type of the client-only options.
type dialOnly func(*dialConfig)

func (o dialOnly) applyDial(c *dialConfig) {
	if o != nil {
		o(c)
	}
}

// WithRetry retries the unary calls of idempotent methods (see
// [Idempotent]) under p, with [retry.Do]: p's attempts, backoff, MaxElapsed
// and Budget apply as documented there, the caller's context bounds
// everything, and no wait starts that would end after the caller's
// deadline: the last error is returned at once instead. Without this
// option no call is retried.
//
// An attempt's error is retried only if, in this order:
//   - it is not the refusal of an open breaker (see [WithBreaker]);
//   - the server did not send a negative or malformed
//     grpc-retry-pushback-ms trailer (gRFC A6: "do not retry");
//   - p.Retryable, if set, says so; otherwise its code is Unavailable, or
//     ResourceExhausted with a delay from the server: a
//     google.rpc.RetryInfo in the status details (as [WithRateLimit]
//     sends) or a grpc-retry-pushback-ms trailer.
//
// A delay from the server (the pushback trailer first, then RetryInfo) is
// waited instead of the backoff ([retry.After]): if it is longer than
// p.MaxDelay the error is returned without retrying. p.Retryable gets the
// attempt's status error (read it with status.Code or status.Convert) on
// the caller's goroutine.
//
// Calls of methods not declared idempotent and streams are never retried;
// a non-idempotent call still counts as a request in p.Budget. Give every
// client of one dependency the same p.Budget. The error returned is the
// last attempt's status error, unchanged, or, if the caller's context ends
// during a wait, the Canceled or DeadlineExceeded status grpc-go returns
// for a context that ended. Panics if p is invalid (see
// [retry.Policy.Validate]).
//
// Do not also enable grpc-go's own retries (a service config with a
// retryPolicy): attempts would multiply. grpc-go's transparent retries
// (of streams the server never saw) stay on, inside each attempt.
func WithRetry(p retry.Policy) DialOption {
	if err := p.Validate(); err != nil {
		panic("grpckit.WithRetry: " + strings.TrimPrefix(err.Error(), "retry: "))
	}
	return dialOnly(func(c *dialConfig) { c.retry = &p })
}

// Idempotent declares the methods, by full name ("/notes.v1.Notes/Get", as
// the generated ..._FullMethodName constants spell it), whose calls may be
// sent more than once: retried ([WithRetry]) and hedged ([WithHedge]).
// Several Idempotent options add up.
//
// gRPC carries no idempotency marker on the wire, so the client decides
// alone. A method is idempotent if this option or [IdempotentFunc] says
// so, or if its .proto says so with
//
//	rpc Get(GetRequest) returns (Note) { option idempotency_level = IDEMPOTENT; }
//
// (or NO_SIDE_EFFECTS), as read from the descriptor that the generated Go
// code registers in protoregistry.GlobalFiles. Any other method is never
// retried or hedged.
func Idempotent(fullMethods ...string) DialOption {
	methods := append([]string(nil), fullMethods...)
	return dialOnly(func(c *dialConfig) {
		if c.idempotent == nil {
			c.idempotent = make(map[string]bool, len(methods))
		}
		for _, m := range methods {
			c.idempotent[m] = true
		}
	})
}

// IdempotentFunc declares idempotent the methods for which f reports true,
// as [Idempotent] does for a list: for instance every method of a
// read-only service, or every method whose name starts with "Get". f gets
// the full method name; it is called on the caller's goroutine, for every
// unary call, and must be fast and safe for concurrent use. A method is
// idempotent if any Idempotent or IdempotentFunc option says so. A nil f
// is ignored.
func IdempotentFunc(f func(fullMethod string) bool) DialOption {
	return dialOnly(func(c *dialConfig) {
		if f != nil {
			c.idemFuncs = append(c.idemFuncs, f)
		}
	})
}

// client is the unary interceptor DialOptions installs.
type client struct {
	retry      *retry.Policy // nil: one try
	budget     *retry.Budget
	retryable  func(error) bool // the user's, replacing the code test
	breakers   *breakerSet      // nil without WithBreaker
	hedge      *HedgePolicy     // nil without WithHedge
	idempotent map[string]bool
	idemFuncs  []func(string) bool
	files      descriptorFinder // where .proto idempotency levels are read
	protoIdem  sync.Map         // full method → bool, from files
	nIdem      atomic.Int32     // entries in protoIdem, at most maxMethods
	tel        *clientInstruments
}

// descriptorFinder is the part of *protoregistry.Files the client uses.
type descriptorFinder interface {
	FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
}

func newClient(c *dialConfig) *client {
	cl := &client{
		hedge:      c.hedge,
		idempotent: c.idempotent,
		idemFuncs:  c.idemFuncs,
		files:      protoregistry.GlobalFiles,
		tel:        newClientInstruments(c.telemetry.mp),
	}
	if c.retry != nil {
		p := *c.retry
		cl.budget, cl.retryable = p.Budget, p.Retryable
		p.Retryable = nil // classify applies it
		cl.retry = &p
	}
	if c.breaker != nil {
		cl.breakers = newBreakerSet(*c.breaker, cl.tel)
	}
	return cl
}

func (c *client) isIdempotent(method string) bool {
	if c.idempotent[method] {
		return true
	}
	for _, f := range c.idemFuncs {
		if f(method) {
			return true
		}
	}
	if v, ok := c.protoIdem.Load(method); ok {
		return v.(bool)
	}
	idem := protoIdempotent(c.files, method)
	if c.nIdem.Add(1) > maxMethods {
		c.nIdem.Add(-1) // too many methods: look them up every time
	} else if _, loaded := c.protoIdem.LoadOrStore(method, idem); loaded {
		c.nIdem.Add(-1)
	}
	return idem
}

// protoIdempotent reports whether the descriptor of a full method
// ("/pkg.Service/Method") in files has the idempotency_level IDEMPOTENT or
// NO_SIDE_EFFECTS.
func protoIdempotent(files descriptorFinder, method string) bool {
	name := strings.TrimPrefix(method, "/")
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return false
	}
	full := protoreflect.FullName(name[:i] + "." + name[i+1:])
	if !full.IsValid() {
		return false
	}
	d, err := files.FindDescriptorByName(full)
	if err != nil {
		return false
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return false
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok {
		return false
	}
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_IDEMPOTENT, descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		return true
	}
	return false
}

// unaryCall is one unary call going through the interceptor.
type unaryCall struct {
	c        *client
	method   string
	req      any
	reply    any
	cc       *grpc.ClientConn
	invoker  grpc.UnaryInvoker
	opts     []grpc.CallOption
	br       *targetBreaker // nil without WithBreaker
	retrying bool           // attempts read the pushback trailer
}

// result is what one attempt, or one hedged try, came to.
type result struct {
	err      error
	delay    time.Duration // from the server, if hasDelay
	hasDelay bool
	noRetry  bool // the server said not to retry
}

// unary is the grpc.UnaryClientInterceptor: Retry(Hedge(Breaker(attempt))).
func (c *client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	u := &unaryCall{c: c, method: method, req: req, reply: reply, cc: cc, invoker: invoker, opts: opts}
	if c.breakers != nil {
		u.br = c.breakers.get(cc.Target())
	}
	idem := (c.retry != nil || c.hedge != nil) && c.isIdempotent(method)
	if c.retry == nil || !idem {
		if c.budget != nil {
			c.budget.Deposit()
		}
		if idem && c.hedge != nil {
			return u.hedged(ctx).err
		}
		return u.attempt(ctx, reply, opts).err
	}
	u.retrying = true
	tries := 0
	last, err := retry.DoValue(ctx, *c.retry, func(ctx context.Context) (error, error) {
		tries++
		if tries > 1 {
			c.tel.retried(ctx, method)
		}
		var r result
		if c.hedge != nil {
			r = u.hedged(ctx)
		} else {
			r = u.attempt(ctx, reply, opts)
		}
		decorated, _ := c.classify(ctx, r)
		return r.err, decorated
	})
	if err == nil {
		return nil
	}
	if last != nil && errors.Is(err, last) {
		return last // the last attempt's error, without retry's wrappers
	}
	return status.FromContextError(err).Err() // ctx ended during a wait
}

// classify decides whether r's error is worth another try. It returns the
// error as retry.Do is to see it (marked Permanent, or After the server's
// delay) and whether it is retryable.
func (c *client) classify(ctx context.Context, r result) (error, bool) {
	err := r.err
	if err == nil {
		return nil, false
	}
	if ctx.Err() != nil || r.noRetry || errors.Is(err, breaker.ErrOpen) {
		return retry.Permanent(err), false
	}
	delay, hasDelay := r.delay, r.hasDelay
	if !hasDelay {
		delay, hasDelay = retryInfo(err)
	}
	var ok bool
	if c.retryable != nil {
		ok = c.retryable(err)
	} else {
		code := status.Code(err)
		ok = code == codes.Unavailable || (code == codes.ResourceExhausted && hasDelay)
	}
	switch {
	case !ok:
		return retry.Permanent(err), false
	case hasDelay:
		return retry.After(delay, err), true
	}
	return err, true
}

// retryInfo returns the delay of a google.rpc.RetryInfo in err's status
// details, if there is one.
func retryInfo(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Proto().GetDetails() {
		if d.MessageIs((*errdetails.RetryInfo)(nil)) {
			var ri errdetails.RetryInfo
			if d.UnmarshalTo(&ri) == nil && ri.GetRetryDelay().IsValid() {
				return max(ri.GetRetryDelay().AsDuration(), 0), true
			}
		}
	}
	return 0, false
}

// pushback reads the grpc-retry-pushback-ms trailer into r.
func (r *result) pushback(tr metadata.MD) {
	v := tr.Get(pushbackKey)
	if len(v) == 0 {
		return
	}
	ms, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || ms < 0 {
		r.noRetry = true
		return
	}
	r.delay, r.hasDelay = time.Duration(min(ms, int64(time.Duration(1<<63-1)/time.Millisecond)))*time.Millisecond, true
}

// attempt sends one attempt into reply, guarded by the target's breaker.
// The breaker's slot is released by one deferred call on every path: a
// panic in the invoker (an interceptor of yours) counts as a failure and
// goes on to the caller.
func (u *unaryCall) attempt(ctx context.Context, reply any, opts []grpc.CallOption) result {
	if u.br == nil {
		return u.send(ctx, reply, opts)
	}
	done, err := u.br.b.Allow()
	if err != nil {
		u.c.tel.rejected(ctx, u.br)
		return result{err: u.br.openErr}
	}
	o := breaker.Failure // if the invoker panics
	defer func() { done(o) }()
	r := u.send(ctx, reply, opts)
	o = u.c.breakers.outcome(ctx, r.err)
	return r
}

// send invokes the method once; when the call may be retried, it also reads
// the pushback trailer.
func (u *unaryCall) send(ctx context.Context, reply any, opts []grpc.CallOption) (r result) {
	if !u.retrying {
		r.err = u.invoker(ctx, u.method, u.req, reply, u.cc, opts...)
		return r
	}
	var tr metadata.MD
	all := make([]grpc.CallOption, len(opts), len(opts)+1)
	copy(all, opts)
	r.err = u.invoker(ctx, u.method, u.req, reply, u.cc, append(all, grpc.Trailer(&tr))...)
	if r.err != nil {
		r.pushback(tr)
	}
	return r
}
