//go:build e2e && ccr

package e2e

// The chaos suite: faults during and after a failover, on the real lab.
// With the tests of decide_test.go (drwatch cut off from the leader only,
// a leader frozen shortly, a flapping leader), each case asserts what must
// and must not happen on the real clusters, and logs the time to the
// right final state.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	drlab "github.com/drwatch/drwatch/internal/lab"
)

var (
	crashOnce sync.Once
	crashPath string
	crashErr  error
)

// crashBinary builds drwatch with the crashhook tag (DRWATCH_CRASH_AFTER_*).
func crashBinary(t *testing.T) string {
	t.Helper()
	crashOnce.Do(func() {
		crashPath = filepath.Join(repo, "bin", "drwatch-crashhook")
		build := exec.Command("go", "build", "-tags", "crashhook", "-o", crashPath, "./cmd/drwatch")
		build.Dir = repo
		if out, err := build.CombinedOutput(); err != nil {
			crashErr = fmt.Errorf("build crashhook binary: %w\n%s", err, out)
		}
	})
	if crashErr != nil {
		t.Fatal(crashErr)
	}
	return crashPath
}

// runWith runs a binary with extra environment; it returns the exit code.
func runWith(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return 0, out.String()
}

// leaderRefusesWrites reports whether the leader's copy of index refuses a
// write with its write block.
func leaderRefusesWrites(t *testing.T, index string) bool {
	t.Helper()
	code, body := osDo(t, lab.LeaderURL, "POST", "/"+index+"/_doc", `{"probe":"fence"}`)
	var e struct {
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	return code == 403 && json.Unmarshal(body, &e) == nil && e.Error.Type == "cluster_block_exception"
}

// autofollowRules returns the names of the follower's autofollow rules.
func autofollowRules(t *testing.T) []string {
	t.Helper()
	var st struct {
		Rules []struct {
			Name string `json:"name"`
		} `json:"autofollow_stats"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/_plugins/_replication/autofollow_stats", ""), &st); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range st.Rules {
		out = append(out, r.Name)
	}
	return out
}

// drwatch killed (exit 99, a crashhook build) right after each promotion
// step in turn, then `drwatch promote` run again: it resumes from the
// journal and ends promoted, every index stopped exactly once, the leader
// fenced, the pair's autofollow rule gone.
func TestChaosCrashAfterEachStep(t *testing.T) {
	bin := crashBinary(t)
	for _, step := range []string{"plan", "fence", "delete_autofollow", "stop", "verify"} {
		t.Run(step, func(t *testing.T) {
			prefix := "c" + strings.ReplaceAll(step, "_", "")
			idx := replicated(t, prefix, 3, 1)
			t.Cleanup(func() {
				for _, ix := range idx {
					osDo(t, lab.LeaderURL, "PUT", "/"+ix+"/_settings", `{"index.blocks.write":false}`)
				}
			})
			rule := prefix + "-rule"
			osOK(t, lab.FollowerURL, "POST", "/_plugins/_replication/_autofollow",
				fmt.Sprintf(`{"leader_alias":%q,"name":%q,"pattern":"%s-%s-auto-*"%s}`, lab.Alias, rule, prefix, runID, useRoles()))
			t.Cleanup(func() {
				osDo(t, lab.FollowerURL, "DELETE", "/_plugins/_replication/_autofollow", fmt.Sprintf(`{"leader_alias":%q,"name":%q}`, lab.Alias, rule))
			})
			cfg, _ := decisionConfigIndices(t, "", "manual", scope(prefix))
			if code, out := runWith(t, bin, []string{"DRWATCH_CRASH_AFTER_STEP=" + step + ":done"}, "promote", "--config", cfg, "--pair", "lab", "--yes"); code != 99 {
				t.Fatalf("the crashhook build did not exit after %s: exit %d\n%s", step, code, out)
			}
			start := time.Now()
			if code, out, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--yes"); code != 0 {
				t.Fatalf("resume: exit %d\n%s%s", code, out, errOut)
			}
			stops := stopsDone(t, filepath.Join(filepath.Dir(cfg), "lab.steps.jsonl"))
			for _, ix := range idx {
				if stops[ix] != 1 {
					t.Errorf("%s stopped %d times", ix, stops[ix])
				}
				standalone(t, ix)
				if !leaderRefusesWrites(t, ix) {
					t.Errorf("the leader's %s is not fenced", ix)
				}
			}
			for _, r := range autofollowRules(t) {
				if r == rule {
					t.Errorf("autofollow rule %s left", rule)
				}
			}
			t.Logf("crashed after %s; resumed to promoted in %s", step, time.Since(start).Round(10*time.Millisecond))
		})
	}
}

// The old leader restarted after the promotion: drwatch reports it
// (old_leader_returned, drwatch_old_leader_unfenced 1) and fences it; its
// copies of the promoted indices refuse writes.
func TestChaosOldLeaderRestartedAfterPromotion(t *testing.T) {
	noRefusalsOfDrwatch(t) // on a secured lab: least privilege, proven
	idx := replicated(t, "oldleader", 2, 1)
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("oldleader"))
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	killLeader(t)
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	if v, _ := d.metric(t, `drwatch_events_total{event="old_leader_returned",pair="lab"}`); v != "" && v != "0" {
		t.Fatalf("old_leader_returned = %q while the leader is dead", v)
	}
	restarted := time.Now()
	restartLeader(t)
	took := d.waitMetric(t, 60*time.Second, `drwatch_events_total{event="old_leader_fenced",pair="lab"}`, "1")
	if v, _ := d.metric(t, `drwatch_events_total{event="old_leader_returned",pair="lab"}`); v != "1" {
		t.Errorf("old_leader_returned = %q", v)
	}
	if v, _ := d.metric(t, `drwatch_old_leader_unfenced{pair="lab"}`); v != "0" {
		t.Errorf("drwatch_old_leader_unfenced = %q after the fence", v)
	}
	for _, ix := range idx {
		if !leaderRefusesWrites(t, ix) {
			t.Errorf("the old leader's %s takes writes", ix)
		}
		standalone(t, ix)
	}
	t.Logf("old leader fenced within %s of the start of its restart (the node's start takes most of it; %s more after the lab said it was up)",
		time.Since(restarted).Round(10*time.Millisecond), took.Round(10*time.Millisecond))
}

// The follower down while the leader dies: drwatch cannot ask the witness,
// so it never decides the leader is down, never promotes, and says why.
func TestChaosFollowerDownDuringOutage(t *testing.T) {
	replicated(t, "fdown", 1, 1)
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("fdown"))
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	if err := stopNode(drlab.Follower); err != nil {
		t.Fatal(err)
	}
	killLeader(t)
	t.Cleanup(func() { // runs before the leader's restart, which needs the follower
		if err := startNode(drlab.Follower); err != nil {
			t.Errorf("restart follower: %v", err)
		}
	})
	stop := make(chan struct{})
	states := watchStates(t, d, stop)
	d.waitCycles(t, "lab", 16) // 16 x probe_interval: leader_down_after and then some
	close(stop)
	seen := <-states
	requireNeverDown(t, seen, "the follower down during the outage made drwatch")
	dec := d.decision(t)
	if dec.State != "suspect" || !strings.Contains(strings.Join(dec.Reasons, " "), "follower unreachable") {
		t.Fatalf("state %s, reasons %q", dec.State, dec.Reasons)
	}
	t.Logf("states seen: %v; reasons: %q", seen, dec.Reasons)
}

// state_dir unwritable (immutable, chattr +i) when the leader dies: no
// promotion starts, the state and the journal problem are shown; once the
// journal is writable again, the promotion runs and loses nothing.
func TestChaosStateDirUnwritableDuringOutage(t *testing.T) {
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		t.Fatal("chattr not found: install e2fsprogs (apt-get install e2fsprogs)")
	}
	idx := replicated(t, "rostate", 2, 1)
	acked := map[string][]string{}
	for _, ix := range idx {
		acked[ix] = writeIDs(t, ix, 0, 50)
	}
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("rostate"))
	dir := filepath.Dir(cfg)
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	if out, err := exec.Command(chattr, "+i", dir).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i %s: %v %s", dir, err, out)
	}
	writable := false
	makeWritable := func() {
		if !writable {
			writable = true
			if out, err := exec.Command(chattr, "-i", dir).CombinedOutput(); err != nil {
				t.Errorf("chattr -i %s: %v %s", dir, err, out)
			}
		}
	}
	t.Cleanup(makeWritable)
	killLeader(t)
	stop := make(chan struct{})
	states := watchStates(t, d, stop)
	d.waitCycles(t, "lab", 16)
	close(stop)
	seen := <-states
	if seen["promoting"] > 0 || seen["promoted"] > 0 {
		t.Fatalf("promoted with an unwritable journal: %v", seen)
	}
	_, body := d.get(t, "/api/v1/status")
	if !strings.Contains(body, "journal unwritable") || !strings.Contains(body, "no promotion starts until it can be journaled") {
		t.Fatalf("status does not show the journal problem: %s", body)
	}
	if v, _ := d.metric(t, `drwatch_events_total{event="journal_unwritable",pair="lab"}`); v != "1" {
		t.Errorf("journal_unwritable events = %q", v)
	}
	makeWritable()
	took := d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d acknowledged writes lost", ix, len(m))
		}
		standalone(t, ix)
	}
	t.Logf("states while unwritable: %v; promoted %s after the journal was writable again", seen, took.Round(10*time.Millisecond))
}

// The leader partitioned from everyone (drwatch's link and the follower's
// cut by TCP proxies), the promotion starts (its fence skipped: nothing
// answers), and the partition heals after the first stop: the leader is
// fenced before any further stop. The window in which both copies of an
// already stopped index took writes - from the heal to the fence - is
// measured on the real clusters.
func TestChaosPartitionHealsDuringPromotion(t *testing.T) {
	idx := replicated(t, "heal", 12, 1)
	fpx := newTCPProxy(t, "follower-leader", lab.LeaderTransport)
	useProxy(t, fpx.Addr())
	t.Cleanup(func() { useSeeds(t) })
	waitRemoteConnected(t, 60*time.Second)
	dpx := newTCPProxy(t, "drwatch-leader", strings.TrimPrefix(lab.LeaderURL, "http://"))
	cfg, _ := decisionConfigIndices(t, "http://"+dpx.Addr(), "auto", scope("heal"))
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "    cooldown: 0s\n", "    cooldown: 0s\n    promote_concurrency: 1\n", 1))
	t.Cleanup(func() {
		for _, ix := range idx {
			osDo(t, lab.LeaderURL, "PUT", "/"+ix+"/_settings", `{"index.blocks.write":false}`)
		}
	})
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")

	dpx.Cut()
	fpx.Cut()
	steps := filepath.Join(filepath.Dir(cfg), "lab.steps.jsonl")
	deadline := time.Now().Add(60 * time.Second)
	for { // poll fast: the stops follow each other within a second
		if b, _ := os.ReadFile(steps); bytes.Contains(b, []byte(`"name":"stop","target"`)) && len(stopsDone(t, steps)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no stop journaled within 60s of the partition")
		}
		time.Sleep(5 * time.Millisecond)
	}
	healed := time.Now()
	dpx.Restore(t)
	fpx.Restore(t)
	// Probe the old leader's copy of the first stopped index: it takes
	// writes until drwatch fences it.
	var first string
	for ix := range stopsDone(t, steps) {
		first = ix
	}
	var bothWritable atomic.Int64
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for time.Since(healed) < 30*time.Second {
			code, _ := osDo(t, lab.LeaderURL, "POST", "/"+first+"/_doc", `{"probe":"split"}`)
			if code == 403 {
				return
			}
			if code == 201 {
				bothWritable.Store(int64(time.Since(healed)))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	<-probeDone

	// In the journal: the fence is done, and every stop after it was
	// started after it.
	b := readFile(t, steps)
	fenceAt := -1
	stopsAfter, stopsBefore := 0, 0
	for i, line := range strings.Split(strings.TrimSpace(b), "\n") {
		var l struct {
			Step struct{ Name, Target, Status string } `json:"step"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Step.Name == "fence" && l.Step.Target == "" && l.Step.Status == "done":
			fenceAt = i
		case l.Step.Name == "stop" && l.Step.Status == "started" && fenceAt < 0:
			stopsBefore++
		case l.Step.Name == "stop" && l.Step.Status == "started":
			stopsAfter++
		}
	}
	if fenceAt < 0 || stopsAfter == 0 || stopsBefore+stopsAfter != len(idx) {
		t.Fatalf("fence at line %d, %d stops before it, %d after: want a fence before the remaining stops", fenceAt, stopsBefore, stopsAfter)
	}
	for _, ix := range idx {
		standalone(t, ix)
		if !leaderRefusesWrites(t, ix) {
			t.Errorf("the old leader's %s takes writes", ix)
		}
	}
	t.Logf("%d stops before the heal, the fence, then %d; both copies of %s took writes for %s after the heal",
		stopsBefore, stopsAfter, first, time.Duration(bothWritable.Load()).Round(time.Millisecond))
}
