//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	drlab "github.com/drwatch/drwatch/internal/lab"
	"github.com/drwatch/drwatch/internal/testutil/deploytest"
)

// The shipped alerting rules and dashboard in a real Prometheus (the
// Debian package's) scraping drwatch watching the lab: promtool checks and
// tests the rules; on a healthy lab no alert that says something is wrong
// is active; the leader killed, DrwatchLeaderDown fires for the pair; every
// dashboard query evaluates without error or warning, and the state
// timeline names the state drwatch is in; the leader back, the alert ends.
func TestPrometheusRulesAndDashboard(t *testing.T) {
	promtool, prometheus := need(t, "promtool"), need(t, "prometheus")
	rules := filepath.Join(repo, deploytest.RulesFile)
	runTool(t, promtool, "check", "rules", rules)
	runTool(t, promtool, "test", "rules", filepath.Join(repo, deploytest.RuleTestsFile))

	// The rules as shipped, but with every `for` at most 2s: the test
	// cannot wait minutes, and the shipped file stays as it is.
	dir := t.TempDir()
	short, err := deploytest.ShortenFor([]byte(readFile(t, rules)), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	shortRules := filepath.Join(dir, "drwatch-alerts.yml")
	writeFile(t, shortRules, string(short))
	runTool(t, promtool, "check", "rules", shortRules)
	shipped, err := deploytest.LoadRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := deploytest.LoadRules(shortRules)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Alerts()) == 0 || len(loaded.Alerts()) != len(shipped.Alerts()) {
		t.Fatalf("the shortened copy has %d alerts, the shipped file %d", len(loaded.Alerts()), len(shipped.Alerts()))
	}
	for i, a := range loaded.Alerts() {
		if s := shipped.Alerts()[i]; a.Alert != s.Alert || a.Expr != s.Expr {
			t.Fatalf("the shortened copy's alert %d is %s %q, the shipped file's %s %q", i, a.Alert, a.Expr, s.Alert, s.Expr)
		}
	}

	d := startDaemon(t, config(t, "", ""))
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
	d.waitMetric(t, 10*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "1")
	p := startPrometheus(t, prometheus, dir, d.base[len("http://"):], shortRules)

	// Healthy: drwatch scraped for a while, every rule evaluated many
	// times, past every (shortened) `for`.
	eventually(t, 60*time.Second, "Prometheus scraped drwatch 5 times, all up", func() bool {
		v, ok := p.scalar(t, `sum(count_over_time(up{job="drwatch"}[1m])) == sum(sum_over_time(up{job="drwatch"}[1m]))`)
		return ok && v >= 5
	})
	time.Sleep(3 * time.Second)
	// Quiet on a healthy lab: every alert but those on the replication of
	// the lab's indices, which depend on the plugin and on what earlier
	// tests did to their indices (logged).
	for _, a := range p.alerts(t) {
		switch a.Labels["alertname"] {
		case "DrwatchRPOGuardFailing", "DrwatchReplicationNotSyncing":
			t.Logf("on the healthy lab: %s %s %v", a.Labels["alertname"], a.State, a.Labels)
		default:
			t.Errorf("alert %s is %s on a healthy lab: %v", a.Labels["alertname"], a.State, a.Labels)
		}
	}

	killNode(t, drlab.Leader)
	killed := time.Now()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			restartLeader(t)
		}
	})
	eventually(t, 60*time.Second, "DrwatchLeaderDown firing for pair lab", func() bool {
		return slices.ContainsFunc(p.alerts(t), func(a promAlert) bool {
			return a.Labels["alertname"] == "DrwatchLeaderDown" && a.Labels["pair"] == "lab" && a.State == "firing"
		})
	})
	t.Logf("DrwatchLeaderDown firing %s after SIGKILL", time.Since(killed).Round(time.Millisecond))
	for _, a := range p.alerts(t) {
		if name := a.Labels["alertname"]; name == "DrwatchIsolated" || name == "DrwatchDown" || name == "DrwatchProbesStale" {
			t.Errorf("alert %s is %s while the leader is down: %v", name, a.State, a.Labels)
		}
	}

	// Every dashboard query, with Grafana's variables given values.
	dash, err := deploytest.LoadDashboard(filepath.Join(repo, deploytest.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"pair": "lab", "__rate_interval": "10s", "__interval": "5s", "__range": "5m"}
	n := 0
	for _, panel := range dash.AllPanels() {
		for _, tg := range panel.Targets {
			expr, err := deploytest.Expand(tg.Expr, vars)
			if err != nil {
				t.Errorf("panel %q query %s: %v", panel.Title, tg.RefID, err)
				continue
			}
			res := p.query(t, expr)
			n++
			if res.Status != "success" || res.Error != "" || len(res.Warnings) > 0 {
				t.Errorf("panel %q query %s: status %s, error %q, warnings %v\n%s", panel.Title, tg.RefID, res.Status, res.Error, res.Warnings, expr)
				continue
			}
			if panel.Type != "state-timeline" || panel.Title != "Pair state" {
				continue
			}
			// The state timeline names the state drwatch is in.
			if len(res.Data.Result) != 1 || res.Data.Result[0].Metric["pair"] != "lab" {
				t.Errorf("panel %q: want one series for pair lab, got %+v", panel.Title, res.Data.Result)
				continue
			}
			value := res.Data.Result[0].Value[1].(string)
			if text, _ := panel.MappedText(value); text != "leader_down" {
				t.Errorf("panel %q: value %s reads %q, want leader_down (drwatch is in dry-run mode: it holds)", panel.Title, value, text)
			}
		}
	}
	t.Logf("%d dashboard queries evaluated", n)
	if n == 0 {
		t.Error("the dashboard has no query")
	}

	restartLeader(t)
	restarted = true
	eventually(t, 60*time.Second, "DrwatchLeaderDown no longer active", func() bool {
		return !slices.ContainsFunc(p.alerts(t), func(a promAlert) bool { return a.Labels["alertname"] == "DrwatchLeaderDown" })
	})
}

// need returns the path of a program the test needs, or fails naming the
// Debian package to install.
func need(t *testing.T, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install prometheus (deploy/deps.sh installs what the end-to-end tests need)", program)
	}
	return path
}

// runTool runs a program and fails the test with its output when it fails.
func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
	t.Logf("%s %v:\n%s", filepath.Base(name), args, out)
}

// prom is a Prometheus server the test started.
type prom struct {
	base string
}

// startPrometheus starts prometheus on a free loopback port, scraping
// target (host:port) as job drwatch every second, with the rule file,
// evaluated every second; its data under dir. Stopped at cleanup.
func startPrometheus(t *testing.T, bin, dir, target, rules string) *prom {
	t.Helper()
	cfg := map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
		"rule_files": []string{rules},
		"scrape_configs": []any{map[string]any{
			"job_name":       "drwatch",
			"static_configs": []any{map[string]any{"targets": []string{target}}},
		}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfgPath, string(b))

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Error("prometheus did not stop within 20s of SIGTERM")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	p := &prom{base: "http://" + addr}
	eventually(t, 30*time.Second, "prometheus ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("prometheus exited: %s", logs.String())
		default:
		}
		code, _ := p.get(t, "/-/ready")
		return code == 200
	})
	return p
}

func (p *prom) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// queryResult is the answer of /api/v1/query.
type queryResult struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"` // [unix time, "value"]
		} `json:"result"`
	} `json:"data"`
}

// query evaluates an instant query now.
func (p *prom) query(t *testing.T, expr string) queryResult {
	t.Helper()
	code, b := p.get(t, "/api/v1/query?query="+url.QueryEscape(expr))
	var r queryResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("query %s: HTTP %d, not JSON: %v\n%s", expr, code, err, b)
	}
	if r.Status == "success" && r.Data.ResultType != "vector" && r.Data.ResultType != "scalar" {
		t.Fatalf("query %s: result type %s", expr, r.Data.ResultType)
	}
	return r
}

// scalar returns the value of a query that gives one series; ok false when
// it gives none.
func (p *prom) scalar(t *testing.T, expr string) (float64, bool) {
	t.Helper()
	r := p.query(t, expr)
	if r.Status != "success" {
		t.Fatalf("query %s: %s %s", expr, r.ErrorType, r.Error)
	}
	if len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// promAlert is an active alert of /api/v1/alerts.
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"` // pending or firing
}

func (p *prom) alerts(t *testing.T) []promAlert {
	t.Helper()
	code, b := p.get(t, "/api/v1/alerts")
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		t.Fatalf("/api/v1/alerts: HTTP %d, %v\n%s", code, err, b)
	}
	return r.Data.Alerts
}
