package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/drwatch/drwatch/internal/app"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

const secretValue = "s3cr3t-Pa55w0rd-do-not-leak"

type daemon struct {
	base    string
	cfgPath string
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan error
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

func writeConfig(t *testing.T, path, leaderURL, followerURL string, extra string) {
	t.Helper()
	dir := filepath.Dir(path)
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte(secretValue+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`listen_address: "127.0.0.1:0"
state_dir: %s
pairs:
  - name: orders
    leader:
      url: %s
      username: drwatch
      password_file: %s
    follower:
      url: %s
      username: drwatch
      password_file: %s
      leader_alias: leader
    policy: fast
policies:
  fast:
    mode: dry-run
    probe_interval: 200ms
    probe_timeout: 150ms
    leader_down_after: 1s
    max_observation_age: 1s
%s`, dir, leaderURL, pw, followerURL, pw, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, leaderURL, followerURL string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{cfgPath: filepath.Join(dir, "drwatch.yml"), logs: &syncBuffer{}, done: make(chan error, 1)}
	writeConfig(t, d.cfgPath, leaderURL, followerURL, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.base = "http://" + ln.Addr().String()
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(d.logs), zap.DebugLevel))
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		d.done <- app.Run(ctx, app.Options{ConfigPath: d.cfgPath, Logger: log, Metrics: metrics.New(), Listener: ln})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-d.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not shut down within 10s")
		}
	})
	return d
}

func (d *daemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(d.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (d *daemon) post(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Post(d.base+path, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond every 50ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDaemonServesStatusMetricsAndHealth(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	leader.Advance("orders-2", 1, 25) // 25 writes the follower has not fetched: its view still says 0
	d := start(t, leader.URL(), follower.URL())

	eventually(t, "ready", func() bool { c, _ := d.get(t, "/-/ready"); return c == 200 })
	if c, _ := d.get(t, "/-/healthy"); c != 200 {
		t.Fatalf("healthy = %d", c)
	}

	c, body := d.get(t, "/api/v1/status")
	if c != 200 {
		t.Fatalf("status = %d %s", c, body)
	}
	var st report.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Pairs) != 1 || st.Pairs[0].Name != "orders" || st.Pairs[0].Mode != "dry-run" || st.Pairs[0].Observation == nil {
		t.Fatalf("status = %s", body)
	}
	o := st.Pairs[0].Observation
	if !o.Leader.Reachable || !o.Follower.Remote.Connected || o.Follower.Replication.MaxLag != 25 {
		t.Fatalf("observation = %+v", o)
	}

	_, m := d.get(t, "/metrics")
	for _, want := range []string{
		`drwatch_leader_up{pair="orders"} 1`,
		`drwatch_follower_remote_connected{pair="orders"} 1`,
		`drwatch_replication_lag_operations{index="orders-2",pair="orders"} 25`,
		`drwatch_replication_lag_operations{index="orders-1",pair="orders"} 0`,
		`drwatch_replication_follower_view_lag_operations{pair="orders"} 0`,
		`drwatch_replication_lag_disagreeing_indices{pair="orders"} 1`,
		`drwatch_config_last_reload_successful 1`,
		`drwatch_build_info{`,
		`drwatch_probe_duration_seconds_count{pair="orders",target="leader"}`,
		`drwatch_probe_failures_total{class="connection_refused",pair="orders",target="leader"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	if c, _ := d.get(t, "/api/v1/status/nope"); c != 404 {
		t.Errorf("unknown pair status = %d, want 404", c)
	}
	if c, _ := d.get(t, "/-/reload"); c != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload = %d, want 405", c)
	}
}

func TestDaemonReportsLeaderDown(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	d := start(t, leader.URL(), follower.URL())
	eventually(t, "ready", func() bool { c, _ := d.get(t, "/-/ready"); return c == 200 })
	leader.Server.Close()
	follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	eventually(t, "leader down in metrics", func() bool {
		_, m := d.get(t, "/metrics")
		return strings.Contains(m, `drwatch_leader_up{pair="orders"} 0`) &&
			strings.Contains(m, `drwatch_follower_remote_connected{pair="orders"} 0`) &&
			!strings.Contains(m, `drwatch_probe_failures_total{class="connection_refused",pair="orders",target="leader"} 0`)
	})
	_, body := d.get(t, "/api/v1/status")
	if !strings.Contains(body, `"class": "connection_refused"`) {
		t.Fatalf("status does not name the failure class: %s", body)
	}
}

func TestReloadRejectsBadConfigAndKeepsOld(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	d := start(t, leader.URL(), follower.URL())
	eventually(t, "ready", func() bool { c, _ := d.get(t, "/-/ready"); return c == 200 })

	// A broken config: rejected with the reason, old one keeps running.
	if err := os.WriteFile(d.cfgPath, []byte("pairs:\n  - name: orders\n    leeder: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, body := d.post(t, "/-/reload")
	if c != 400 || !strings.Contains(body, "pairs[0].leeder (line 3): unknown field") {
		t.Fatalf("reload = %d %s", c, body)
	}
	_, m := d.get(t, "/metrics")
	if !strings.Contains(m, "drwatch_config_last_reload_successful 0") {
		t.Fatal("reload failure not in metrics")
	}
	before := leader.Hits(fakeos.RouteHealth)
	eventually(t, "old config still probing", func() bool { return leader.Hits(fakeos.RouteHealth) > before+1 })

	// A good config with a second pair: both watched.
	leader2, follower2 := fakeos.NewLeader(t), fakeos.NewFollower(t)
	writeConfig(t, d.cfgPath, leader.URL(), follower.URL(), "    fence_leader: false\n")
	cfg, _ := os.ReadFile(d.cfgPath)
	cfg = bytes.Replace(cfg, []byte("policies:"), []byte(fmt.Sprintf(`  - name: billing
    leader: {url: %s}
    follower: {url: %s, leader_alias: leader}
    policy: fast
policies:`, leader2.URL(), follower2.URL())), 1)
	if err := os.WriteFile(d.cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, body := d.post(t, "/-/reload"); c != 200 {
		t.Fatalf("reload = %d %s", c, body)
	}
	eventually(t, "second pair probed", func() bool {
		_, m := d.get(t, "/metrics")
		return strings.Contains(m, `drwatch_leader_up{pair="billing"} 1`) && strings.Contains(m, "drwatch_config_last_reload_successful 1")
	})

	// ha takes effect at a restart only: a reload that turns it on is
	// refused, and says so.
	writeConfig(t, d.cfgPath, leader.URL(), follower.URL(), "ha:\n  enabled: true\n  identity: dr-a\n")
	if c, body := d.post(t, "/-/reload"); c != 400 || !strings.Contains(body, "ha changed: it takes effect at a restart only") {
		t.Fatalf("reload turning ha on = %d %s", c, body)
	}
}

// Secrets never reach logs, metrics or the status API - even when the
// cluster rejects them.
func TestSecretsNeverLeak(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	leader.Set(fakeos.RouteHealth, 401, `{"error":{"type":"security_exception","reason":"unable to authenticate user [drwatch]"},"status":401}`)
	d := start(t, leader.URL(), follower.URL())
	eventually(t, "ready", func() bool { c, _ := d.get(t, "/-/ready"); return c == 200 })
	_, m := d.get(t, "/metrics")
	_, s := d.get(t, "/api/v1/status")
	if !strings.Contains(s, `"class": "auth"`) {
		t.Fatalf("status lacks the auth failure: %s", s)
	}
	for name, text := range map[string]string{"metrics": m, "status": s, "logs": d.logs.String()} {
		if strings.Contains(text, secretValue) {
			t.Errorf("%s contain the password", name)
		}
	}
}
