//go:build e2e && ccr

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// standalone checks, on the follower, that a promoted index is a normal
// index: its leader-index setting has no value, it carries no replication
// block (1000), and a write answers 201.
func standalone(t *testing.T, index string) {
	t.Helper()
	var settings map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/"+index+"/_settings?flat_settings=true", ""), &settings); err != nil {
		t.Fatal(err)
	}
	if v := settings[index].Settings["index.plugins.replication.follower.leader_index"]; v != nil {
		t.Errorf("%s still names its leader index: %v", index, v)
	}
	var state struct {
		Blocks struct {
			Indices map[string]map[string]json.RawMessage `json:"indices"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/_cluster/state/blocks/"+index, ""), &state); err != nil {
		t.Fatal(err)
	}
	if _, ok := state.Blocks.Indices[index]["1000"]; ok {
		t.Errorf("%s still carries the replication block 1000", index)
	}
	if code, body := osDo(t, lab.FollowerURL, "POST", "/"+index+"/_doc?refresh=true", `{"after":"promotion"}`); code != 201 {
		t.Errorf("%s: a write after promotion answered HTTP %d %s", index, code, body)
	}
}

func isFollower(t *testing.T, index string) bool {
	t.Helper()
	var settings map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/"+index+"/_settings?flat_settings=true", ""), &settings); err != nil {
		t.Fatal(err)
	}
	return settings[index].Settings["index.plugins.replication.follower.leader_index"] != nil
}

// The leader of two-shard indices killed (SIGKILL) in auto mode, with
// drwatch's leader-side lag at 0: drwatch detects it within
// leader_down_after + 2 probe intervals, promotes, every index is
// standalone, and the follower holds every acknowledged write, by id.
func TestCCRKilledLeaderAutoPromotesZeroLoss(t *testing.T) {
	noRefusalsOfDrwatch(t) // on a secured lab: least privilege, proven
	idx := replicated(t, "kill", 2, 2)
	acked := map[string][]string{}
	for _, ix := range idx {
		acked[ix] = writeIDs(t, ix, 0, 200)
	}
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("kill"))
	d := startDaemon(t, cfg)
	for _, ix := range idx {
		d.waitMetric(t, 60*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	// drwatch's "lag 0" checked on the clusters before the kill.
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Fatalf("drwatch said lag 0, but the follower lacks %d acknowledged writes of %s", len(m), ix)
		}
	}

	killed := time.Now()
	killLeader(t)
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	promotedIn := time.Since(killed)
	downAt := leaderDownAt(t, cfg)
	detect := downAt.Sub(killed)
	t.Logf("leader_down %s after SIGKILL, promoted %s after", detect.Round(time.Millisecond), promotedIn.Round(time.Millisecond))
	if detect > 3*time.Second+2*500*time.Millisecond+500*time.Millisecond {
		t.Errorf("detection took %s", detect)
	}
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost: %v", ix, len(m), len(acked[ix]), m[:min(len(m), 5)])
		}
		standalone(t, ix)
	}
	if v, _ := d.metric(t, `drwatch_promotions_total{pair="lab",result="success"}`); v != "1" {
		t.Errorf("promotions success = %q", v)
	}
}

// The leader killed while a client writes continuously (one write every
// 20 ms over two two-shard indices), with max_lag_operations 10 and 1000.
// An unattended promotion loses at most max_lag_operations acknowledged
// writes; if drwatch cannot show that, the pair waits for approval and
// says why. Either way the outcome is checked against the clusters, by
// id, and the loss is set beside drwatch's estimate.
func TestCCRKillUnderContinuousWrites(t *testing.T) {
	for _, maxLag := range []int{10, 1000} {
		t.Run(fmt.Sprint("max_lag_operations=", maxLag), func(t *testing.T) {
			prefix := fmt.Sprint("stream", maxLag)
			idx := replicated(t, prefix, 2, 2)
			cfg, _ := decisionConfigIndices(t, "", "auto", scope(prefix))
			rewrite(t, cfg, "max_lag_operations: 10\n", fmt.Sprintf("max_lag_operations: %d\n", maxLag))
			d := startDaemon(t, cfg)
			w := startWriter(t, idx, 20*time.Millisecond)
			eventually(t, 30*time.Second, "a lag reading measured on both clusters", func() bool {
				v, ok := d.metric(t, `drwatch_last_good_lag_timestamp_seconds{pair="lab"}`)
				return ok && v != "0"
			})
			time.Sleep(5 * time.Second) // writes flowing, drwatch measuring the lag
			killLeader(t)
			var final string
			eventually(t, 60*time.Second, "promoted or awaiting approval", func() bool {
				final = d.state(t)
				return final == "promoted" || final == "awaiting_approval"
			})
			w.Halt()
			lost := 0
			for _, ix := range idx {
				lost += len(missing(t, lab.FollowerURL, ix, w.Acked(ix)))
			}
			guard := d.decision(t).RPOGuard
			t.Logf("%d writes acknowledged; drwatch %s (%s); acknowledged writes missing on the follower: %d",
				w.Total(), final, guard, lost)
			switch final {
			case "promoted":
				if lost > maxLag {
					t.Fatalf("an unattended promotion lost %d acknowledged writes, max_lag_operations is %d", lost, maxLag)
				}
				for _, ix := range idx {
					standalone(t, ix)
				}
			case "awaiting_approval":
				if !strings.HasPrefix(guard, "RPO guard fails") {
					t.Fatalf("waiting for approval without saying why: %q", guard)
				}
				for _, ix := range idx {
					if !isFollower(t, ix) {
						t.Errorf("%s was changed while drwatch waits for approval", ix)
					}
				}
			}
			if maxLag == 1000 && final != "promoted" {
				t.Fatalf("a lag far below max_lag_operations %d, and no promotion: %q", maxLag, guard)
			}
		})
	}
}

// Lag above max_lag_operations when the leader dies, in auto mode: no
// promotion, awaiting_approval with the estimated loss - which is exactly
// what is lost once a human approves. The human approves with the exact
// command the approval_required page gave (as a hook received it).
func TestCCRLagAboveMaxAsksApprovalThenApproved(t *testing.T) {
	idx := replicated(t, "approve", 2, 1)
	cfg, tok := decisionConfigIndices(t, "", "auto", scope("approve")) // max_lag_operations: 10
	pages := filepath.Join(t.TempDir(), "pages.jsonl")
	withHooks(t, cfg, fmt.Sprintf(`  - name: pager
    type: exec
    command: ["/bin/sh", "-c", "cat >> %s; echo >> %s"]
    events: [leader_down, approval_required, approval_granted, promotion_succeeded]
`, pages, pages))
	var listen struct {
		Listen string `yaml:"listen_address"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, cfg)), &listen); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, "external_url: http://"+listen.Listen+"\n"+readFile(t, cfg))
	d := startDaemon(t, cfg)
	replicationCall(t, idx[1], "pause")
	acked := writeIDs(t, idx[1], 0, 50)
	d.waitMetric(t, 30*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, idx[1]), "50")
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "0")
	// Once the leader's write rate is back to 0 (the 50 writes are behind
	// the last reading), the estimate is the measured lag alone.
	eventually(t, 10*time.Second, "estimate of 50 operations", func() bool {
		return strings.HasSuffix(d.decision(t).RPOGuard, "estimated loss 50 operations")
	})

	killLeader(t)
	d.waitMetric(t, 20*time.Second, `drwatch_pair_state{pair="lab",state="awaiting_approval"}`, "1")
	d.waitCycles(t, "lab", 6)
	if st := d.state(t); st != "awaiting_approval" {
		t.Fatalf("state = %s, want awaiting_approval (lag 50 > 10)", st)
	}
	dec := d.decision(t)
	if !strings.HasSuffix(dec.RPOGuard, "estimated loss 50 operations") {
		t.Errorf("status does not give the estimated loss: %q", dec.RPOGuard)
	}
	// The page: the pending request, the estimated loss, the expiry and
	// what then, and the exact command - which is what the human runs.
	var page map[string]any
	eventually(t, 10*time.Second, "the approval_required page", func() bool {
		for _, ev := range hookEvents(t, pages) {
			if ev["event"] == "approval_required" {
				page = ev
			}
		}
		return page != nil
	})
	approval, _ := page["approval"].(map[string]any)
	lag, _ := page["lag"].(map[string]any)
	if approval["id"] != dec.ApprovalID || approval["expires_at"] == nil || approval["on_expiry"] != "drwatch holds (a human can still approve or promote)" ||
		!strings.HasSuffix(fmt.Sprint(lag["rpo_guard"]), "estimated loss 50 operations") {
		t.Fatalf("approval_required page: approval %v, lag %v (status says request %s)", approval, lag, dec.ApprovalID)
	}
	argv := strings.Fields(fmt.Sprint(approval["approve_command"]))
	if len(argv) < 2 || argv[0] != "drwatch" || !slices.Contains(argv, dec.ApprovalID) {
		t.Fatalf("approve_command %q", approval["approve_command"])
	}
	approve := exec.Command(drwatch, argv[1:]...)
	approve.Env = append(os.Environ(), "DRWATCH_API_TOKEN="+strings.TrimSpace(readFile(t, tok)))
	if out, err := approve.CombinedOutput(); err != nil {
		t.Fatalf("the page's command %v: %v\n%s", argv, err, out)
	}
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	eventually(t, 10*time.Second, "approval_granted and promotion_succeeded pages", func() bool {
		var names []string
		for _, ev := range hookEvents(t, pages) {
			names = append(names, fmt.Sprint(ev["event"]))
		}
		return slices.Contains(names, "approval_granted") && slices.Contains(names, "promotion_succeeded")
	})
	for _, ix := range idx {
		standalone(t, ix)
	}
	if m := missing(t, lab.FollowerURL, idx[1], acked); len(m) != 50 {
		t.Errorf("the estimate said 50 operations lost; %d acknowledged writes are missing", len(m))
	}
}

// dry-run: decides "would promote" and changes nothing on either cluster.
func TestCCRDryRunChangesNothing(t *testing.T) {
	idx := replicated(t, "dryrun", 2, 1)
	cfg, _ := decisionConfigIndices(t, "", "dry-run", scope("dryrun"))
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	killLeader(t)
	d.waitMetric(t, 20*time.Second, `drwatch_pair_state{pair="lab",state="leader_down"}`, "1")
	eventually(t, 10*time.Second, "dry-run would promote", func() bool {
		v, _ := d.metric(t, `drwatch_dry_run_would_promote_total{pair="lab"}`)
		return v != "" && v != "0"
	})
	d.waitCycles(t, "lab", 4)
	for _, ix := range idx {
		if !isFollower(t, ix) {
			t.Errorf("dry-run changed %s: no longer a follower", ix)
		}
		if code, _ := osDo(t, lab.FollowerURL, "POST", "/"+ix+"/_doc", `{"x":1}`); code == 201 {
			t.Errorf("dry-run made %s writable", ix)
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
	idx := replicated(t, "crash", 8, 1)
	crashBin := filepath.Join(repo, "bin", "drwatch-crashhook")
	build := exec.Command("go", "build", "-tags", "crashhook", "-o", crashBin, "./cmd/drwatch")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crashhook binary: %v\n%s", err, out)
	}
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("crash"))
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "    cooldown: 0s\n", "    cooldown: 0s\n    promote_concurrency: 2\n", 1))
	d := startDaemonWith(t, crashBin, []string{"DRWATCH_CRASH_AFTER_STOPS=4"}, cfg, true)
	d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
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
	if done := stopsDone(t, stepsFile); len(done) != 4 {
		t.Fatalf("stops journaled before the crash: %d, want 4", len(done))
	}

	d2 := startDaemon(t, cfg)
	d2.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	doneAfter := stopsDone(t, stepsFile)
	if len(doneAfter) != len(idx) {
		t.Fatalf("indices stopped: %d, want %d", len(doneAfter), len(idx))
	}
	for ix, n := range doneAfter {
		if n != 1 {
			t.Errorf("%s stopped %d times", ix, n)
		}
	}
	d2.kill(t)
	size := len(readFile(t, stepsFile))
	d3 := startDaemon(t, cfg)
	d3.waitMetric(t, 10*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	d3.waitCycles(t, "lab", 6)
	if len(readFile(t, stepsFile)) != size {
		t.Fatal("a restart of a promoted pair journaled new promotion steps")
	}
	for _, ix := range idx {
		standalone(t, ix)
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
// the follower catches up, and every acknowledged write is there: zero
// loss. The leader refuses writes afterwards.
func TestCCRGracefulPromotionZeroLoss(t *testing.T) {
	idx := replicated(t, "graceful", 2, 2)
	t.Cleanup(func() {
		for _, ix := range idx {
			osDo(t, lab.LeaderURL, "PUT", "/"+ix+"/_settings", `{"index.blocks.write":false}`)
		}
	})
	acked := map[string][]string{}
	for _, ix := range idx {
		acked[ix] = writeIDs(t, ix, 0, 300)
	}
	cfg, _ := decisionConfigIndices(t, "", "manual", scope("graceful"))
	code, out, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--graceful", "--yes", "--reason", "e2e planned move")
	if code != 0 {
		t.Fatalf("promote --graceful: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d acknowledged writes missing after a graceful promotion", ix, len(m))
		}
		standalone(t, ix)
		if code, _ := osDo(t, lab.LeaderURL, "POST", "/"+ix+"/_doc", `{"x":1}`); code == 201 {
			t.Errorf("leader %s still accepts writes after a graceful promotion", ix)
		}
	}
	// A second promotion of the same pair is refused.
	if code, _, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--yes"); code == 0 || !strings.Contains(errOut, "already promoted") {
		t.Fatalf("second promote: exit %d %s", code, errOut)
	}
}
