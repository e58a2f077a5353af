package redistest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestForEach(t *testing.T) {
	var names []string
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		names = append(names, b.Name)
		ctx := context.Background()
		key := b.Prefix + "k"
		if err := b.Client.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatalf("%s: SET = %v", b.Name, err)
		}
		if got, err := b.Client.Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("%s: GET = %q, %v; want v", b.Name, got, err)
		}
		if (b.Mini != nil) != (b.Name == "miniredis") {
			t.Errorf("%s: Mini set = %v", b.Name, b.Mini != nil)
		}
	})
	if len(names) == 0 || names[0] != "miniredis" {
		t.Errorf("backends run = %v; want miniredis first", names)
	}
}

// CutClient's cut fails the next command of that client, on every backend
// (cluster nodes included), and leaves other clients alone.
func TestCutClient(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		c, cut := b.CutClient(t, func(o *redis.UniversalOptions) {
			o.MaxRetries, o.DialerRetries, o.DialerRetryTimeout = -1, 1, time.Millisecond
		})
		keys := make([]string, 20) // on every node of a cluster
		for i := range keys {
			keys[i] = fmt.Sprintf("%s{%d}", b.Prefix, i)
			if err := c.Set(ctx, keys[i], "v", 0).Err(); err != nil {
				t.Fatalf("SET through the proxy = %v", err)
			}
		}
		cut()
		for _, k := range keys {
			if err := c.Get(ctx, k).Err(); err == nil {
				t.Fatalf("GET %s after the cut = nil error; want a failure", k)
			}
		}
		if got, err := b.Client.Get(ctx, keys[0]).Result(); err != nil || got != "v" {
			t.Errorf("another client after the cut: GET = %q, %v; want v", got, err)
		}
	})
}

func TestSlots(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	for i := range 100 {
		if err := b.Client.Set(ctx, fmt.Sprintf("%s{r%d}:a", b.Prefix, i), 1, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	per := redistest.AssertSpread(t, b.Client, b.Prefix+"*")
	total := 0
	for _, n := range per {
		total += n
	}
	if len(per) != 3 || total != 100 {
		t.Errorf("keys per master = %v; want 100 keys over 3 masters", per)
	}
	redistest.AssertOneSlot(t, b.Client, b.Prefix+"{r1}:a", b.Prefix+"{r1}:b")
}

// A private cluster: a stopped master's keys fail, the cluster reports
// fail, and its keys are served again once it is back.
func TestPrivateCluster(t *testing.T) {
	pc := redistest.StartCluster(t)
	b := pc.Backend(t, func(o *redis.ClusterOptions) { o.MaxRetries = -1 })
	ctx := context.Background()
	key := b.Prefix + "{k}"
	if err := b.Client.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatalf("SET = %v", err)
	}
	m := pc.MasterOf(t, key)
	pc.Stop(t, m)
	if err := b.Client.Get(ctx, key).Err(); err == nil {
		t.Error("GET of a stopped master's key = nil error")
	}
	pc.WaitState(t, "fail", 10*time.Second)
	pc.Start(t, m)
	err := redistest.Poll(10*time.Second, func() (bool, error) {
		err := b.Client.Set(ctx, key, "w", 0).Err()
		return err == nil, err
	})
	if err != nil {
		t.Errorf("SET after the master returned: %v", err)
	}
}

// The shared cluster rejects a script or a transaction over keys in two
// slots (go-redis checks transactions itself): a package whose scripts and
// transactions all run in its tests on the cluster backend has shown they
// stay in one slot.
func TestCrossSlotFails(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	k1, k2 := b.Prefix+"{a}", b.Prefix+"{b}"
	if s1, s2 := b.Client.ClusterKeySlot(ctx, k1).Val(), b.Client.ClusterKeySlot(ctx, k2).Val(); s1 == s2 {
		t.Fatalf("%s and %s share slot %d", k1, k2, s1)
	}
	err := b.Client.Eval(ctx, "return redis.call('SET', KEYS[1], ARGV[1])", []string{k1, k2}, "v").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("EVAL over two slots = %v; want CROSSSLOT", err)
	}
	_, err = b.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k1, "v", time.Minute)
		p.Set(ctx, k2, "v", time.Minute)
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("MULTI over two slots = %v; want CROSSSLOT", err)
	}
	err = b.Client.Eval(ctx, "return redis.call('SET', KEYS[1], ARGV[1]) and redis.call('SET', KEYS[2], ARGV[1])", []string{k1, k1 + ":x"}, "v").Err()
	if err != nil {
		t.Errorf("EVAL over one slot = %v", err)
	}
}
