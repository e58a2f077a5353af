package grpckit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/lifecycle"
)

// notesMethod is a method outside the health service: scriptedHealth
// registered under another service name (see registerNotes).
const notesMethod = "/test.Notes/Check"

// registerNotes registers scriptedHealth as the service test.Notes too, so
// tests have a method that is not exempt from rate limiting by default.
func registerNotes(s *grpc.Server) {
	desc := healthpb.Health_ServiceDesc
	desc.ServiceName = "test.Notes"
	s.RegisterService(&desc, scriptedHealth{})
	healthpb.RegisterHealthServer(s, scriptedHealth{})
}

// startTCP serves a new grpc.Server built with sopts on a loopback TCP
// listener and returns its address; cleanup stops it.
func startTCP(t *testing.T, sopts []grpc.ServerOption, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(sopts...)
	register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// h2 is a raw HTTP/2 client connection, for what grpc's own client never
// does: streams beyond the advertised limit, rapid resets.
type h2 struct {
	t    *testing.T
	c    net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func dialH2(t *testing.T, addr string) *h2 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A failsafe, not a timing assumption: a broken server fails the test
	// instead of hanging it.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	h := &h2{t: t, c: c, fr: http2.NewFramer(c, c)}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.hbuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

// settings reads frames until the server's SETTINGS and acknowledges it.
func (h *h2) settings() map[http2.SettingID]uint32 {
	h.t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("reading SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			got := map[http2.SettingID]uint32{}
			_ = sf.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
			if err := h.fr.WriteSettingsAck(); err != nil {
				h.t.Fatal(err)
			}
			return got
		}
	}
}

// open sends the HEADERS of a gRPC call of method on stream id, without
// ending the stream (a half-open call: the server waits for its message).
func (h *h2) open(id uint32, method string) {
	h.t.Helper()
	h.hbuf.Reset()
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", "localhost"},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.hbuf.Bytes(), EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
}

// sync sends a PING and reads frames until its ACK, returning the frames
// read before it. The server handles a connection's frames in order, so
// every frame sent before the PING has been processed by then.
func (h *h2) sync() (resets map[http2.ErrCode]int, goaway bool) {
	h.t.Helper()
	data := [8]byte{'c', 'h', 'a', 's', 's', 'i', 's'}
	if err := h.fr.WritePing(false, data); err != nil {
		h.t.Fatal(err)
	}
	resets = map[http2.ErrCode]int{}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("reading until the PING ack: %v", err)
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if f.IsAck() && f.Data == data {
				return resets, goaway
			}
		case *http2.RSTStreamFrame:
			resets[f.ErrCode]++
		case *http2.GoAwayFrame:
			goaway = true
		}
	}
}

// TestTransportDefaults: the server advertises the default limits, and a
// grpc option after ServerOptions' overrides one.
func TestTransportDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		extra   []grpc.ServerOption
		streams uint32
	}{
		{"defaults", nil, grpckit.DefaultMaxConcurrentStreams},
		{"overridden", []grpc.ServerOption{grpc.MaxConcurrentStreams(7)}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sopts := append(grpckit.ServerOptions(slog.New(slog.DiscardHandler)), tt.extra...)
			got := dialH2(t, startTCP(t, sopts, registerNotes)).settings()
			if got[http2.SettingMaxConcurrentStreams] != tt.streams || got[http2.SettingMaxHeaderListSize] != grpckit.DefaultMaxHeaderListSize {
				t.Errorf("SETTINGS = %v; want MAX_CONCURRENT_STREAMS %d, MAX_HEADER_LIST_SIZE %d", got, tt.streams, grpckit.DefaultMaxHeaderListSize)
			}
		})
	}
}

// TestTransportStreamLimit: half-open streams beyond MaxConcurrentStreams
// on one connection are refused, not accepted without bound.
func TestTransportStreamLimit(t *testing.T) {
	t.Parallel()
	const limit, extra = 20, 30
	sopts := append(grpckit.ServerOptions(slog.New(slog.DiscardHandler)), grpc.MaxConcurrentStreams(limit))
	h := dialH2(t, startTCP(t, sopts, registerNotes))
	h.settings()
	for i := range limit + extra {
		h.open(uint32(2*i+1), notesMethod)
	}
	resets, _ := h.sync()
	if resets[http2.ErrCodeRefusedStream] != extra {
		t.Errorf("RST_STREAM frames = %v; want %d REFUSED_STREAM", resets, extra)
	}
}

// countingLimiter wraps a limiter and counts its decisions.
type countingLimiter struct {
	guard.Limiter
	n atomic.Int64
}

func (l *countingLimiter) Allow(ctx context.Context, key string) (guard.Decision, error) {
	l.n.Add(1)
	return l.Limiter.Allow(ctx, key)
}

// TestRateLimitChargesResetStreams: streams reset as soon as they are
// opened (HTTP/2 rapid reset) are charged to the client's key, so the
// client's next real call is refused, and health probes stay exempt.
func TestRateLimitChargesResetStreams(t *testing.T) {
	t.Parallel()
	const burst, resets = 5, 100
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	limiter := &countingLimiter{Limiter: guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Hour, Burst: burst}, guard.WithClock(clock.Now))}
	rec := newRecorder()
	addr := startTCP(t, grpckit.ServerOptions(slog.New(rec),
		grpckit.WithRateLimit(grpckit.RateLimitConfig{Limiter: limiter, Key: grpckit.KeyFromPeer()})), registerNotes)

	h := dialH2(t, addr)
	h.settings()
	for i := range resets {
		id := uint32(2*i + 1)
		h.open(id, notesMethod)
		if err := h.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			t.Fatal(err)
		}
	}
	h.sync()
	if n := limiter.n.Load(); n != resets {
		t.Fatalf("limiter decided %d streams; want all %d reset streams charged", n, resets)
	}
	if n := len(rec.find("grpc request")); n != resets-burst {
		t.Errorf("access log lines = %d; want one per refused stream (%d)", n, resets-burst)
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var resp healthpb.HealthCheckResponse
	err = conn.Invoke(t.Context(), notesMethod, &healthpb.HealthCheckRequest{Service: bOK}, &resp)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("call after the burst = %v; want ResourceExhausted", err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: bOK}); err != nil {
		t.Errorf("health Check after the burst = %v; want OK (exempt by default)", err)
	}
	if n := limiter.n.Load(); n != resets+1 {
		t.Errorf("limiter decided %d calls; want %d (the health check is not charged)", n, resets+1)
	}
}

// acceptSignal is a listener that reports each accepted connection.
type acceptSignal struct {
	net.Listener
	accepted chan struct{}
}

func (l *acceptSignal) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	return c, err
}

// TestServePrefacelessConnection: a connection that never sends the
// HTTP/2 preface does not hold Serve past ShutdownTimeout, even with a
// handshake timeout of an hour: the forced stop closes it.
func TestServePrefacelessConnection(t *testing.T) {
	t.Parallel()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &acceptSignal{Listener: tcp, accepted: make(chan struct{}, 1)}
	srv := grpc.NewServer(append(grpckit.ServerOptions(slog.New(slog.DiscardHandler)), grpc.ConnectionTimeout(time.Hour))...)
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- grpckit.Serve(srv, lis, lifecycle.ShutdownTimeout(time.Millisecond))(ctx) }()

	c, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-lis.accepted
	// Accept returning is not enough: grpc counts the connection only once
	// its goroutine runs, which first sends the server's SETTINGS. Stopping
	// before that would find no connection to wait for.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("reading the server's SETTINGS: %v", err)
	}
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v; want the forced stop's DeadlineExceeded", err)
		}
	case <-time.After(30 * time.Second): // failsafe; the bound under test is 1ms + 1s
		t.Fatal("Serve held by a connection without preface")
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	// The server sent its SETTINGS; then the connection must end.
	if _, err := io.Copy(io.Discard, c); err != nil && strings.Contains(err.Error(), "timeout") {
		t.Errorf("reading the preface-less connection = %v; want it closed by the server", err)
	}
}

// TestWatchLimits: Watch refuses absurd service names, and a Watch ended
// by Shutdown is logged below Error.
func TestWatchLimits(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	var h *grpckit.Health
	conn := startServer(t, grpckit.ServerOptions(slog.New(rec)), func(s *grpc.Server) {
		h = grpckit.RegisterHealth(s, health.New())
	})
	client := healthpb.NewHealthClient(conn)

	stream, err := client.Watch(t.Context(), &healthpb.HealthCheckRequest{Service: strings.Repeat("n", 257)})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Watch(257-byte name) = %v; want InvalidArgument", err)
	}

	stream, err = client.Watch(t.Context(), &healthpb.HealthCheckRequest{Service: strings.Repeat("n", 256)})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("Watch(256-byte name) first message = %v, %v; want SERVICE_UNKNOWN", m, err)
	}
	h.Shutdown()
	for err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Watch after Shutdown = %v; want Unavailable", err)
	}
	lines := rec.waitFor(t, "grpc request", 2)
	if end := lines[1]; end.attrs["code"].String() != "Unavailable" || end.level != slog.LevelInfo {
		t.Errorf("access log of the Watch ended by Shutdown = %v %v; want INFO Unavailable", end.level, end.attrs["code"])
	}
}
