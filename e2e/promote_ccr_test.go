//go:build e2e && ccr

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The lab's replicated sample indices (deploy/lab/lab.sh).
var sampleIndices = []string{"orders-1", "orders-2", "logs-1"}

// resetReplication puts the lab back as lab.sh up leaves it: leader
// unfenced, follower indices deleted and replicated again, the autofollow
// rule recreated. Register it before killing the leader so that it runs
// after the leader's restart (cleanups run last-in first-out).
func resetReplication(t *testing.T, extra ...string) {
	t.Helper()
	t.Cleanup(func() {
		all := append(append([]string(nil), sampleIndices...), extra...)
		for _, idx := range all {
			osDo(t, lab.LeaderURL, "PUT", "/"+idx+"/_settings", `{"index.blocks.write":false}`)
			osDo(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+idx+"/_stop", "{}")
			osDo(t, lab.FollowerURL, "DELETE", "/"+idx, "")
		}
		for _, idx := range extra {
			osDo(t, lab.LeaderURL, "DELETE", "/"+idx, "")
		}
		osDo(t, lab.FollowerURL, "DELETE", "/_plugins/_replication/_autofollow", fmt.Sprintf(`{"leader_alias":%q,"name":"logs"}`, lab.Alias))
		for _, idx := range []string{"orders-1", "orders-2"} {
			osOK(t, lab.FollowerURL, "PUT", "/_plugins/_replication/"+idx+"/_start?wait_for_restore=true",
				fmt.Sprintf(`{"leader_alias":%q,"leader_index":%q}`, lab.Alias, idx))
		}
		osOK(t, lab.FollowerURL, "POST", "/_plugins/_replication/_autofollow", fmt.Sprintf(`{"leader_alias":%q,"name":"logs","pattern":"logs-*"}`, lab.Alias))
		waitCaughtUp(t, config(t, "", ""))
	})
}

// count returns the number of documents in an index.
func count(t *testing.T, base, index string) int {
	t.Helper()
	osDo(t, base, "POST", "/"+index+"/_refresh", "")
	b := osOK(t, base, "GET", "/"+index+"/_count", "")
	var c struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Count
}

func isFollower(t *testing.T, index string) bool {
	t.Helper()
	b := osOK(t, lab.FollowerURL, "GET", "/"+index+"/_settings?flat_settings=true", "")
	return strings.Contains(string(b), "index.plugins.replication.follower.leader_index")
}

// writable indexes one document into a follower index.
func writable(t *testing.T, index string) bool {
	t.Helper()
	code, _ := osDo(t, lab.FollowerURL, "POST", "/"+index+"/_doc?refresh=true", `{"after":"promotion"}`)
	return code == 201
}

// The leader killed (SIGKILL) in auto mode with replication caught up:
// drwatch detects it within leader_down_after + 2 probe intervals,
// promotes, every in-scope index is writable, and the follower holds every
// document the leader acknowledged and replicated before the kill.
func TestCCRKilledLeaderAutoPromotes(t *testing.T) {
	resetReplication(t)
	for _, idx := range sampleIndices {
		writeDocs(t, idx, 20)
	}
	waitCaughtUp(t, config(t, "", ""))
	acked := map[string]int{}
	for _, idx := range sampleIndices {
		acked[idx] = count(t, lab.LeaderURL, idx)
	}
	cfg, _ := decisionConfig(t, "", "auto")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_pair_state{pair="lab",state="healthy"}`, "1")
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")

	killed := time.Now()
	killLeader(t)
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	promotedIn := time.Since(killed)

	downAt := leaderDownAt(t, cfg)
	detect := downAt.Sub(killed)
	t.Logf("leader_down %s after SIGKILL, promoted %s after", detect.Round(time.Millisecond), promotedIn.Round(time.Millisecond))
	if downAt.IsZero() || detect > 3*time.Second+2*500*time.Millisecond+500*time.Millisecond {
		t.Fatalf("detection took %s", detect)
	}
	for _, idx := range sampleIndices {
		if isFollower(t, idx) {
			t.Errorf("%s is still a follower index", idx)
		}
		if got := count(t, lab.FollowerURL, idx); got != acked[idx] {
			t.Errorf("%s: follower has %d documents, the leader acknowledged %d", idx, got, acked[idx])
		}
		if !writable(t, idx) {
			t.Errorf("%s is not writable after promotion", idx)
		}
	}
	if v, _ := d.metric(t, `drwatch_promotions_total{pair="lab",result="success"}`); v != "1" {
		t.Errorf("promotions success = %q", v)
	}
}

// Lag above max_lag_operations when the leader dies, in auto mode: no
// promotion, awaiting_approval with the estimated loss; approved with the
// CLI, it promotes.
func TestCCRLagAboveMaxAsksApprovalThenApproved(t *testing.T) {
	resetReplication(t)
	waitCaughtUp(t, config(t, "", ""))
	cfg, tok := decisionConfig(t, "", "auto") // max_lag_operations: 10
	d := startDaemon(t, cfg)
	replicationCall(t, "orders-2", "pause")
	writeDocs(t, "orders-2", 50)
	d.waitMetric(t, 30*time.Second, `drwatch_replication_lag_operations{index="orders-2",pair="lab"}`, "50")
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "0")

	killLeader(t)
	d.waitMetric(t, 20*time.Second, `drwatch_pair_state{pair="lab",state="awaiting_approval"}`, "1")
	time.Sleep(3 * time.Second)
	if st := d.state(t); st != "awaiting_approval" {
		t.Fatalf("state = %s, want awaiting_approval (lag 50 > 10)", st)
	}
	_, body := d.get(t, "/api/v1/status")
	if !strings.Contains(body, "estimated loss 50 operations") {
		t.Errorf("status does not give the estimated loss: %s", body)
	}
	code, out, errOut := runCLI(t, "approve", "--server", d.base, "--pair", "lab", "--token-file", tok, "--reason", "e2e: accept the loss")
	if code != 0 {
		t.Fatalf("approve: %d %s %s", code, out, errOut)
	}
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	for _, idx := range sampleIndices {
		if isFollower(t, idx) || !writable(t, idx) {
			t.Errorf("%s not promoted", idx)
		}
	}
}

// dry-run: decides "would promote" and changes nothing on either cluster.
func TestCCRDryRunChangesNothing(t *testing.T) {
	resetReplication(t)
	waitCaughtUp(t, config(t, "", ""))
	cfg, _ := decisionConfig(t, "", "dry-run")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	killLeader(t)
	d.waitMetric(t, 20*time.Second, `drwatch_pair_state{pair="lab",state="leader_down"}`, "1")
	eventually(t, 10*time.Second, "dry-run would promote", func() bool {
		v, _ := d.metric(t, `drwatch_dry_run_would_promote_total{pair="lab"}`)
		return v != "" && v != "0"
	})
	time.Sleep(2 * time.Second)
	for _, idx := range sampleIndices {
		if !isFollower(t, idx) {
			t.Errorf("dry-run changed %s: no longer a follower", idx)
		}
		if writable(t, idx) {
			t.Errorf("dry-run made %s writable", idx)
		}
	}
	if v, _ := d.metric(t, `drwatch_promotions_total{pair="lab",result="success"}`); v != "0" {
		t.Errorf("promotions = %q in dry-run", v)
	}
}

// drwatch killed in the middle of a promotion (a test build that exits
// after 4 stops), then restarted: it finishes the rest; the indices
// already stopped are not touched again; a second restart does nothing.
func TestCCRCrashMidPromotionResumes(t *testing.T) {
	var extra []string
	for i := range 8 {
		extra = append(extra, fmt.Sprintf("crash-%02d", i))
	}
	resetReplication(t, extra...)
	for _, idx := range extra {
		osOK(t, lab.LeaderURL, "PUT", "/"+idx, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
		writeDocs(t, idx, 3)
		osOK(t, lab.FollowerURL, "PUT", "/_plugins/_replication/"+idx+"/_start?wait_for_restore=true",
			fmt.Sprintf(`{"leader_alias":%q,"leader_index":%q}`, lab.Alias, idx))
	}
	waitCaughtUp(t, config(t, "", ""))

	crashBin := filepath.Join(repo, "bin", "drwatch-crashhook")
	build := exec.Command("go", "build", "-tags", "crashhook", "-o", crashBin, "./cmd/drwatch")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crashhook binary: %v\n%s", err, out)
	}
	cfg, _ := decisionConfig(t, "", "auto")
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "    cooldown: 0s\n", "    cooldown: 0s\n    promote_concurrency: 2\n", 1))
	d := startDaemonWith(t, crashBin, []string{"DRWATCH_CRASH_AFTER_STOPS=4"}, cfg, true)
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	killLeader(t)
	select {
	case <-d.exit:
	case <-time.After(60 * time.Second):
		t.Fatal("the crashhook build did not exit mid-promotion")
	}
	if d.code != 99 {
		t.Fatalf("exit code %d, want 99 (crashhook)", d.code)
	}
	stepsFile := filepath.Join(filepath.Dir(cfg), "lab.steps.jsonl")
	doneBefore := stopsDone(t, stepsFile)
	if len(doneBefore) != 4 {
		t.Fatalf("stops journaled before the crash: %d, want 4", len(doneBefore))
	}

	d2 := startDaemon(t, cfg)
	d2.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	doneAfter := stopsDone(t, stepsFile)
	total := len(sampleIndices) + len(extra)
	if len(doneAfter) != total {
		t.Fatalf("indices stopped: %d, want %d", len(doneAfter), total)
	}
	for idx, n := range doneAfter {
		if n != 1 {
			t.Errorf("%s stopped %d times", idx, n)
		}
	}
	d2.kill(t)
	size := len(readFile(t, stepsFile))
	d3 := startDaemon(t, cfg)
	d3.waitMetric(t, 10*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	time.Sleep(3 * time.Second)
	if len(readFile(t, stepsFile)) != size {
		t.Fatal("a restart of a promoted pair journaled new promotion steps")
	}
	for _, idx := range append(sampleIndices, extra...) {
		if isFollower(t, idx) || !writable(t, idx) {
			t.Errorf("%s not promoted", idx)
		}
	}
}

// stopsDone counts the journaled successful stops per index.
func stopsDone(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var l struct {
			Step struct {
				Name, Target, Status string
			} `json:"step"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Step.Name == "stop" && l.Step.Status == "done" {
			out[l.Step.Target]++
		}
	}
	return out
}

// A graceful promotion with the leader alive: the leader is write-blocked,
// the follower catches up, and every document is there: zero loss.
func TestCCRGracefulPromotionZeroLoss(t *testing.T) {
	resetReplication(t)
	for _, idx := range sampleIndices {
		writeDocs(t, idx, 30)
	}
	cfg, _ := decisionConfig(t, "", "manual")
	code, out, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--graceful", "--yes", "--reason", "e2e planned move")
	if code != 0 {
		t.Fatalf("promote --graceful: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, idx := range sampleIndices {
		if l, f := count(t, lab.LeaderURL, idx), count(t, lab.FollowerURL, idx); l != f {
			t.Errorf("%s: leader %d documents, follower %d", idx, l, f)
		}
		if isFollower(t, idx) || !writable(t, idx) {
			t.Errorf("%s not promoted", idx)
		}
		if code, _ := osDo(t, lab.LeaderURL, "POST", "/"+idx+"/_doc", `{"x":1}`); code == 201 {
			t.Errorf("leader %s still accepts writes after a graceful promotion", idx)
		}
	}
	// A second promotion of the same pair is refused.
	if code, _, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--yes"); code == 0 || !strings.Contains(errOut, "already promoted") {
		t.Fatalf("second promote: exit %d %s", code, errOut)
	}
}
