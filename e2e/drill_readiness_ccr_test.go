//go:build e2e && ccr

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	drconfig "github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/probe"
)

// The readiness drill against the real lab: a healthy pair passes every
// check, and each problem a failover would meet is found, by name, in
// the check that owns it. Each test works on indices of its own and
// scopes its pair to them; what a test changes on the lab it restores.

// readinessHooks deliver the events that matter to a command that does
// nothing (a readiness drill never raises an event).
const readinessHooks = `  - name: oncall
    type: exec
    command: ["/bin/true"]
    events: [leader_down, approval_required, promotion_succeeded, promotion_failed]
`

// runReadiness runs the drill on the lab pair scoped to prefix, in auto
// mode (decisionConfigIndices' fast policy), with the follower's alias
// alias ("" the lab's), and returns its checks and the requests it made.
func runReadiness(t *testing.T, prefix, alias string) ([]drill.Check, int64) {
	t.Helper()
	cfgPath, _ := decisionConfigIndices(t, "", "auto", scope(prefix))
	withHooks(t, cfgPath, readinessHooks)
	if alias != "" {
		rewrite(t, cfgPath, "leader_alias: "+lab.Alias+"\n", "leader_alias: "+alias+"\n")
	}
	cfg, err := drconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pair := &cfg.Pairs[0]
	p, err := probe.New(pair)
	if err != nil {
		t.Fatal(err)
	}
	// Real probes have the policy's 400 ms; a drill is not in a hurry.
	p.Timeout = 10 * time.Second
	leader, follower := p.Leader.(*opensearch.Client), p.Follower.(*opensearch.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := leader.Requests() + follower.Requests()
	checks := drill.Readiness(ctx, drill.ReadinessInput{
		Pair: pair, Hooks: cfg.Hooks, Leader: leader, Follower: follower,
		Observe: p.Cycle, Now: time.Now,
	})
	n := leader.Requests() + follower.Requests() - before
	r := drill.Report{Drill: "e2e", Pair: pair.Name, Type: drill.TypeReadiness, Result: drill.ResultPassed, Score: drill.Score(checks), Checks: checks}
	if drill.AnyFailed(checks) {
		r.Result = drill.ResultFailed
	}
	t.Logf("readiness drill, %d requests:\n%s", n, r.Summary())
	return checks, n
}

func checkNamed(t *testing.T, checks []drill.Check, name string) drill.Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q among %d", name, len(checks))
	return drill.Check{}
}

// requireFinding fails unless check name failed and one of its items
// starts with prefix and contains every part of want.
func requireFinding(t *testing.T, checks []drill.Check, name, prefix string, want ...string) {
	t.Helper()
	c := checkNamed(t, checks, name)
	if c.Result != drill.Fail {
		t.Fatalf("%s: %s (%s), want fail", name, c.Result, c.Detail)
	}
	for _, it := range c.Items {
		if !strings.HasPrefix(it, prefix) {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(it, w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("%s failed without naming %s %v: %s %q", name, prefix, want, c.Detail, c.Items)
}

// followerStatsLists reports whether follower_stats lists index (its shard
// tasks run).
func followerStatsLists(t *testing.T, index string) bool {
	t.Helper()
	var fs struct {
		IndexStats map[string]json.RawMessage `json:"index_stats"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/_plugins/_replication/follower_stats", ""), &fs); err != nil {
		t.Fatal(err)
	}
	_, ok := fs.IndexStats[index]
	return ok
}

// pauseForTest pauses replication of index and resumes it when the test
// ends (before replicated's cleanup deletes it).
func pauseForTest(t *testing.T, index string) {
	t.Helper()
	replicationCall(t, index, "pause")
	t.Cleanup(func() {
		if code, b := osDo(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+index+"/_resume", "{}"); code != 200 {
			t.Logf("resume %s: HTTP %d %s", index, code, b)
		}
	})
	eventually(t, 60*time.Second, index+" gone from follower_stats", func() bool { return !followerStatsLists(t, index) })
}

// A healthy pair: two replicated two-shard indices with documents, caught
// up, auto mode, hooks for every event that matters: every check passes.
func TestReadinessHealthyLabPasses(t *testing.T) {
	idx := replicated(t, "rdy", 2, 2)
	for _, ix := range idx {
		writeIDs(t, ix, 0, 20)
	}
	waitCaughtUp(t, scopedConfig(t, "rdy"), idx)
	checks, n := runReadiness(t, "rdy", "")
	if len(checks) != 11 {
		t.Fatalf("%d checks, want 11", len(checks))
	}
	for _, c := range checks {
		if c.Result != drill.Pass {
			t.Errorf("%s: %s: %s %q", c.Name, c.Result, c.Detail, c.Items)
		}
	}
	if s := drill.Score(checks); s != 1 {
		t.Errorf("score %.2f, want 1", s)
	}
	// The observation's 10 (a first cycle: with the leader's retention
	// lease period), remote info, settings and mappings of each side,
	// authinfo of each, document counts of each: 19, whatever the index
	// count.
	if n != 19 {
		t.Errorf("the drill made %d requests, want 19", n)
	}
}

// The readiness findings: one row per problem the drill must find on the
// real lab - what breaks the pair, the check that must fail, and the item
// that must name it. Adding a finding is one row.
type finding struct {
	name string
	// prefix, indices: the row's replicated indices (one shard each).
	prefix  string
	indices int
	// setup breaks the pair; alias, if not "", is the follower.leader_alias
	// the drill runs with.
	setup func(t *testing.T, idx []string) (alias string)
	check string
	// item: the start of the item that names the problem, and words it
	// must hold.
	item  func(idx []string, alias string) string
	words []string
	// clean: indices that are fine, and must not be named in check.
	clean func(idx []string) []string
}

func TestReadinessFindings(t *testing.T) {
	rows := []finding{
		{
			// A leader index in the pair's scope that nothing replicates
			// (no autofollow rule matches it, no _start).
			name: "an index not replicated", prefix: "rdyu", indices: 1,
			setup: func(t *testing.T, idx []string) string {
				extra := fmt.Sprintf("rdyu-%s-99", runID)
				t.Cleanup(func() { osDo(t, lab.LeaderURL, "DELETE", "/"+extra, "") })
				osOK(t, lab.LeaderURL, "PUT", "/"+extra, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
				return ""
			},
			check: drill.CheckReplicated,
			item:  func([]string, string) string { return fmt.Sprintf("rdyu-%s-99 (leader)", runID) },
			words: []string{"not replicated", "no autofollow rule or _start"},
		},
		{
			// A paused follower index, with what _status says of it; the
			// syncing one is not named.
			name: "a paused index", prefix: "rdyp", indices: 2,
			setup: func(t *testing.T, idx []string) string { pauseForTest(t, idx[0]); return "" },
			check: drill.CheckFollowers,
			item:  func(idx []string, _ string) string { return idx[0] + ": " },
			words: []string{"paused", "User initiated"},
			clean: func(idx []string) []string { return idx[1:] },
		},
		{
			// A follower index refuses mapping changes (the replication
			// block), paused or not; a mapping change on the leader
			// reaches a syncing follower with the plugin's metadata sync
			// (every 60 s) but not a paused one: pause, then add a field on
			// the leader.
			name: "a mapping that differs", prefix: "rdym", indices: 1,
			setup: func(t *testing.T, idx []string) string {
				ix := idx[0]
				pauseForTest(t, ix)
				code, body := osDo(t, lab.FollowerURL, "PUT", "/"+ix+"/_mapping", `{"properties":{"on_the_follower":{"type":"keyword"}}}`)
				t.Logf("a mapping change on the paused follower index: HTTP %d %s", code, body)
				if code/100 == 2 {
					t.Fatalf("the follower index took a mapping change: the test's premise is wrong")
				}
				osOK(t, lab.LeaderURL, "PUT", "/"+ix+"/_mapping", `{"properties":{"readiness_only_on_leader":{"type":"keyword"}}}`)
				return ""
			},
			check: drill.CheckMappings,
			item:  func(idx []string, _ string) string { return idx[0] + ": " },
			words: []string{"mapping differs", "properties.readiness_only_on_leader", "only on the leader"},
		},
		{
			// follower.leader_alias naming a remote cluster the follower
			// does not have.
			name: "an alias the follower does not have", prefix: "rdya", indices: 1,
			setup: func(*testing.T, []string) string { return "nowhere-" + runID },
			check: drill.CheckLeaderSeen,
			item:  func(_ []string, alias string) string { return alias + ": " },
			words: []string{"no such remote cluster"},
		},
		{
			// follower.leader_alias whose seeds connect to nothing.
			name: "an alias whose seeds connect to nothing", prefix: "rdys", indices: 1,
			setup: func(t *testing.T, _ []string) string {
				alias := "deadseeds-" + runID
				t.Cleanup(func() {
					osOK(t, lab.FollowerURL, "PUT", "/_cluster/settings", fmt.Sprintf(`{"persistent":{"cluster.remote.%s.seeds":null}}`, alias))
				})
				osOK(t, lab.FollowerURL, "PUT", "/_cluster/settings", fmt.Sprintf(`{"persistent":{"cluster.remote.%s.seeds":["127.0.0.1:1"]}}`, alias))
				return alias
			},
			check: drill.CheckLeaderSeen,
			item:  func(_ []string, alias string) string { return alias + ": " },
			words: []string{"does not connect", "127.0.0.1:1"},
		},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			idx := replicated(t, r.prefix, r.indices, 1)
			alias := r.setup(t, idx)
			checks, _ := runReadiness(t, r.prefix, alias)
			requireFinding(t, checks, r.check, r.item(idx, alias), r.words...)
			if r.clean == nil {
				return
			}
			for _, ix := range r.clean(idx) {
				for _, it := range checkNamed(t, checks, r.check).Items {
					if strings.HasPrefix(it, ix) {
						t.Errorf("%s is fine, but %s names it: %q", ix, r.check, it)
					}
				}
			}
		})
	}
}

// The readiness drill as an operator runs it, `drwatch drill`, with no
// daemon (in its own process): exit 0 and a passed report on a healthy
// pair; after a follower index is paused, exit 1 and a failed report
// naming it - each report saved and listed.
func TestReadinessDrillCommand(t *testing.T) {
	idx := replicated(t, "rdyc", 2, 1)
	for _, ix := range idx {
		writeIDs(t, ix, 0, 10)
	}
	waitCaughtUp(t, scopedConfig(t, "rdyc"), idx)
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("rdyc"))
	withHooks(t, cfg, readinessHooks)
	writeFile(t, cfg, readFile(t, cfg)+"drills:\n  - name: ready\n    pair: lab\n    schedule: \"0 3 * * MON\"\n    type: readiness\n")

	run := func() (int, drill.Report) {
		t.Helper()
		code, out, errOut := runCLI(t, "drill", "--config", cfg, "--name", "ready", "--json")
		var r drill.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("drwatch drill --json: not JSON (exit %d): %v\n%s\n%s", code, err, out, errOut)
		}
		return code, r
	}
	code, r := run()
	if code != 0 || r.Result != drill.ResultPassed || len(r.Checks) != 11 || r.Score != 1 {
		t.Fatalf("healthy: exit %d, %+v", code, r)
	}
	pauseForTest(t, idx[1])
	code, r = run()
	if code != 1 || r.Result != drill.ResultFailed || !strings.Contains(r.Reason, "No paused, failed or restoring follower index") {
		t.Fatalf("paused: exit %d, %+v", code, r)
	}
	requireFinding(t, r.Checks, drill.CheckFollowers, idx[1]+": ", "paused")
	code, out, errOut := runCLI(t, "drill", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "ready") || !strings.Contains(out, "failed") {
		t.Fatalf("drill list: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "drill", "show", "--config", cfg, "--name", "ready")
	if code != 0 || !strings.Contains(out, idx[1]) || !strings.Contains(out, "FAILED") {
		t.Fatalf("drill show: exit %d\n%s", code, out)
	}
	t.Logf("drwatch drill show:\n%s", out)
}
