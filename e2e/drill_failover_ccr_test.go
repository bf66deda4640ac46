//go:build e2e && ccr

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acked"
	"github.com/drwatch/drwatch/internal/drill"
)

// autofollowed creates a leader index matching an autofollow rule of the
// test's own and waits until the rule has it syncing on the follower.
// Cleanup deletes the rule and both sides.
func autofollowed(t *testing.T, prefix string) (rule, pattern, index string) {
	t.Helper()
	rule = prefix + "-" + runID
	pattern = fmt.Sprintf("%s-%s-*", prefix, runID)
	index = fmt.Sprintf("%s-%s-00", prefix, runID)
	t.Cleanup(func() {
		osDo(t, lab.FollowerURL, "DELETE", "/_plugins/_replication/_autofollow", fmt.Sprintf(`{"leader_alias":%q,"name":%q}`, lab.Alias, rule))
		osDo(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+index+"/_stop", "{}")
		osDo(t, lab.FollowerURL, "DELETE", "/"+index, "")
		osDo(t, lab.LeaderURL, "DELETE", "/"+index, "")
	})
	osOK(t, lab.LeaderURL, "PUT", "/"+index, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
	osOK(t, lab.FollowerURL, "POST", "/_plugins/_replication/_autofollow",
		fmt.Sprintf(`{"leader_alias":%q,"name":%q,"pattern":%q%s}`, lab.Alias, rule, pattern, useRoles()))
	eventually(t, 120*time.Second, index+" autofollowed and syncing", func() bool { return syncing(t, index) })
	return rule, pattern, index
}

func syncing(t *testing.T, index string) bool {
	var st struct {
		Status string `json:"status"`
	}
	code, b := osDo(t, lab.FollowerURL, "GET", "/_plugins/_replication/"+index+"/_status", "")
	return code == 200 && json.Unmarshal(b, &st) == nil && st.Status == "SYNCING"
}

// latestReport reads the drill's newest report from the daemon's API.
func (d *daemon) latestReport(t *testing.T, name string) (drill.Report, bool) {
	t.Helper()
	code, body := d.get(t, "/api/v1/drills/"+name+"/reports/latest")
	var r drill.Report
	if code != 200 {
		return r, false
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("drill report: not JSON: %v: %s", err, body)
	}
	return r, true
}

func hasStage(r drill.Report, name string) bool {
	return r.Failover != nil && slices.ContainsFunc(r.Failover.Stages, func(s drill.Stage) bool { return s.Name == name && s.Status == "done" })
}

// A failover drill, twice in a row, on a pair in auto mode whose daemon
// runs it (`drwatch drill` asks the daemon, which owns the journal):
// each promotes gracefully while a writer writes to the leader until the
// write block - every write the leader acknowledged is on the promoted
// follower, counted by id from outside while the drill holds - and then
// restores replication as it was (two indices started by hand, one by an
// autofollow rule): each a follower index again, syncing, with what the
// leader takes next arriving on the follower. The pair is handed back:
// healthy, and drwatch would promote it in a real outage.
func TestFailoverDrillTwiceZeroLoss(t *testing.T) {
	noRefusalsOfDrwatch(t)          // on a secured lab: least privilege, proven
	mapDrwatchToReplicationRoles(t) // the restore starts replication with use_roles
	started := replicated(t, "fodrill", 2, 2)
	rule, pattern, auto := autofollowed(t, "fodrillauto")
	all := append(slices.Clone(started), auto)
	cfg, _ := decisionConfigIndices(t, "", "auto", fmt.Sprintf(`["fodrill-%s-*", %q]`, runID, pattern))
	s := readFile(t, cfg)
	s = strings.Replace(s, "    policy: fast", "    allow_destructive_drills: true\n    policy: fast", 1)
	s += "drills:\n  - name: staging-failover\n    pair: lab\n    schedule: \"@yearly\"\n    type: failover\n"
	writeFile(t, cfg, s)
	if code, _, errOut := runCLI(t, "check", "--config", cfg); code != 0 {
		t.Fatalf("config invalid: %s", errOut)
	}
	hold := filepath.Join(t.TempDir(), "release")
	d := startDaemonWith(t, crashBinary(t), []string{"DRWATCH_DRILL_HOLD_AFTER_PROMOTE=" + hold}, cfg, true)
	d.waitMetric(t, 60*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")

	prevID := ""
	for run := 1; run <= 2; run++ {
		_ = os.Remove(hold)
		w := acked.StartStreamTagged(lab.LeaderURL, all, 10*time.Millisecond, fmt.Sprintf("r%d-", run))
		t.Cleanup(w.Halt)
		eventually(t, 30*time.Second, "the writer writing", func() bool { return w.Total() >= 60 })

		type result struct {
			code        int
			out, errOut string
		}
		done := make(chan result, 1)
		go func() {
			code, out, errOut := runCLI(t, "drill", "--config", cfg, "--name", "staging-failover", "--json")
			done <- result{code, out, errOut}
		}()
		// Promoted, held before the restore: look from outside.
		var rep drill.Report
		eventually(t, 3*time.Minute, "the drill promoted", func() bool {
			select {
			case res := <-done:
				t.Fatalf("run %d: drwatch drill ended before the drill's promotion was seen: exit %d\n%s\n%s", run, res.code, res.out, res.errOut)
			default:
			}
			r, ok := d.latestReport(t, "staging-failover")
			rep = r
			return ok && r.ID != prevID && hasStage(r, "measure")
		})
		if got := d.state(t); got != "promoted" {
			t.Fatalf("run %d: the pair is %s while the drill holds after its promotion, want promoted", run, got)
		}
		w.Halt() // writes failed since the block; what was acknowledged is final
		total := 0
		for _, ix := range all {
			ids := w.Acked(ix)
			total += len(ids)
			if m := missing(t, lab.FollowerURL, ix, ids); len(m) != 0 {
				t.Errorf("run %d: %s: %d of %d acknowledged writes missing on the promoted follower", run, ix, len(m), len(ids))
			}
			standalone(t, ix)
		}
		if n := rep.Failover.Lost; len(n) != len(all) {
			t.Errorf("run %d: the drill measured %d indices, want %d: %v", run, len(n), len(all), n)
		}
		writeFile(t, hold, "go\n")

		var res result
		select {
		case res = <-done:
		case <-time.After(12 * time.Minute):
			t.Fatalf("run %d: drwatch drill did not return", run)
		}
		if res.code != 0 {
			t.Fatalf("run %d: drwatch drill exited %d\n%s\n%s", run, res.code, res.out, res.errOut)
		}
		if err := json.Unmarshal([]byte(res.out), &rep); err != nil {
			t.Fatalf("run %d: drwatch drill --json: not JSON: %v\n%s", run, err, res.out)
		}
		prevID = rep.ID
		f := rep.Failover
		if rep.Result != drill.ResultPassed || f == nil || f.WritableAfter <= 0 || f.RestoredAfter <= 0 || len(f.Finish) != 0 {
			t.Fatalf("run %d: report: %s", run, res.out)
		}
		for ix, n := range f.Lost {
			if n != 0 {
				t.Errorf("run %d: the drill says %s lost %d documents", run, ix, n)
			}
		}
		if len(f.Before.Started) != 2 || f.Before.Autofollowed[auto] != auto || f.Before.Rules[rule] != pattern {
			t.Errorf("run %d: the drill's snapshot of the replication: %+v", run, f.Before)
		}

		// Restored, as the clusters say: each a follower again, syncing,
		// the rule back, and new leader writes arriving on the follower.
		for _, ix := range all {
			if !isFollower(t, ix) || !syncing(t, ix) {
				t.Errorf("run %d: %s is not a syncing follower index after the restore", run, ix)
			}
		}
		if !slices.Contains(autofollowRules(t), rule) {
			t.Errorf("run %d: autofollow rule %s was not re-created: %v", run, rule, autofollowRules(t))
		}
		after := map[string][]string{}
		for _, ix := range all {
			ids, err := acked.Bulk(t.Context(), lab.LeaderURL, ix, 100000*run, 20)
			if err != nil || len(ids) != 20 {
				t.Fatalf("run %d: the leader does not take writes after the restore: %v (%d acked)", run, err, len(ids))
			}
			after[ix] = ids
		}
		eventually(t, 60*time.Second, "new leader writes replicated", func() bool {
			for ix, ids := range after {
				if len(missing(t, lab.FollowerURL, ix, ids)) != 0 {
					return false
				}
			}
			return true
		})
		d.waitMetric(t, 30*time.Second, `drwatch_pair_state{pair="lab",state="healthy"}`, "1")
		d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
		t.Logf("MEASURE failover drill run %d: %d acknowledged writes, 0 lost; writable %.2fs after the drill's promotion started, replication restored (syncing, lag 0) %.2fs after, the whole drill %.2fs",
			run, total, f.WritableAfter, f.RestoredAfter, rep.Duration)
		t.Logf("MEASURE failover drill run %d, the promotion's steps: %s", run, strings.Join(f.Steps, ", "))
		if len(f.Steps) == 0 {
			t.Errorf("run %d: the report has no promotion steps", run)
		}
	}
	if v, _ := d.metric(t, `drwatch_drill_runs_total{drill="staging-failover",result="passed"}`); v != "2" {
		t.Errorf("drill_runs_total{passed} = %q, want 2", v)
	}
	if v, _ := d.metric(t, `drwatch_promotions_total{pair="lab",result="success"}`); v != "2" {
		t.Errorf("promotions_total{success} = %q, want 2 (one per drill, through the one runner)", v)
	}
}
