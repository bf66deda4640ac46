//go:build e2e

// Package e2e runs drwatch against a real leader and follower OpenSearch
// cluster on loopback (internal/lab), with real faults: killed and frozen
// processes, and TCP proxies that cut links. TestMain starts a fresh lab
// once per run (two JVMs on two cores take a while) and stops it at the end
// (DRWATCH_LAB_KEEP=1 reuses and keeps it); each test restores what it
// changes.
//
// Tests that need the cross-cluster-replication plugin are in files built
// with the ccr tag; deploy/e2e.sh adds it when the plugin is available.
// Under CI=true or DRWATCH_REQUIRE_CCR=1 a lab without it is a failure.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acked"
	drlab "github.com/drwatch/drwatch/internal/lab"
)

var (
	lab     drlab.Env  // the running lab's URLs, transport addresses, alias, CCR
	theLab  *drlab.Lab // starts, stops and breaks its nodes
	repo    string
	drwatch string // the binary under test
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, _ := os.Getwd()
	repo = filepath.Dir(wd)
	drwatch = filepath.Join(repo, "bin", "drwatch")
	build := exec.Command("go", "build", "-o", drwatch, "./cmd/drwatch")
	build.Dir, build.Stdout, build.Stderr = repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot build drwatch: %v\n", err)
		return 1
	}
	cfg, err := drlab.FromEnv(repo, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: lab config: %v\n", err)
		return 1
	}
	if theLab, err = drlab.Open(cfg, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	keep := os.Getenv("DRWATCH_LAB_KEEP") != ""
	ctx := context.Background()
	down := func() {
		if err := theLab.Down(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: lab down: %v\n", err)
		}
	}
	// A fresh lab: what an earlier run or the demo left in it (promoted
	// indices, a dead leader) must not decide this run.
	if !keep {
		down()
	}
	start := time.Now()
	if lab, err = theLab.Up(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the lab did not come up: %v\nIt needs Java 17 (apt-get install openjdk-17-jdk-headless) and Maven (apt-get install maven); see deploy/lab/README.md.\n", err)
		down()
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: lab up in %s\n", time.Since(start).Round(time.Second))
	if lab.Security {
		// the tests' own writes and reads go as the lab's admin
		acked.Use(labTransport(), lab.AdminUser, adminPassword())
	}
	if !lab.CCR && (os.Getenv("CI") == "true" || os.Getenv("DRWATCH_REQUIRE_CCR") == "1") {
		fmt.Fprintln(os.Stderr, "e2e: the lab has no cross-cluster-replication plugin, which CI=true / DRWATCH_REQUIRE_CCR=1 require (see deploy/lab/README.md)")
		down()
		return 1
	}
	if !keep {
		// Interrupted: stop the nodes too (they run in process groups of
		// their own, so a terminal's ^C does not reach them).
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			s := <-sigs
			fmt.Fprintf(os.Stderr, "e2e: %v: taking the lab down\n", s)
			down()
			os.Exit(1)
		}()
	}
	code := m.Run()
	if code != 0 {
		// The nodes' own account of a failed run, before down deletes it.
		for _, n := range theLab.Config().AllMembers() {
			theLab.PrintNodeLogs(n)
		}
	}
	if !keep {
		down()
	}
	return code
}

// killNode SIGKILLs a node's process tree and waits until it is gone.
func killNode(t *testing.T, node drlab.Node) {
	t.Helper()
	if _, err := theLab.Kill(node); err != nil {
		t.Fatalf("kill %s: %v", node, err)
	}
}

// killLeader SIGKILLs the leader and registers its restart (and the
// follower's reconnection) for the end of the test.
func killLeader(t *testing.T) {
	t.Helper()
	killNode(t, drlab.Leader)
	t.Cleanup(func() { restartLeader(t) })
}

func restartLeader(t *testing.T) {
	t.Helper()
	if err := startNode(drlab.Leader); err != nil {
		t.Fatalf("restart leader: %v", err)
	}
	waitRemoteConnected(t, 120*time.Second)
}

// startNode (re)starts a node on its data dir and waits until it is
// healthy (and the follower connected again).
func startNode(node drlab.Node) error { return theLab.StartNode(context.Background(), node) }

// stopNode stops a node (SIGTERM, then SIGKILL).
func stopNode(node drlab.Node) error { return theLab.StopNode(context.Background(), node) }

// freezeLeader SIGSTOPs the leader; the returned func (also registered as
// cleanup) resumes it.
func freezeLeader(t *testing.T) func() {
	t.Helper()
	if _, err := theLab.Freeze(drlab.Leader); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if _, err := theLab.Thaw(drlab.Leader); err != nil {
				t.Errorf("thaw the leader: %v", err)
			}
		}
	}
	t.Cleanup(func() { resume(); waitRemoteConnected(t, 120*time.Second) })
	return resume
}

// osDo calls a lab cluster directly.
func osDo(t *testing.T, base, method, path, body string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	asAdmin(req)
	resp, err := labHTTP().Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func osOK(t *testing.T, base, method, path, body string) []byte {
	t.Helper()
	code, b := osDo(t, base, method, path, body)
	if code/100 != 2 {
		t.Fatalf("%s %s: HTTP %d %s", method, path, code, b)
	}
	return b
}

// remoteConnected reads the follower's own view of the leader alias.
func remoteConnected(t *testing.T) bool {
	t.Helper()
	code, b := osDo(t, lab.FollowerURL, "GET", "/_remote/info", "")
	if code != 200 {
		return false
	}
	var info map[string]struct {
		Connected bool `json:"connected"`
	}
	_ = json.Unmarshal(b, &info)
	return info[lab.Alias].Connected
}

func waitRemoteConnected(t *testing.T, within time.Duration) {
	t.Helper()
	eventually(t, within, "follower reconnected to the leader", func() bool {
		if remoteConnected(t) {
			return true
		}
		// A search on the alias makes the remote connection reconnect.
		osDo(t, lab.FollowerURL, "GET", "/"+lab.Alias+":*/_search?size=0", "")
		return false
	})
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start)
}

// config writes a drwatch config for the lab pair and returns its path.
func config(t *testing.T, leaderURL, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if leaderURL == "" {
		leaderURL = lab.LeaderURL
	}
	cfg := fmt.Sprintf(`listen_address: "127.0.0.1:%d"
state_dir: %s
pairs:
  - name: lab
    leader:
      url: %s
%s    follower:
      url: %s
%s      leader_alias: %s
    indices: ["*", "-.*"]
    policy: fast
policies:
  fast:
    mode: dry-run
    probe_interval: 500ms
    probe_timeout: 400ms
    leader_down_after: 2s
    min_failed_probes: 2
    max_observation_age: 5s
%s`, freePort(t), dir, leaderURL, credentials("      ", false), lab.FollowerURL, credentials("      ", true), lab.Alias, extra)
	path := filepath.Join(dir, "drwatch.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runCLI runs the drwatch binary and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, drwatch, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("drwatch %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// daemon is drwatch run as a child process.
type daemon struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	exit chan struct{} // closed when the process has exited
	code int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t *testing.T, cfgPath string) *daemon {
	t.Helper()
	return startDaemonWith(t, drwatch, nil, cfgPath, true)
}

// startDaemonWith runs bin with extra environment; wait: until /-/ready.
func startDaemonWith(t *testing.T, bin string, env []string, cfgPath string, wait bool) *daemon {
	t.Helper()
	var port int
	for _, line := range strings.Split(readFile(t, cfgPath), "\n") {
		if strings.HasPrefix(line, "listen_address:") {
			_, _ = fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "listen_address:")), "\"127.0.0.1:%d\"", &port)
		}
	}
	d := &daemon{base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &syncBuffer{}, exit: make(chan struct{})}
	d.cmd = exec.Command(bin, "run", "--config", cfgPath, "--log-format", "json")
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = d.cmd.Wait()
		d.code = d.cmd.ProcessState.ExitCode()
		close(d.exit)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exit:
		case <-time.After(15 * time.Second):
			t.Error("drwatch did not stop within 15s of SIGTERM")
			_ = d.cmd.Process.Kill()
			<-d.exit
		}
		if t.Failed() || os.Getenv("DRWATCH_E2E_LOGS") != "" {
			t.Logf("drwatch logs:\n%s", d.logs.String())
		}
	})
	if wait {
		eventually(t, 30*time.Second, "drwatch ready", func() bool {
			code, _ := d.get(t, "/-/ready")
			return code == 200
		})
	}
	return d
}

// kill SIGKILLs the daemon and waits for it to exit.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exit
}

func (d *daemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(d.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one sample line of /metrics, e.g.
// `drwatch_leader_up{pair="lab"}`; ok false when absent.
func (d *daemon) metric(t *testing.T, series string) (string, bool) {
	t.Helper()
	_, body := d.get(t, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v, true
		}
	}
	return "", false
}

func (d *daemon) waitMetric(t *testing.T, within time.Duration, series, want string) time.Duration {
	t.Helper()
	return eventually(t, within, series+" = "+want, func() bool {
		v, ok := d.metric(t, series)
		return ok && v == want
	})
}

// statusJSON is the part of `drwatch status --json` the tests read.
type statusJSON struct {
	Pairs []struct {
		Name        string   `json:"name"`
		Problems    []string `json:"problems"`
		Observation struct {
			Requests int `json:"http_requests"`
			Leader   struct {
				Reachable bool   `json:"reachable"`
				Health    string `json:"health"`
				Failure   *struct {
					Class string `json:"class"`
				} `json:"failure"`
			} `json:"leader"`
			Follower struct {
				Reachable bool `json:"reachable"`
				Remote    struct {
					Known     bool `json:"known"`
					Connected bool `json:"connected"`
				} `json:"remote"`
				Replication struct {
					Failure *struct {
						Class string `json:"class"`
					} `json:"failure"`
					Indices []struct {
						Name     string `json:"name"`
						State    string `json:"state"`
						Lag      int64  `json:"lag_operations"`
						LagKnown bool   `json:"lag_known"`
					} `json:"indices"`
					MaxLag      int64 `json:"max_lag_operations"`
					LagComplete bool  `json:"lag_complete"`
				} `json:"replication"`
			} `json:"follower"`
		} `json:"observation"`
	} `json:"pairs"`
}

func status(t *testing.T, cfgPath string) (int, statusJSON) {
	t.Helper()
	code, out, errOut := runCLI(t, "status", "--config", cfgPath, "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Pairs) != 1 {
		t.Fatalf("status --json (exit %d): %v\n%s\n%s", code, err, out, errOut)
	}
	return code, st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// leaderDownAt is when the journal first recorded the leader_down event.
func leaderDownAt(t *testing.T, cfgPath string) time.Time {
	t.Helper()
	for _, h := range journalHistory(t, cfgPath) {
		for _, ev := range h.Events {
			if ev == "leader_down" {
				return h.At
			}
		}
	}
	t.Fatal("no leader_down in the journal")
	return time.Time{}
}
