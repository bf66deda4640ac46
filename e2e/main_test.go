//go:build e2e

// Package e2e runs drwatch against a real leader and follower OpenSearch
// cluster on loopback (deploy/lab/lab.sh), with real faults: killed and
// frozen processes, and TCP proxies that cut links. TestMain starts the lab
// once per run (two JVMs on two cores take a while) and stops it at the end;
// each test restores what it changes.
//
// Tests that need the cross-cluster-replication plugin are in files built
// with the ccr tag; deploy/e2e.sh adds it when the lab has the plugin.
package e2e

import (
	"bufio"
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
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// labEnv is deploy/lab's lab.env.
type labEnv struct {
	LeaderURL, FollowerURL             string
	LeaderTransport, FollowerTransport string
	Alias                              string
	CCR                                bool
	Dir                                string
}

var (
	lab     labEnv
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
	start := time.Now()
	if err := labCmd("up"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the lab did not come up (%v). It needs Java 17 (apt-get install openjdk-17-jdk-headless), Maven (apt-get install maven), curl and unzip; see deploy/lab/README.md.\n", err)
		_ = labCmd("down")
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: lab up in %s\n", time.Since(start).Round(time.Second))
	var err error
	if lab, err = readLabEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		_ = labCmd("down")
		return 1
	}
	code := m.Run()
	if os.Getenv("DRWATCH_LAB_KEEP") == "" {
		if err := labCmd("down"); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: lab down: %v\n", err)
		}
	}
	return code
}

func labCmd(args ...string) error {
	cmd := exec.Command(filepath.Join(repo, "deploy", "lab", "lab.sh"), args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func labDir() string {
	if d := os.Getenv("LAB_DIR"); d != "" {
		return d
	}
	return "/tmp/drwatch-lab"
}

func readLabEnv() (labEnv, error) {
	f, err := os.Open(filepath.Join(labDir(), "lab.env"))
	if err != nil {
		return labEnv{}, fmt.Errorf("read lab.env: %w", err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	e := labEnv{
		LeaderURL: kv["LEADER_URL"], FollowerURL: kv["FOLLOWER_URL"],
		LeaderTransport: kv["LEADER_TRANSPORT"], FollowerTransport: kv["FOLLOWER_TRANSPORT"],
		Alias: kv["LEADER_ALIAS"], CCR: kv["CCR"] == "1", Dir: kv["LAB_DIR"],
	}
	if e.LeaderURL == "" || e.FollowerURL == "" || e.Alias == "" {
		return e, fmt.Errorf("lab.env is incomplete: %v", kv)
	}
	return e, nil
}

// nodePID is the current pid of a lab node.
func nodePID(t *testing.T, node string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(labDir(), node, "opensearch.pid"))
	if err != nil {
		t.Fatalf("pid of %s: %v", node, err)
	}
	var pid int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &pid); err != nil || pid <= 0 {
		t.Fatalf("pid of %s: %q", node, b)
	}
	return pid
}

func signalNode(t *testing.T, node string, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(nodePID(t, node), sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, node, err)
	}
}

// killLeader SIGKILLs the leader and registers its restart (and the
// follower's reconnection) for the end of the test.
func killLeader(t *testing.T) {
	t.Helper()
	signalNode(t, "leader", syscall.SIGKILL)
	t.Cleanup(func() { restartLeader(t) })
}

func restartLeader(t *testing.T) {
	t.Helper()
	if err := labCmd("start-node", "leader"); err != nil {
		t.Fatalf("restart leader: %v", err)
	}
	waitRemoteConnected(t, 120*time.Second)
}

// freezeLeader SIGSTOPs the leader; the returned func (also registered as
// cleanup) resumes it.
func freezeLeader(t *testing.T) func() {
	t.Helper()
	pid := nodePID(t, "leader")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
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
	resp, err := http.DefaultClient.Do(req)
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
    follower:
      url: %s
      leader_alias: %s
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
%s`, freePort(t), dir, leaderURL, lab.FollowerURL, lab.Alias, extra)
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
		if t.Failed() {
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
