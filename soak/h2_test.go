package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

func TestGRPCMessage(t *testing.T) {
	t.Parallel()
	if got, want := healthRequest(""), []byte{0, 0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("healthRequest(\"\") = %v; want %v", got, want)
	}
	// Field 1 (service), wire type 2: tag 0x0a, length 3.
	if got, want := healthRequest("abc"), []byte{0, 0, 0, 0, 5, 0x0a, 3, 'a', 'b', 'c'}; !bytes.Equal(got, want) {
		t.Errorf("healthRequest(\"abc\") = %v; want %v", got, want)
	}
	big := grpcMessage(make([]byte, 70000))
	if len(big) != 70005 || !bytes.Equal(big[:5], []byte{0, 0, 1, 0x11, 0x70}) {
		t.Errorf("grpcMessage(70000 bytes) prefix = %v, len %d; want [0 0 1 17 112], 70005", big[:5], len(big))
	}
}

func TestH2EncoderHeaders(t *testing.T) {
	t.Parallel()
	e := newH2Encoder()
	dec := hpack.NewDecoder(4096, nil)
	want := []string{":method=POST", ":scheme=http", ":path=" + healthCheck, ":authority=soak", "content-type=application/grpc", "te=trailers"}
	var sizes []int
	for i := range 3 {
		block := e.grpcHeaders(healthCheck)
		sizes = append(sizes, len(block))
		fields, err := dec.DecodeFull(block)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		var got []string
		for _, f := range fields {
			got = append(got, f.Name+"="+f.Value)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("block %d = %v; want %v", i, got, want)
		}
	}
	// After the first block every field is indexed in the dynamic table.
	if sizes[1] >= sizes[0] || sizes[2] != sizes[1] || sizes[1] > 10 {
		t.Errorf("block sizes = %v; want the later ones indexed (a few bytes)", sizes)
	}
}

// serverFrames writes what a server might send and returns the bytes.
func serverFrames(t *testing.T) []byte {
	t.Helper()
	var buf, hbuf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hbuf)
	trailers := func(code string) []byte {
		hbuf.Reset()
		for _, f := range [][2]string{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", code}} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		return append([]byte(nil), hbuf.Bytes()...)
	}
	for _, err := range []error{
		fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250}, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 65536}),
		fr.WriteSettingsAck(),
		fr.WriteRSTStream(1, http2.ErrCodeRefusedStream),
		fr.WriteRSTStream(3, http2.ErrCodeRefusedStream),
		// A denial: trailers-only answer, then RST_STREAM(NO_ERROR).
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: trailers("8"), EndHeaders: true, EndStream: true}),
		fr.WriteRSTStream(5, http2.ErrCodeNo),
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: trailers("14"), EndHeaders: true, EndStream: true}),
		fr.WriteData(9, false, []byte("12345")),
		fr.WriteGoAway(9, http2.ErrCodeEnhanceYourCalm, nil),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestFrameTally(t *testing.T) {
	t.Parallel()
	fr := http2.NewFramer(nil, bytes.NewReader(serverFrames(t)))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	tally := newFrameTally()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		tally.add(f)
	}
	if v, ok := tally.maxStreams(); !ok || v != 250 {
		t.Errorf("maxStreams = %d, %v; want 250, true", v, ok)
	}
	if n := tally.closedCount(); n != 4 {
		t.Errorf("closedCount = %d; want 4 (streams 1, 3, 5, 7; 9 is open)", n)
	}
	if n := tally.rstCount(http2.ErrCodeRefusedStream); n != 2 {
		t.Errorf("rstCount(REFUSED_STREAM) = %d; want 2", n)
	}
	if n := tally.statusCount("8"); n != 1 {
		t.Errorf("statusCount(8) = %d; want 1", n)
	}
	want := "9 frames, RST_STREAM NO_ERROR:1, RST_STREAM REFUSED_STREAM:2, grpc-status 8:1, grpc-status 14:1, GOAWAY ENHANCE_YOUR_CALM"
	if got := tally.summary(); got != want {
		t.Errorf("summary = %q;\nwant %q", got, want)
	}
	if empty := newFrameTally(); empty.closedCount() != 0 || empty.summary() != "0 frames" {
		t.Errorf("empty tally: closed %d, summary %q", empty.closedCount(), empty.summary())
	}
	if _, ok := newFrameTally().maxStreams(); ok {
		t.Error("maxStreams of an empty tally reports a value")
	}
}

// testServer serves the standard health service on loopback with opts,
// counting the streams the tap saw; deny makes the tap refuse every
// stream (ResourceExhausted).
func testServer(t *testing.T, deny bool, opts ...grpc.ServerOption) (addr string, tapped *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tapped = new(atomic.Int64)
	opts = append(opts, grpc.InTapHandle(func(ctx context.Context, _ *tap.Info) (context.Context, error) {
		tapped.Add(1)
		if deny {
			return ctx, status.Error(codes.ResourceExhausted, "denied")
		}
		return ctx, nil
	}))
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String(), tapped
}

func TestH2ConnHalfOpenStreams(t *testing.T) {
	t.Parallel()
	const limit, n = 5, 40
	addr, tapped := testServer(t, false, grpc.MaxConcurrentStreams(limit))
	h, err := dialH2(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	sent, err := h.openStreams(t.Context(), healthWatch, n, false, time.Time{})
	if err != nil || sent != n {
		t.Fatalf("openStreams = %d, %v; want %d, nil", sent, err, n)
	}
	if err := h.sync(t.Context(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, ok := h.tally.maxStreams(); !ok || v != limit {
		t.Errorf("maxStreams = %d, %v; want %d", v, ok, limit)
	}
	if got := h.tally.rstCount(http2.ErrCodeRefusedStream); got != n-limit {
		t.Errorf("REFUSED_STREAM = %d; want %d (%s)", got, n-limit, h.tally.summary())
	}
	if held := h.sent() - h.tally.closedCount(); held != limit {
		t.Errorf("held open = %d; want %d", held, limit)
	}
	if got := tapped.Load(); got != limit {
		t.Errorf("tap saw %d streams; want %d (refused streams never reach it)", got, limit)
	}
}

func TestH2ConnRapidReset(t *testing.T) {
	t.Parallel()
	for _, deny := range []bool{false, true} {
		addr, tapped := testServer(t, deny, grpc.MaxConcurrentStreams(5))
		h, err := dialH2(t.Context(), addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		const n = 600 // more than a batch, more than the stream limit
		sent, err := h.openStreams(t.Context(), healthCheck, n, true, time.Time{})
		if err != nil || sent != n {
			t.Fatalf("deny=%v: openStreams = %d, %v; want %d, nil", deny, sent, err, n)
		}
		if err := h.sync(t.Context(), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := tapped.Load(); got != n {
			t.Errorf("deny=%v: tap saw %d streams; want every reset stream (%d)", deny, got, n)
		}
		wantDenied := 0
		if deny {
			wantDenied = n
		}
		if got := h.tally.statusCount("8"); got != wantDenied {
			t.Errorf("deny=%v: ResourceExhausted answers = %d; want %d (%s)", deny, got, wantDenied, h.tally.summary())
		}
		if got := h.tally.rstCount(http2.ErrCodeRefusedStream); got != 0 {
			t.Errorf("deny=%v: REFUSED_STREAM = %d; want 0 (reset streams free their slot)", deny, got)
		}
		h.close()
	}
}

func TestH2ConnStopsAtDeadline(t *testing.T) {
	t.Parallel()
	addr, _ := testServer(t, true)
	h, err := dialH2(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	sent, err := h.openStreams(t.Context(), healthCheck, 1_000_000, true, time.Now())
	if err != nil || sent != 0 {
		t.Errorf("openStreams past its deadline = %d, %v; want 0, nil", sent, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if sent, _ := h.openStreams(ctx, healthCheck, 10, true, time.Time{}); sent != 0 {
		t.Errorf("openStreams with ctx done = %d; want 0", sent)
	}
}

func TestHoldUnread(t *testing.T) {
	t.Parallel()
	addr, tapped := testServer(t, false)
	c, err := holdUnread(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := tapped.Load(); got != 1 {
		t.Errorf("tap saw %d streams by the PING acknowledgement; want the Watch", got)
	}

	denying, _ := testServer(t, true)
	if c, err := holdUnread(t.Context(), denying); err == nil || !strings.Contains(err.Error(), "grpc-status 8") {
		if c != nil {
			c.Close()
		}
		t.Errorf("holdUnread on a server that refuses the Watch = %v; want an error naming the status", err)
	}
}

func TestRunLegit(t *testing.T) {
	t.Parallel()
	addr, _ := testServer(t, false)
	conn, err := newLegitClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const dur = 200 * time.Millisecond
	st := runLegit(t.Context(), healthpb.NewHealthClient(conn), dur)
	// Paced: at most one call per worker per interval, plus the first.
	most := uint64(legitWorkers*(dur/legitInterval) + legitWorkers)
	if st.errs != 0 || st.ok == 0 || st.ok > most {
		t.Errorf("runLegit = %d ok, %d errors (%s); want 1 to %d ok, no error", st.ok, st.errs, st.errSample, most)
	}
	if st.lat.count() != st.ok || st.rate() <= 0 {
		t.Errorf("latencies %d for %d calls, rate %.0f", st.lat.count(), st.ok, st.rate())
	}
	if (&legitStats{}).rate() != 0 {
		t.Error("rate of an empty run is not 0")
	}
}
