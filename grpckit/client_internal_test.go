package grpckit

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A method whose .proto declares an idempotency level of IDEMPOTENT or
// NO_SIDE_EFFECTS is idempotent without being declared to DialOptions.
func TestProtoIdempotent(t *testing.T) {
	t.Parallel()
	level := func(l descriptorpb.MethodOptions_IdempotencyLevel) *descriptorpb.MethodOptions {
		return &descriptorpb.MethodOptions{IdempotencyLevel: l.Enum()}
	}
	method := func(name string, opts *descriptorpb.MethodOptions) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".idem.v1.Empty"),
			OutputType: proto.String(".idem.v1.Empty"), Options: opts}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:        proto.String("idem/v1/notes.proto"),
		Package:     proto.String("idem.v1"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Empty")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Notes"), Method: []*descriptorpb.MethodDescriptorProto{
			method("Get", level(descriptorpb.MethodOptions_IDEMPOTENT)),
			method("Peek", level(descriptorpb.MethodOptions_NO_SIDE_EFFECTS)),
			method("Put", level(descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN)),
			method("Post", nil),
		}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	c := newClient(&dialConfig{})
	c.files = files
	for method, want := range map[string]bool{
		"/idem.v1.Notes/Get":     true,
		"/idem.v1.Notes/Peek":    true,
		"/idem.v1.Notes/Put":     false,
		"/idem.v1.Notes/Post":    false,
		"/idem.v1.Notes/Missing": false,
		"/idem.v1.Empty/Get":     false, // not a method
		"/idem.v1.Notes":         false,
		"no-slash":               false,
		"/../x":                  false,
	} {
		for range 2 { // the second answer comes from the cache
			if got := c.isIdempotent(method); got != want {
				t.Errorf("isIdempotent(%q) = %v; want %v", method, got, want)
			}
		}
	}
}

// The per-method state is bounded: methods beyond maxMethods are counted
// as "_OTHER" and their idempotency is looked up each time.
func TestClientMethodsBounded(t *testing.T) {
	t.Parallel()
	c := newClient(&dialConfig{})
	for i := range maxMethods + 10 {
		m := "/x.S/M" + strconv.Itoa(i)
		c.tel.methodOpt(m)
		c.isIdempotent(m)
	}
	if n := c.tel.nMethods.Load(); n != maxMethods {
		t.Errorf("metric attribute sets = %d; want %d", n, maxMethods)
	}
	if n := c.nIdem.Load(); n != maxMethods {
		t.Errorf("cached idempotency lookups = %d; want %d", n, maxMethods)
	}
	if c.tel.methodOpt("/x.S/Mnew") != c.tel.otherOpt {
		t.Error("methodOpt(new method beyond the bound) is not the _OTHER set")
	}
}
