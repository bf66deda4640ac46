package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/app"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

const apiToken = "test-token-0123456789abcdef"

// modeConfig writes a config for one pair in mode, with an API token, and
// returns its path.
func modeConfig(t *testing.T, dir, leader, follower, mode string, withToken bool) string {
	t.Helper()
	tok := ""
	if withToken {
		p := filepath.Join(dir, "token")
		if err := os.WriteFile(p, []byte(apiToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		tok = "api:\n  token_file: " + p + "\n"
	}
	cfg := tok + `listen_address: "127.0.0.1:0"
state_dir: ` + dir + `
pairs:
  - name: orders
    leader: {url: ` + leader + `}
    follower: {url: ` + follower + `, leader_alias: leader}
    policy: fast
policies:
  fast:
    mode: ` + mode + `
    probe_interval: 100ms
    probe_timeout: 80ms
    leader_down_after: 300ms
    min_failed_probes: 2
    max_observation_age: 5s
    cooldown: 0s
`
	p := filepath.Join(dir, "drwatch.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run starts the daemon on cfg and returns its base URL and a stop func
// that waits for it to exit.
func run(t *testing.T, cfg string) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Metrics: metrics.New(), Listener: ln})
	}()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("daemon did not stop")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

func call(t *testing.T, base, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func metricLine(t *testing.T, base, series string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// waitCycles waits until the daemon has finished n more probe cycles of
// pair: a test that proves something did not happen waits for cycles,
// not for a sleep that a slow machine can pass with no decision taken.
func waitCycles(t *testing.T, base, pair string, n int) {
	t.Helper()
	series := `drwatch_probe_duration_seconds_count{pair="` + pair + `",target="cycle"}`
	count := func() int {
		c, err := strconv.Atoi(metricLine(t, base, series))
		if err != nil {
			t.Fatalf("%s: %v", series, err)
		}
		return c
	}
	want := count() + n
	eventually(t, fmt.Sprintf("%d more probe cycles", n), func() bool { return count() >= want })
}

func waitState(t *testing.T, base, state string) {
	t.Helper()
	eventually(t, "state "+state, func() bool {
		return metricLine(t, base, `drwatch_pair_state{pair="orders",state="`+state+`"}`) == "1"
	})
}

func TestAPIAuthAndErrors(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	dir := t.TempDir()
	base, _ := run(t, modeConfig(t, dir, leader.URL(), follower.URL(), "semi-auto", true))
	waitState(t, base, "healthy")
	for _, tc := range []struct {
		path, token, body string
		code              int
		want              string
	}{
		{"/api/v1/pairs/orders/approve", "", "", 401, "bearer token"},
		{"/api/v1/pairs/orders/approve", "wrong-token-0123456789", "", 401, "bearer token"},
		{"/api/v1/pairs/nope/approve", apiToken, "", 404, "unknown pair"},
		{"/api/v1/pairs/orders/explode", apiToken, "", 404, "unknown action"},
		{"/api/v1/pairs/orders/approve", apiToken, "{not json", 400, "bad request body"},
		{"/api/v1/pairs/orders/approve", apiToken, `{"reasn":"typo"}`, 400, "unknown field"},
		{"/api/v1/pairs/orders/pause", apiToken, `{"for":"forever"}`, 400, "for"},
		{"/api/v1/pairs/orders/approve", apiToken, `{"reason":"x"}`, 409, "cannot approve a pair that is healthy"},
		{"/api/v1/pairs/orders/resume", apiToken, "", 409, "cannot resume"},
	} {
		code, body := call(t, base, tc.path, tc.token, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s (token %q, body %q) = %d %s; want %d containing %q", tc.path, tc.token, tc.body, code, body, tc.code, tc.want)
		}
	}
	// Pause and resume with the token.
	if code, body := call(t, base, "/api/v1/pairs/orders/pause", apiToken, `{"for":"1h","reason":"maintenance"}`); code != 200 || !strings.Contains(body, `"state": "paused"`) {
		t.Fatalf("pause = %d %s", code, body)
	}
	waitState(t, base, "paused")
	if code, body := call(t, base, "/api/v1/pairs/orders/resume", apiToken, ""); code != 200 {
		t.Fatalf("resume = %d %s", code, body)
	}
	waitState(t, base, "healthy")
}

// In dry-run mode the daemon writes nothing: approve and promote are
// refused (409) even with the token.
func TestDryRunRefusesPromotion(t *testing.T) {
	leader := fakeos.NewLeaderOf(t, "orders-1")
	follower := fakeos.NewCCRFollower(t, "orders-1")
	base, _ := run(t, modeConfig(t, t.TempDir(), leader.URL(), follower.URL(), "dry-run", true))
	waitState(t, base, "healthy")
	for _, action := range []string{"promote", "approve"} {
		if code, body := call(t, base, "/api/v1/pairs/orders/"+action, apiToken, ""); code != 409 || !strings.Contains(body, "dry-run") {
			t.Fatalf("%s in dry-run = %d %s", action, code, body)
		}
	}
	eventually(t, "rpo guard", func() bool { return metricLine(t, base, `drwatch_rpo_guard_passing{pair="orders"}`) == "1" })
	leader.Server.Close()
	follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	waitState(t, base, "leader_down")
	eventually(t, "would promote counted", func() bool {
		return metricLine(t, base, `drwatch_dry_run_would_promote_total{pair="orders"}`) == "1"
	})
	time.Sleep(500 * time.Millisecond)
	if !follower.IsFollower("orders-1") || follower.Hits("POST /_plugins/_replication/orders-1/_stop") != 0 {
		t.Fatal("dry-run touched the follower")
	}
	if v := metricLine(t, base, `drwatch_dry_run_would_promote_total{pair="orders"}`); v != "1" {
		t.Fatalf("would promote counted %s times in one episode", v)
	}
}

func TestAPIDisabledWithoutToken(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	base, _ := run(t, modeConfig(t, t.TempDir(), leader.URL(), follower.URL(), "semi-auto", false))
	waitState(t, base, "healthy")
	if code, body := call(t, base, "/api/v1/pairs/orders/promote", "anything", ""); code != 403 || !strings.Contains(body, "api.token_file") {
		t.Fatalf("promote without a configured token = %d %s", code, body)
	}
}

// semi-auto: the leader dies (drwatch and the follower both lose it), the
// pair awaits approval; approved through the API, it is promoted with the
// real executor against a stateful fake follower; a restart keeps it
// promoted and touches nothing.
func TestApprovalPromotesAndRestartKeepsPromoted(t *testing.T) {
	leader := fakeos.NewLeader(t)
	follower := fakeos.NewCCRFollower(t, "orders-1", "orders-2", "logs-1")
	dir := t.TempDir()
	cfg := modeConfig(t, dir, leader.URL(), follower.URL(), "semi-auto", true)
	base, stop := run(t, cfg)
	waitState(t, base, "healthy")
	eventually(t, "rpo guard", func() bool { return metricLine(t, base, `drwatch_rpo_guard_passing{pair="orders"}`) == "1" })

	leader.Server.Close()
	follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	waitState(t, base, "awaiting_approval")
	time.Sleep(300 * time.Millisecond)
	if follower.IsFollower("orders-1") == false {
		t.Fatal("semi-auto promoted without approval")
	}
	// A stale or missing request id is refused (409); the pending one is
	// approved.
	for _, stale := range []string{`{"by":"alice"}`, `{"id":"req-0","by":"alice"}`} {
		if code, body := call(t, base, "/api/v1/pairs/orders/approve", apiToken, stale); code != 409 || !strings.Contains(body, "stale approval") {
			t.Fatalf("approve %s = %d %s", stale, code, body)
		}
	}
	if code, body := call(t, base, "/api/v1/pairs/orders/approve", apiToken, `{"id":"`+approvalID(t, base)+`","reason":"leader gone","by":"alice"}`); code != 200 {
		t.Fatalf("approve = %d %s", code, body)
	}
	waitState(t, base, "promoted")
	for _, idx := range []string{"orders-1", "orders-2", "logs-1"} {
		if follower.IsFollower(idx) {
			t.Errorf("%s still a follower", idx)
		}
	}
	if r := follower.Rules(); len(r) != 0 {
		t.Errorf("autofollow rules left: %v", r)
	}
	if v := metricLine(t, base, `drwatch_promotions_total{pair="orders",result="success"}`); v != "1" {
		t.Errorf("promotions success = %q", v)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rec, err := journal.Read(dir, "orders")
	if err != nil || rec.State.Phase != "promoted" || rec.State.Approval == nil || rec.State.Approval.By != "alice" {
		t.Fatalf("journal = %+v, %v", rec, err)
	}

	// Restart: still promoted, no stop called again, a second promotion refused.
	stops := follower.Hits("POST /_plugins/_replication/orders-1/_stop")
	base2, _ := run(t, cfg)
	waitState(t, base2, "promoted")
	time.Sleep(500 * time.Millisecond)
	if got := follower.Hits("POST /_plugins/_replication/orders-1/_stop"); got != stops {
		t.Fatalf("restart called _stop again (%d -> %d)", stops, got)
	}
	if code, body := call(t, base2, "/api/v1/pairs/orders/promote", apiToken, ""); code != 409 || !strings.Contains(body, "promoted") {
		t.Fatalf("second promote = %d %s", code, body)
	}
}

// auto: leader and witness lost with a fresh zero lag: promoted with no
// human; drwatch cut off alone (the follower still sees the leader): never.
func TestAutoPromotesOnlyWhenFollowerLostLeaderToo(t *testing.T) {
	leader := fakeos.NewLeaderOf(t, "orders-1")
	follower := fakeos.NewCCRFollower(t, "orders-1")
	base, _ := run(t, modeConfig(t, t.TempDir(), leader.URL(), follower.URL(), "auto", true))
	waitState(t, base, "healthy")
	eventually(t, "rpo guard", func() bool { return metricLine(t, base, `drwatch_rpo_guard_passing{pair="orders"}`) == "1" })

	leader.Server.Close() // drwatch loses the leader; the follower still sees it
	waitState(t, base, "isolated")
	waitCycles(t, base, "orders", 10) // 10 x probe_interval > 3 x leader_down_after
	if !follower.IsFollower("orders-1") {
		t.Fatal("promoted while isolated")
	}
	follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	waitState(t, base, "promoted")
	if follower.IsFollower("orders-1") {
		t.Fatal("not promoted")
	}
}

func TestCorruptJournalStopsStart(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	dir := t.TempDir()
	cfg := modeConfig(t, dir, leader.URL(), follower.URL(), "auto", false)
	if err := os.WriteFile(filepath.Join(dir, "orders.json"), []byte(`{"version":1,"pair":"orders","state":{"phase":"promo`), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	err := app.Run(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Listener: ln})
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "orders.json") {
		t.Fatalf("Run = %v, want a corrupt-journal error naming the file", err)
	}
}

func TestStateDirLocked(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	dir := t.TempDir()
	cfg := modeConfig(t, dir, leader.URL(), follower.URL(), "auto", false)
	base, _ := run(t, cfg)
	waitState(t, base, "healthy")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	err := app.Run(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Listener: ln})
	if err == nil || !strings.Contains(err.Error(), "in use by another drwatch") {
		t.Fatalf("second Run = %v", err)
	}
}

// An Aiven pair is promoted through the Aiven API and never through the
// replication API: in auto mode, with the leader lost, its CCR integration
// is deleted (the fake then unfollows the index, as Aiven does:
// docs/aiven.md "What promote to standalone is") and no _stop reaches the
// follower.
// With the Aiven API failing, the attempt fails and says why, retries
// within its bounds, and nothing falls back to the replication API.
func TestAivenPairIsPromotedThroughTheAivenAPI(t *testing.T) {
	for _, apiDown := range []bool{false, true} {
		t.Run(map[bool]string{false: "api up", true: "api down"}[apiDown], func(t *testing.T) {
			const aivenToken = "avn-app-test-token-41c9e"
			leader := fakeos.NewLeaderOf(t, "orders-1")
			follower := fakeos.NewCCRFollower(t, "orders-1")
			av := fakeaiven.New(t, aivenToken)
			av.AddService("acme", fakeaiven.Service{Name: "os-prod"})
			av.AddService("acme", fakeaiven.Service{Name: "os-dr"})
			id := av.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
			av.OnDeleteCCR(func(context.Context, fakeaiven.Integration) error { follower.Unfollow("orders-1"); return nil })
			dir := t.TempDir()
			cfg := modeConfig(t, dir, leader.URL(), follower.URL(), "auto", true)
			t.Setenv("AIVEN_TOKEN_TEST", aivenToken)
			b, _ := os.ReadFile(cfg)
			b = []byte(strings.Replace(string(b), "    policy: fast\n", "    policy: fast\n    aiven: {project: acme, leader_service: os-prod, follower_service: os-dr, token_env: AIVEN_TOKEN_TEST, api_url: "+av.URL+"}\n", 1))
			if err := os.WriteFile(cfg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			base, _ := run(t, cfg)
			waitState(t, base, "healthy")
			// An unattended promotion needs a lag reading measured on
			// both sides (else drwatch asks for approval).
			eventually(t, "rpo guard", func() bool { return metricLine(t, base, `drwatch_rpo_guard_passing{pair="orders"}`) == "1" })
			if apiDown {
				av.Fail("", "/integration", http.StatusServiceUnavailable, 1<<30, "")
			}
			leader.Server.Close()
			follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
			if !apiDown {
				waitState(t, base, "promoted")
				if _, ok := av.Integration("acme", id); ok {
					t.Fatal("promoted, yet the CCR integration is still there")
				}
				if follower.IsFollower("orders-1") {
					t.Fatal("promoted, yet orders-1 is still a follower index")
				}
			} else {
				waitState(t, base, "failed")
				_, body := getURL(t, base+"/api/v1/status")
				var st struct {
					Pairs []struct {
						Decision struct {
							Reasons []string `json:"reasons"`
						} `json:"decision"`
					} `json:"pairs"`
				}
				if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Pairs) != 1 {
					t.Fatalf("status: %v %s", err, body)
				}
				why := strings.Join(st.Pairs[0].Decision.Reasons, " ")
				for _, want := range []string{"Aiven API", "503", "never with the replication API's _stop"} {
					if !strings.Contains(why, want) {
						t.Errorf("the failed state does not say %q: %s", want, why)
					}
				}
				if strings.Contains(body, aivenToken) {
					t.Fatal("the Aiven token is in the status")
				}
				if _, ok := av.Integration("acme", id); !ok || !follower.IsFollower("orders-1") {
					t.Fatal("a failed Aiven promotion changed something")
				}
			}
			if n := follower.HitsContaining("/_stop"); n != 0 {
				t.Fatalf("%d _stop requests reached the follower of an Aiven pair", n)
			}
		})
	}
}

// A promotion whose attempt failed before it changed anything (here: the
// plan step, the follower's settings call failing) is abandoned when the
// leader answers again - not retried against a healthy leader - and its
// record is forgotten, so that a later promotion plans afresh.
func TestFailedPromotionAbandonedWhenTheLeaderReturns(t *testing.T) {
	o := outage(t)
	leader, follower, dir, base, stop := o.leader, o.follower, o.dir, o.base, o.stop
	follower.FailSettings(500)
	o.approve(t)
	waitState(t, base, "failed")

	leader.Set(fakeos.RouteHealth, 200, fakeos.Health("green"))
	follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_connected.json")
	follower.FailSettings(0)
	waitState(t, base, "healthy")
	waitCycles(t, base, "orders", 5) // no retry
	if !follower.IsFollower("orders-1") || follower.Hits("POST /_plugins/_replication/orders-1/_stop") != 0 {
		t.Fatal("the abandoned promotion touched the follower")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rec, err := journal.Read(dir, "orders")
	if err != nil || rec.Promotion != nil || rec.State.Phase != "healthy" {
		t.Fatalf("journal: %+v, %v", rec, err)
	}
	last := rec.History[len(rec.History)-1]
	if last.From != "failed" || !strings.Contains(strings.Join(last.Reasons, " "), "abandoned") {
		t.Fatalf("last transition %+v", last)
	}
}

// The old leader comes back after the promotion: the daemon reports it
// (event, metric, status), write-blocks its copies of the promoted
// indices, records that, and then leaves it alone.
func TestOldLeaderReturnedIsFenced(t *testing.T) {
	o := outage(t)
	leader, dir, base, stop := o.leader, o.dir, o.base, o.stop
	o.approve(t)
	waitState(t, base, "promoted")
	const block = "PUT /orders-1/_block/write"
	if leader.Hits(block) != 0 {
		t.Fatal("fenced a leader that did not answer")
	}

	// The old leader answers again; its write block is refused at first.
	leader.Set(block, 403, `{"error":{"type":"security_exception","reason":"no permissions for [indices:admin/block/add]"},"status":403}`)
	leader.Set(fakeos.RouteHealth, 200, fakeos.Health("green"))
	eventually(t, "old leader reported", func() bool {
		return metricLine(t, base, `drwatch_old_leader_unfenced{pair="orders"}`) == "1"
	})
	if code, body := getURL(t, base+"/api/v1/status/orders"); code != 200 || !strings.Contains(body, "the old leader answers again after the promotion and is not fenced") {
		t.Fatalf("status: %d %s", code, body)
	}
	eventually(t, "fence retried", func() bool { return leader.Hits(block) >= 2 })
	leader.Fixture(block, "lab/block_write_ack.json")
	eventually(t, "old leader fenced", func() bool {
		return metricLine(t, base, `drwatch_old_leader_unfenced{pair="orders"}`) == "0"
	})
	hits := leader.Hits(block)
	waitCycles(t, base, "orders", 5)
	if leader.Hits(block) != hits || metricLine(t, base, `drwatch_pair_state{pair="orders",state="promoted"}`) != "1" {
		t.Fatalf("after the fence: %d more blocks, state %s", leader.Hits(block)-hits, metricLine(t, base, `drwatch_pair_state{pair="orders",state="promoted"}`))
	}
	for ev, want := range map[string]string{"old_leader_returned": "1", "old_leader_fenced": "1"} {
		if v := metricLine(t, base, `drwatch_events_total{event="`+ev+`",pair="orders"}`); v != want {
			t.Errorf("%s events = %q, want %s", ev, v, want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rec, err := journal.Read(dir, "orders")
	if err != nil || !rec.State.OldLeaderReturned || !rec.State.OldLeaderFenced {
		t.Fatalf("journal: %+v, %v", rec, err)
	}
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test's one request
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// approvalID reads the pending approval request's id from the status API.
func approvalID(t *testing.T, base string) string {
	t.Helper()
	_, body := getURL(t, base+"/api/v1/status/orders")
	var st struct {
		Pairs []struct {
			Decision struct {
				ApprovalID string `json:"approval_id"`
			} `json:"decision"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Pairs) != 1 || st.Pairs[0].Decision.ApprovalID == "" {
		t.Fatalf("no approval id in the status: %v %s", err, body)
	}
	return st.Pairs[0].Decision.ApprovalID
}

// anOutage is a semi-auto daemon over a fake leader that answers 503 and a
// follower that lost it: awaiting approval.
type anOutage struct {
	leader   *fakeos.Cluster
	follower *fakeos.CCRFollower
	dir      string
	base     string
	stop     func() error
}

func outage(t *testing.T) anOutage {
	t.Helper()
	o := anOutage{leader: fakeos.NewLeaderOf(t, "orders-1"), follower: fakeos.NewCCRFollower(t, "orders-1"), dir: t.TempDir()}
	o.base, o.stop = run(t, modeConfig(t, o.dir, o.leader.URL(), o.follower.URL(), "semi-auto", true))
	waitState(t, o.base, "healthy")
	o.leader.Set(fakeos.RouteHealth, 503, `{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]"},"status":503}`)
	o.follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	waitState(t, o.base, "awaiting_approval")
	return o
}

// approve approves the pending request through the API.
func (o anOutage) approve(t *testing.T) {
	t.Helper()
	if code, body := call(t, o.base, "/api/v1/pairs/orders/approve", apiToken, `{"id":"`+approvalID(t, o.base)+`","by":"alice"}`); code != 200 {
		t.Fatalf("approve = %d %s", code, body)
	}
}
