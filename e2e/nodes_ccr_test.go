//go:build e2e && ccr && nodes

// The three-node lab's own tests (LAB_NODES=3, deploy/e2e.sh's third
// run): clusters with an elected cluster manager, drwatch given every
// node's url. One leader node lost is no outage; the whole leader cluster
// lost is; the follower's cluster manager lost in the middle of a
// promotion leaves every index standalone exactly once, nothing
// acknowledged lost.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acked"
	drlab "github.com/drwatch/drwatch/internal/lab"
	"github.com/drwatch/drwatch/internal/promote"
)

func requireNodes(t *testing.T) {
	t.Helper()
	if lab.NodeCount < 3 {
		t.Fatalf("the nodes tests need clusters of three nodes: LAB_NODES=3 (deploy/e2e.sh runs them so); this lab has %d", lab.NodeCount)
	}
}

// nodesConfig is an auto-mode config of prefix's indices with every node
// of both clusters in urls: and a policy whose leader_down_after outlasts a
// cluster manager's election.
func nodesConfig(t *testing.T, prefix string) string {
	t.Helper()
	cfg, _ := decisionConfigIndices(t, "", "auto", scope(prefix))
	list := func(urls []string) string { return `["` + strings.Join(urls, `", "`) + `"]` }
	rewrite(t, cfg, "      url: "+lab.LeaderURL+"\n", "      urls: "+list(lab.LeaderURLs)+"\n")
	rewrite(t, cfg, "      url: "+lab.FollowerURL+"\n", "      urls: "+list(lab.FollowerURLs)+"\n")
	rewrite(t, cfg, "    leader_down_after: 2s\n", "    leader_down_after: 8s\n")
	if code, _, errOut := runCLI(t, "check", "--config", cfg); code != 0 {
		t.Fatalf("config invalid: %s\n%s", errOut, readFile(t, cfg))
	}
	return cfg
}

func clusterManager(t *testing.T, cluster drlab.Node) drlab.Node {
	t.Helper()
	var m drlab.Node
	eventually(t, 60*time.Second, string(cluster)+" has an elected cluster manager", func() bool {
		var err error
		m, err = theLab.ClusterManager(context.Background(), cluster)
		return err == nil
	})
	return m
}

func restartNode(t *testing.T, n drlab.Node) {
	t.Helper()
	if err := theLab.StartNode(context.Background(), n); err != nil {
		t.Errorf("restart %s: %v", n, err)
	}
}

// One node of the leader's three killed - a data node, then the elected
// cluster manager - is no outage: the cluster goes on serving, drwatch
// (given every node's url) never calls the leader down, nothing is
// promoted.
func TestNodesOneLeaderNodeKilledIsNoOutage(t *testing.T) {
	requireNodes(t)
	idx := replicated(t, "onenode", 2, 2)
	cfg := nodesConfig(t, "onenode")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 60*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	manager := clusterManager(t, drlab.Leader)
	var other drlab.Node
	for _, m := range theLab.Config().Members(drlab.Leader) {
		if m != manager && m != drlab.Leader { // not the node of LEADER_URL either
			other = m
		}
	}
	for _, victim := range []drlab.Node{other, manager} {
		t.Run(string(victim), func(t *testing.T) {
			stop := make(chan struct{})
			seen := watchStates(t, d, stop)
			killNode(t, victim)
			killed := time.Now()
			// the cluster still takes writes, on every index, through a
			// node that is alive (the elected manager may be the node of
			// the first url)
			via := ""
			for i, m := range theLab.Config().Members(drlab.Leader) {
				if m != victim && via == "" {
					via = lab.LeaderURLs[i]
				}
			}
			w := acked.StartStreamTagged(via, idx, 20*time.Millisecond, "one-"+string(victim)+"-")
			time.Sleep(20 * time.Second)
			w.Halt()
			close(stop)
			requireNeverDown(t, <-seen, string(victim)+" killed")
			for _, ix := range idx {
				if len(w.Acked(ix)) == 0 {
					t.Errorf("%s took no write in the 20s after %s was killed", ix, victim)
				}
			}
			if v, _ := d.metric(t, `drwatch_pair_state{pair="lab",state="promoted"}`); v == "1" {
				t.Fatal("promoted")
			}
			t.Logf("MEASURE nodes: %s of the leader's 3 killed: no outage in %s; writes acknowledged %d", victim, time.Since(killed).Round(time.Second), w.Total())
			restartNode(t, victim)
		})
	}
}

// The whole leader cluster killed: drwatch fails over as it does for one
// node, every acknowledged write on the promoted follower.
func TestNodesWholeLeaderClusterKilledFailsOver(t *testing.T) {
	requireNodes(t)
	idx := replicated(t, "allnodes", 2, 2)
	ackedIDs := map[string][]string{}
	for _, ix := range idx {
		ackedIDs[ix] = writeIDs(t, ix, 0, 100)
	}
	cfg := nodesConfig(t, "allnodes")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 60*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	killed := time.Now()
	if err := theLab.KillCluster(drlab.Leader); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := theLab.StartCluster(context.Background(), drlab.Leader); err != nil {
			t.Errorf("restart the leader cluster: %v", err)
		}
	})
	d.waitMetric(t, 90*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	t.Logf("MEASURE nodes: the leader's 3 nodes killed: promoted %s after", time.Since(killed).Round(time.Millisecond))
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, ackedIDs[ix]); len(m) != 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost", ix, len(m), len(ackedIDs[ix]))
		}
		standalone(t, ix)
	}
}

// The follower's elected cluster manager killed in the middle of a
// promotion of 20 indices: every index ends standalone, each stopped
// exactly once, nothing acknowledged lost, and drwatch says what happened.
func TestNodesFollowerClusterManagerKilledMidPromotion(t *testing.T) {
	requireNodes(t)
	idx := replicated(t, "midcm", 20, 1)
	ackedIDs := map[string][]string{}
	for _, ix := range idx {
		ackedIDs[ix] = writeIDs(t, ix, 0, 20)
	}
	cfg := nodesConfig(t, "midcm")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 90*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	manager := clusterManager(t, drlab.Follower)
	if err := theLab.KillCluster(drlab.Leader); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := theLab.StartCluster(context.Background(), drlab.Leader); err != nil {
			t.Errorf("restart the leader cluster: %v", err)
		}
	})
	// the promotion under way: some index stopped, not all
	eventually(t, 90*time.Second, "the promotion's first stops", func() bool {
		return strings.Contains(d.logs.String(), `"msg":"replication stopped"`)
	})
	killNode(t, manager)
	killedAt := time.Now()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			restartNode(t, manager)
		}
	})
	if manager == drlab.Follower {
		// the tests' own calls go to a node that is alive
		saved := lab.FollowerURL
		lab.FollowerURL = lab.FollowerURLs[1]
		t.Cleanup(func() { lab.FollowerURL = saved })
	}
	t.Logf("the follower's cluster manager %s killed mid-promotion", manager)
	eventually(t, 3*time.Minute, "the pair promoted", func() bool {
		v, _ := d.metric(t, `drwatch_pair_state{pair="lab",state="promoted"}`)
		return v == "1"
	})
	t.Logf("MEASURE nodes: promoted %s after the follower's cluster manager was killed mid-promotion", time.Since(killedAt).Round(time.Millisecond))
	steps := promotionSteps(t, cfg)
	stops := map[string]int{}
	for _, s := range steps {
		if s.Name == promote.StepStop && s.Status == promote.StepDone {
			stops[s.Target]++
		}
	}
	for _, ix := range idx {
		if stops[ix] != 1 {
			t.Errorf("%s: %d stops done, want exactly 1", ix, stops[ix])
		}
	}
	// An index whose stop had reopened it just before the kill may have had
	// its only in-sync copy on the killed node (the replica still
	// recovering from it): red until the node returns. drwatch names those
	// apart; the cluster says which they are.
	verify, _ := lastStep(steps, promote.StepVerify, "")
	var red []string
	for _, ix := range idx {
		_, body := osDo(t, lab.FollowerURL, "GET", "/_cluster/health/"+ix+"?timeout=1s", "")
		var h struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("%s health: %v: %s", ix, err, body)
		}
		if h.Status == "red" {
			red = append(red, ix)
			if !strings.Contains(verify.Detail, ix+": ") && !strings.Contains(verify.Detail, "more") { // the detail names 5
				t.Errorf("%s is red on the follower, but the promotion's verify does not name it: %s", ix, verify.Detail)
			}
		}
	}
	if v, _ := d.metric(t, `drwatch_promotion_indices{outcome="unassigned",pair="lab"}`); v != strconv.Itoa(len(red)) {
		t.Errorf("drwatch_promotion_indices{outcome=\"unassigned\"} = %q, the follower has %d red: %v", v, len(red), red)
	}
	t.Logf("MEASURE nodes: %d of %d indices without an active primary until the killed node returns: %v (verify: %s)", len(red), len(idx), red, verify.Detail)
	for _, ix := range idx {
		if slices.Contains(red, ix) {
			continue
		}
		// the lost node's other shards: their replicas took over
		osOK(t, lab.FollowerURL, "GET", "/_cluster/health/"+ix+"?wait_for_status=yellow&timeout=60s", "")
		if took, last := firstWrite(t, ix, 30*time.Second); took > 0 {
			t.Logf("MEASURE nodes: %s took writes %s after the promotion (until then: %s)", ix, took.Round(time.Millisecond), last)
		}
	}
	// the node back: every index takes writes, nothing acknowledged lost
	restartNode(t, manager)
	restarted = true
	for _, ix := range idx {
		osOK(t, lab.FollowerURL, "GET", "/_cluster/health/"+ix+"?wait_for_status=yellow&timeout=60s", "")
		if m := missing(t, lab.FollowerURL, ix, ackedIDs[ix]); len(m) != 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost", ix, len(m), len(ackedIDs[ix]))
		}
		if slices.Contains(red, ix) {
			firstWrite(t, ix, 30*time.Second)
		}
		standalone(t, ix)
	}
	// The stops that ran while the cluster manager changed: their indices
	// closed and reopened (settled), so that no shard kept the
	// replication engine, which refuses every write; the mark says why.
	var marks []string
	for _, s := range steps {
		if s.Name == promote.StepSettle && s.Status == promote.StepStarted {
			marks = append(marks, s.Target+": "+s.Detail)
		}
	}
	t.Logf("settled: %d\n%s", len(marks), strings.Join(marks, "\n"))
	if len(marks) == 0 {
		t.Error("no index settled: the stops that met the lost cluster manager were not closed and reopened")
	}
	for _, m := range marks {
		if !strings.Contains(m, "cluster manager") && !strings.Contains(m, "could not be read") {
			t.Errorf("a settle mark does not say what changed: %s", m)
		}
		target, _, _ := strings.Cut(m, ": ")
		if s, ok := lastStep(steps, promote.StepSettle, target); !ok || s.Status != promote.StepDone {
			t.Errorf("%s: settle %+v, want done", target, s)
		}
	}
	// what happened is journaled in words: the steps that met the dead node
	var met []string
	for _, s := range steps {
		if s.Status == promote.StepFailed || strings.Contains(s.Detail, "retr") {
			met = append(met, fmt.Sprintf("%s %s: %s", s.Name, s.Target, s.Detail))
		}
	}
	t.Logf("the steps that met the lost cluster manager: %d\n%s", len(met), strings.Join(met, "\n"))
	for _, m := range met {
		if !strings.Contains(m, "midcm-") && !strings.HasPrefix(m, "verify") {
			t.Errorf("a failed step does not name its index: %s", m)
		}
	}
}

// firstWrite writes to a promoted index until a write is acknowledged,
// for at most within; it returns how long that took (0: at once) and the
// last refusal before.
func firstWrite(t *testing.T, index string, within time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < within {
		code, body := osDo(t, lab.FollowerURL, "POST", "/"+index+"/_doc", `{"probe":"first write"}`)
		if code == 201 {
			if last == "" {
				return 0, ""
			}
			return time.Since(start), last
		}
		last = fmt.Sprintf("HTTP %d %.200s", code, body)
		time.Sleep(time.Second)
	}
	t.Errorf("%s took no write within %s of the promotion: %s", index, within, last)
	return time.Since(start), last
}

// lastStep is the last step of name on target.
func lastStep(steps []promote.Step, name promote.StepKind, target string) (promote.Step, bool) {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Name == name && steps[i].Target == target {
			return steps[i], true
		}
	}
	return promote.Step{}, false
}
