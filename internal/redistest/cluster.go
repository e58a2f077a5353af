package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of a [PrivateCluster]:
// how long a master may be unreachable before the others mark it failed
// and report cluster_state:fail.
const ClusterNodeTimeout = time.Second

// clusterWait bounds each wait of a PrivateCluster (a node answering, the
// cluster reaching a state).
const clusterWait = 15 * time.Second

// PrivateCluster is a Redis Cluster of three masters (no replicas) started
// for one test by [StartCluster], on free loopback ports, keeping nothing on
// disk but its nodes.conf files in a temporary directory. A failover test
// may stop and restart its masters without disturbing the shared cluster
// the other tests use.
type PrivateCluster struct {
	dir   string
	nodes []*clusterNode
}

type clusterNode struct {
	port int       // the bus port is port+10000
	cmd  *exec.Cmd // nil while stopped
}

func (n *clusterNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// StartCluster starts a private three-master cluster and waits until every
// node reports cluster_state:ok; the processes are killed at cleanup. It
// skips the test when redis-server or redis-cli is not installed, except
// under CI=true, where that fails it.
func StartCluster(t testing.TB) *PrivateCluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: CI must run this test on a private Redis Cluster", bin)
			}
			t.Skipf("%s is not installed", bin)
		}
	}
	pc := &PrivateCluster{dir: t.TempDir()}
	ports, err := freePorts(3)
	if err != nil {
		t.Fatalf("redistest.StartCluster: free ports: %v", err)
	}
	for _, p := range ports {
		pc.nodes = append(pc.nodes, &clusterNode{port: p})
	}
	t.Cleanup(pc.killAll) // before TempDir's removal, registered earlier
	for i := range pc.nodes {
		pc.start(t, i)
	}
	args := []string{"--cluster", "create"}
	for _, n := range pc.nodes {
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	pc.WaitState(t, "ok", clusterWait)
	return pc
}

// freePorts returns n distinct free loopback ports p, with p+10000 (the
// cluster bus port Redis derives from p) free too. Both are below 32768, the
// usual start of the ephemeral range, so that no outgoing connection takes
// a stopped node's port before it restarts.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			return nil, fmt.Errorf("no free port p with p+10000 free in %d tries", tries)
		}
		p := 10000 + rand.IntN(32768-10000-10000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			_ = ln.Close()
			continue
		}
		lns = append(lns, ln, bus) // held until all are found, so none repeats
		ports = append(ports, p)
	}
	return ports, nil
}

// start runs node i's redis-server and waits until it answers PING.
func (pc *PrivateCluster) start(t testing.TB, i int) {
	t.Helper()
	n := pc.nodes[i]
	p := strconv.Itoa(n.port)
	cmd := exec.Command("redis-server",
		"--port", p, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+p+".conf",
		"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
		"--dir", pc.dir, "--logfile", filepath.Join(pc.dir, "redis-"+p+".log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: start redis-server on %s: %v", n.addr(), err)
	}
	n.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: n.addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	err := Poll(clusterWait, func() (bool, error) {
		err := c.Ping(context.Background()).Err()
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("redistest: redis-server on %s does not answer: %v (log in %s)", n.addr(), err, pc.dir)
	}
}

// killAll kills every running node.
func (pc *PrivateCluster) killAll() {
	for _, n := range pc.nodes {
		n.kill()
	}
}

func (n *clusterNode) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}

// Addrs returns the nodes' addresses, the seeds of a cluster client.
func (pc *PrivateCluster) Addrs() []string {
	out := make([]string, len(pc.nodes))
	for i, n := range pc.nodes {
		out[i] = n.addr()
	}
	return out
}

// Backend returns a cluster client of the private cluster with a unique
// prefix, as [Cluster] does for the shared one; edit, if given, changes the
// client's options first. Its keys are not deleted at cleanup: the cluster
// ends with the test.
func (pc *PrivateCluster) Backend(t testing.TB, edit ...func(*redis.ClusterOptions)) Backend {
	t.Helper()
	o := &redis.ClusterOptions{Addrs: pc.Addrs(), ContextTimeoutEnabled: true}
	for _, e := range edit {
		e(o)
	}
	c := redis.NewClusterClient(o)
	t.Cleanup(waitDialRetries)
	t.Cleanup(func() { _ = c.Close() })
	return Backend{Name: "private-cluster", Client: c, Prefix: NewPrefix(), Addrs: pc.Addrs()}
}

// MasterOf returns the index (0, 1 or 2) of the master serving key's slot.
func (pc *PrivateCluster) MasterOf(t testing.TB, key string) int {
	t.Helper()
	var addrs []string
	for _, n := range pc.nodes {
		if n.cmd != nil {
			addrs = append(addrs, n.addr())
		}
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1})
	defer c.Close()
	m, err := c.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatalf("redistest: master of %q: %v", key, err)
	}
	for i, n := range pc.nodes {
		if m.Options().Addr == n.addr() {
			return i
		}
	}
	t.Fatalf("redistest: master of %q is %s, not a node of the private cluster", key, m.Options().Addr)
	return -1
}

// Stop kills master i (SIGKILL: a crash, nothing saved) and waits for its
// process to end. Its slots are then unserved: the other masters go on
// serving theirs until they mark it failed after [ClusterNodeTimeout] and
// report cluster_state:fail.
func (pc *PrivateCluster) Stop(t testing.TB, i int) {
	t.Helper()
	if pc.nodes[i].cmd == nil {
		t.Fatalf("redistest: node %d is already stopped", i)
	}
	pc.nodes[i].kill()
}

// Start restarts the stopped master i on its port with its nodes.conf (so
// it takes its slots back, empty) and waits until every node reports
// cluster_state:ok.
func (pc *PrivateCluster) Start(t testing.TB, i int) {
	t.Helper()
	if pc.nodes[i].cmd != nil {
		t.Fatalf("redistest: node %d is running", i)
	}
	pc.start(t, i)
	pc.WaitState(t, "ok", clusterWait)
}

// WaitState waits until every running node reports cluster_state:want ("ok"
// or "fail"), polling CLUSTER INFO, and fails the test after timeout.
func (pc *PrivateCluster) WaitState(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	var clients []*redis.Client
	for _, n := range pc.nodes {
		if n.cmd != nil {
			clients = append(clients, redis.NewClient(&redis.Options{Addr: n.addr(), MaxRetries: -1}))
		}
	}
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	err := Poll(timeout, func() (bool, error) {
		for _, c := range clients {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err != nil {
				return false, err
			}
			if got := clusterState(info); got != want {
				return false, fmt.Errorf("%s: cluster_state:%s", c.Options().Addr, got)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("redistest: private cluster not in state %s: %v (logs in %s)", want, err, pc.dir)
	}
}

func clusterState(info string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v
		}
	}
	return ""
}
