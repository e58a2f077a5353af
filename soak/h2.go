package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// The health methods the gRPC phase calls: the only service the reference
// service registers on its gRPC port.
const (
	healthCheck = "/grpc.health.v1.Health/Check"
	healthWatch = "/grpc.health.v1.Health/Watch"
)

// h2WriteTimeout bounds every write of a raw HTTP/2 connection: a
// failsafe, so that a server that stops reading fails the soak instead of
// hanging it.
const h2WriteTimeout = 10 * time.Second

// h2Encoder builds the header blocks of gRPC calls. The HPACK encoder keeps
// its dynamic table across calls, as one connection's must: after the first
// HEADERS, every field is an index of a byte or two.
type h2Encoder struct {
	buf bytes.Buffer
	enc *hpack.Encoder
}

func newH2Encoder() *h2Encoder {
	e := &h2Encoder{}
	e.enc = hpack.NewEncoder(&e.buf)
	return e
}

// grpcHeaders returns the header block of a gRPC call of method (a full
// method name such as "/grpc.health.v1.Health/Check"). The returned slice
// is valid until the next call.
func (e *h2Encoder) grpcHeaders(method string) []byte {
	e.buf.Reset()
	for _, f := range [...][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", "soak"},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		_ = e.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return e.buf.Bytes()
}

// grpcMessage frames one gRPC message: a zero compression flag, the
// big-endian length and the payload.
func grpcMessage(payload []byte) []byte {
	out := make([]byte, 5+len(payload))
	binary.BigEndian.PutUint32(out[1:5], uint32(len(payload)))
	copy(out[5:], payload)
	return out
}

// healthRequest is the framed HealthCheckRequest for service ("" is the
// server as a whole).
func healthRequest(service string) []byte {
	b, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		panic(err) // a string field cannot fail to marshal
	}
	return grpcMessage(b)
}

// frameTally counts what a server sent on one raw HTTP/2 connection. Safe
// for concurrent use.
type frameTally struct {
	mu         sync.Mutex
	settings   map[http2.SettingID]uint32 // the server's first SETTINGS
	rst        map[http2.ErrCode]int      // RST_STREAM frames by error code
	grpcStatus map[string]int             // grpc-status of the trailers (or trailers-only answers)
	closed     map[uint32]struct{}        // streams the server ended (RST_STREAM or END_STREAM)
	goaway     bool
	goawayCode http2.ErrCode
	dataBytes  int
	frames     int
}

func newFrameTally() *frameTally {
	return &frameTally{
		rst:        make(map[http2.ErrCode]int),
		grpcStatus: make(map[string]int),
		closed:     make(map[uint32]struct{}),
	}
}

// add records one frame read from the server.
func (t *frameTally) add(f http2.Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frames++
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() && t.settings == nil {
			t.settings = make(map[http2.SettingID]uint32)
			_ = f.ForeachSetting(func(s http2.Setting) error { t.settings[s.ID] = s.Val; return nil })
		}
	case *http2.RSTStreamFrame:
		t.rst[f.ErrCode]++
		t.closed[f.StreamID] = struct{}{}
	case *http2.MetaHeadersFrame:
		if st := f.PseudoValue("status"); st != "" && st != "200" {
			t.grpcStatus["http "+st]++
		}
		for _, hf := range f.RegularFields() {
			if hf.Name == "grpc-status" {
				t.grpcStatus[hf.Value]++
			}
		}
		if f.StreamEnded() {
			t.closed[f.StreamID] = struct{}{}
		}
	case *http2.DataFrame:
		t.dataBytes += len(f.Data())
		if f.StreamEnded() {
			t.closed[f.StreamID] = struct{}{}
		}
	case *http2.GoAwayFrame:
		t.goaway, t.goawayCode = true, f.ErrCode
	}
}

// maxStreams returns the SETTINGS_MAX_CONCURRENT_STREAMS the server
// advertised, and whether it did.
func (t *frameTally) maxStreams() (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.settings[http2.SettingMaxConcurrentStreams]
	return v, ok
}

// closedCount returns how many distinct streams the server ended.
func (t *frameTally) closedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.closed)
}

// rstCount returns the RST_STREAM frames with code.
func (t *frameTally) rstCount(code http2.ErrCode) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rst[code]
}

// statusCount returns how many trailers carried grpc-status code (a
// decimal, "8" for ResourceExhausted).
func (t *frameTally) statusCount(code string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.grpcStatus[code]
}

// summary prints the tally for the report: RST_STREAM codes, grpc-status
// codes, GOAWAY.
func (t *frameTally) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d frames", t.frames)
	for _, code := range slices.Sorted(maps.Keys(t.rst)) {
		fmt.Fprintf(&b, ", RST_STREAM %s:%d", code, t.rst[code])
	}
	// Codes are decimal: shorter first sorts them as numbers.
	codes := slices.SortedFunc(maps.Keys(t.grpcStatus), func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
	})
	for _, code := range codes {
		fmt.Fprintf(&b, ", grpc-status %s:%d", code, t.grpcStatus[code])
	}
	if t.goaway {
		fmt.Fprintf(&b, ", GOAWAY %s", t.goawayCode)
	}
	return b.String()
}

// h2Conn is a raw HTTP/2 client connection, for what a gRPC client never
// does: streams far beyond the advertised limit, HEADERS reset at once, a
// zero flow-control window. Frames are written through a buffer (flush
// sends them); a reader goroutine, started by dialH2, tallies what the
// server sends and answers its SETTINGS and PINGs.
type h2Conn struct {
	conn  net.Conn
	fr    *http2.Framer // writes to bw, reads from conn
	tally *frameTally
	enc   *h2Encoder

	wmu    sync.Mutex // guards bw and the framer's writing side
	bw     *bufio.Writer
	nextID uint32 // guarded by wmu

	pingMu  sync.Mutex
	pings   map[[8]byte]chan struct{}
	readErr error         // valid after readDone
	done    chan struct{} // closed when the reader has stopped
}

// dialH2 connects to addr (from local, if not nil), sends the client
// preface and SETTINGS (settings, if any), and starts the reader.
func dialH2(ctx context.Context, addr string, local net.Addr, settings ...http2.Setting) (*h2Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &h2Conn{
		conn: c, bw: bufio.NewWriterSize(c, 64<<10), tally: newFrameTally(), enc: newH2Encoder(),
		nextID: 1, pings: make(map[[8]byte]chan struct{}), done: make(chan struct{}),
	}
	h.fr = http2.NewFramer(h.bw, c)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = 1 << 20
	h.wmu.Lock()
	_, err = io.WriteString(h.bw, http2.ClientPreface)
	if err == nil {
		err = h.fr.WriteSettings(settings...)
	}
	if err == nil {
		err = h.flushLocked()
	}
	h.wmu.Unlock()
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	go h.read()
	return h, nil
}

// flushLocked sends the buffered frames; h.wmu must be held.
func (h *h2Conn) flushLocked() error {
	_ = h.conn.SetWriteDeadline(time.Now().Add(h2WriteTimeout))
	return h.bw.Flush()
}

// read tallies the server's frames until the connection fails or closes.
func (h *h2Conn) read() {
	defer close(h.done)
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.readErr = err
			return
		}
		h.tally.add(f)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.wmu.Lock()
				if h.fr.WriteSettingsAck() == nil {
					_ = h.flushLocked()
				}
				h.wmu.Unlock()
			}
		case *http2.PingFrame:
			if f.IsAck() {
				h.pingMu.Lock()
				if ch, ok := h.pings[f.Data]; ok {
					close(ch)
					delete(h.pings, f.Data)
				}
				h.pingMu.Unlock()
			} else {
				h.wmu.Lock()
				if h.fr.WritePing(true, f.Data) == nil {
					_ = h.flushLocked()
				}
				h.wmu.Unlock()
			}
		}
	}
}

// openStreams sends n HEADERS of method on new streams, without ending
// them: half-open calls, whose handlers wait for a request message. With
// reset, each HEADERS is followed at once by RST_STREAM(CANCEL): HTTP/2
// rapid reset. It stops early, returning how many it sent, when ctx ends,
// by is passed or a write fails.
func (h *h2Conn) openStreams(ctx context.Context, method string, n int, reset bool, by time.Time) (int, error) {
	const batch = 256 // frames per flush
	sent := 0
	for sent < n {
		if ctx.Err() != nil || !by.IsZero() && time.Now().After(by) {
			return sent, nil
		}
		h.wmu.Lock()
		var err error
		for i := 0; i < batch && sent < n && err == nil; i++ {
			id := h.nextID
			h.nextID += 2
			err = h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.enc.grpcHeaders(method), EndHeaders: true})
			if err == nil && reset {
				err = h.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			if err == nil {
				sent++
			}
		}
		if err == nil {
			err = h.flushLocked()
		}
		h.wmu.Unlock()
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// errPingTimeout is returned by sync when the server does not acknowledge
// its PING in time.
var errPingTimeout = errors.New("no PING acknowledgement")

// sync sends a PING and waits up to timeout for its acknowledgement. The
// server handles a connection's frames in order and answers the PING
// after writing what the earlier frames caused, so once it returns every
// earlier frame has been processed and its answers tallied.
func (h *h2Conn) sync(ctx context.Context, timeout time.Duration) error {
	var data [8]byte
	h.wmu.Lock()
	binary.BigEndian.PutUint32(data[:4], 0x534f414b) // "SOAK"
	binary.BigEndian.PutUint32(data[4:], h.nextID)
	ch := make(chan struct{})
	h.pingMu.Lock()
	h.pings[data] = ch
	h.pingMu.Unlock()
	err := h.fr.WritePing(false, data)
	if err == nil {
		err = h.flushLocked()
	}
	h.wmu.Unlock()
	if err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-h.done:
		return fmt.Errorf("connection closed before the PING acknowledgement: %v", h.readErr)
	case <-t.C:
		return errPingTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sent returns how many streams have been opened.
func (h *h2Conn) sent() int {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return int(h.nextID-1) / 2
}

// close closes the connection and waits for the reader.
func (h *h2Conn) close() {
	_ = h.conn.Close()
	<-h.done
}

// holdUnread opens a connection to addr that starts one health Watch with
// a zero flow-control window (SETTINGS_INITIAL_WINDOW_SIZE 0) and then
// never reads again: the server can never send the Watch's messages or
// trailers, so the stream never ends by itself. It reads only until the
// server has processed the Watch (a PING acknowledgement), and fails if the
// server refused the stream. The caller closes the returned connection.
func holdUnread(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Conn, error) {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	bw := bufio.NewWriter(c)
	fr := http2.NewFramer(bw, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	enc := newH2Encoder()
	data := [8]byte{'u', 'n', 'r', 'e', 'a', 'd'}
	_, err = io.WriteString(bw, http2.ClientPreface)
	for _, step := range []func() error{
		func() error { return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}) },
		func() error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc.grpcHeaders(healthWatch), EndHeaders: true})
		},
		func() error { return fr.WriteData(1, true, healthRequest("")) },
		func() error { return fr.WritePing(false, data) },
		bw.Flush,
	} {
		if err != nil {
			break
		}
		err = step()
	}
	if err != nil {
		return fail(err)
	}
	tally := newFrameTally()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return fail(fmt.Errorf("reading until the PING acknowledgement: %w", err))
		}
		tally.add(f)
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			_ = fr.WriteSettingsAck()
			_ = bw.Flush()
		}
		if pf, ok := f.(*http2.PingFrame); ok && pf.IsAck() && pf.Data == data {
			break
		}
	}
	if tally.closedCount() > 0 {
		return fail(fmt.Errorf("the server ended the Watch at once: %s", tally.summary()))
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
