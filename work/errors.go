package work

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chassis-go/chassis/internal/panicval"
)

// ErrNoTasks is returned by [Race] when it is given no tasks: there is no
// winner, and a zero value would look like one.
var ErrNoTasks = errors.New("work: no tasks")

// ItemError reports the failure of one item: Index is its position in the
// input (items, tasks, or the order in which [Stream] received it) and Err is
// what fn returned, a *[PanicError], or the context error for an item that was
// never started because the context was done. errors.Is and errors.As see
// Err through Unwrap.
type ItemError struct {
	Index int
	Err   error
}

// Error returns "work: item <Index>: <Err>".
func (e *ItemError) Error() string {
	return fmt.Sprintf("work: item %d: %v", e.Index, e.Err)
}

// Unwrap returns Err.
func (e *ItemError) Unwrap() error { return e.Err }

// Errors is returned by [Map], [All] and [Race] when one or more items
// failed and FailFast is not set. Errs holds one *[ItemError] per failed item,
// sorted by Index, and every index that is not in Errs succeeded. errors.Is
// and errors.As look through every item error (Unwrap() []error), so
// errors.Is(err, context.Canceled) reports whether any item was cancelled.
type Errors struct {
	Errs []*ItemError
}

// maxListed bounds the number of item errors spelled out by Errors.Error.
const maxListed = 3

// Error returns "work: <n> items failed: " followed by the first three item
// errors and, if there are more, how many were left out.
func (e *Errors) Error() string {
	var b strings.Builder
	if len(e.Errs) == 1 {
		b.WriteString("work: 1 item failed: ")
	} else {
		fmt.Fprintf(&b, "work: %d items failed: ", len(e.Errs))
	}
	for i, ie := range e.Errs {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Errs)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "item %d: %v", ie.Index, ie.Err)
	}
	return b.String()
}

// Unwrap returns the item errors, so that errors.Is and errors.As examine
// each of them.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, ie := range e.Errs {
		errs[i] = ie
	}
	return errs
}

// PanicError is the error of an item whose function panicked: the panic is
// recovered on the worker goroutine so that it cannot crash the process, and
// reported as that item's failure. Value is the value passed to panic and
// Stack the stack of the panicking goroutine, as [runtime/debug.Stack]
// formats it.
//
// Unlike errgroup, which lets a panic kill the process, work recovers on
// purpose: a service must not die because one item of a batch hit a bug.
// Log Stack; do not retry the item blindly.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "work: panic: <Value>" on one line, without the stack. The
// value's text is bounded to about 1 KiB, and a value that could recurse
// (a map that contains itself) is named by its type: see internal/panicval.
func (e *PanicError) Error() string {
	return "work: panic: " + panicval.String(e.Value)
}

// Unwrap returns Value if it is an error (panic(err)), so that errors.Is
// and errors.As see it, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
