package grpckit_test

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
)

func ExampleProblemFromStatus() {
	// err as returned by a generated client, e.g. notes.Get(ctx, req).
	err := status.Error(codes.NotFound, "no note named todo")

	p := grpckit.ProblemFromStatus(err) // answer with problem.Write(w, r, p)
	fmt.Println(p.Status, p.GRPCCode(), p.Detail)
	fmt.Println(status.Code(p)) // the status stays reachable
	// Output:
	// 404 NOT_FOUND no note named todo
	// NotFound
}
