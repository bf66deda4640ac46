package drill

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// healthyObs is an observation of a pair replicating orders-1 and
// orders-2 (two shards each) through the alias "leader", caught up, with
// the lab's autofollow rule "logs".
func healthyObs() observe.Observation {
	ixs := []observe.Index{
		{Name: "orders-1", LeaderIndex: "orders-1", Shards: 2, State: observe.StateSyncing, LagKnown: true},
		{Name: "orders-2", LeaderIndex: "orders-2", Shards: 2, State: observe.StateSyncing, LagKnown: true},
	}
	return observe.Observation{
		Pair: "lab", Time: t0,
		Leader: observe.Leader{Reachable: true, Health: "green", ClusterName: "drwatch-leader"},
		Follower: observe.Follower{
			Reachable: true, Latency: 5 * time.Millisecond,
			Remote:     observe.Remote{Alias: "leader", Known: true, Connected: true, Mode: "sniff", NodesConnected: 1},
			Autofollow: observe.Autofollow{Rules: []observe.Rule{{Name: "logs", Pattern: "logs-*"}}},
			Replication: observe.Replication{
				Indices: ixs, LagComplete: true, LeaderCheckpointsRead: true, Syncing: 2,
			},
		},
	}
}

func labRemote() map[string]opensearch.RemoteCluster {
	return map[string]opensearch.RemoteCluster{"leader": {Connected: true, Mode: "sniff", Seeds: []string{"127.0.0.1:19300"}, NumNodesConnected: 1}}
}

// fixture reads a captured answer of testdata/lab/.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "lab", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireItem(t *testing.T, c Check, result, prefix string, parts ...string) {
	t.Helper()
	if c.Result != result {
		t.Fatalf("%s = %s (%s), want %s", c.Name, c.Result, c.Detail, result)
	}
	for _, it := range c.Items {
		if !strings.HasPrefix(it, prefix) {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(it, p)
		}
		if all {
			return
		}
	}
	t.Fatalf("%s names no %q with %q: %q", c.Name, prefix, parts, c.Items)
}

func requirePass(t *testing.T, c Check) {
	t.Helper()
	if c.Result != Pass || len(c.Items) != 0 {
		t.Fatalf("%s = %s: %s %q", c.Name, c.Result, c.Detail, c.Items)
	}
	if c.Title == "" || c.Detail == "" {
		t.Fatalf("%s has no title or detail: %+v", c.Name, c)
	}
}

func TestLeaderSeen(t *testing.T) {
	obs := healthyObs()
	c := judgeLeaderSeen(obs, "leader", remoteView{Info: labRemote(), FirstSeen: true})
	requirePass(t, c)
	if !strings.Contains(c.Detail, "seeds 127.0.0.1:19300") {
		t.Errorf("detail %q", c.Detail)
	}

	// An alias the follower does not have.
	c = judgeLeaderSeen(obs, "nowhere", remoteView{Info: labRemote()})
	requireItem(t, c, Fail, "nowhere: ", "no such remote cluster")
	if !strings.Contains(c.Detail, "it has: leader") {
		t.Errorf("detail does not list the aliases it has: %q", c.Detail)
	}

	// Seeds that connect to nothing: disconnected, still after a
	// cross-cluster read, which said why.
	dead := map[string]opensearch.RemoteCluster{"dead": {Connected: false, Mode: "sniff", Seeds: []string{"127.0.0.1:1"}}}
	reach := &opensearch.Error{Op: "cross-cluster read through dead", Class: observe.ClassHTTP5xx, Status: 500, Type: "connect_transport_exception", Detail: "[][127.0.0.1:1] connect_exception"}
	c = judgeLeaderSeen(obs, "dead", remoteView{Info: dead, Retried: true, ReachErr: reach, After: dead})
	requireItem(t, c, Fail, "dead: ", "does not connect", "seeds 127.0.0.1:1")
	if !strings.Contains(c.Detail, "connect_transport_exception") {
		t.Errorf("detail does not say why: %q", c.Detail)
	}

	// Disconnected until asked (an idle follower after a leader restart).
	c = judgeLeaderSeen(obs, "leader", remoteView{Info: map[string]opensearch.RemoteCluster{"leader": {Seeds: []string{"127.0.0.1:19300"}}}, Retried: true, After: labRemote()})
	requirePass(t, c)
	if !strings.Contains(c.Detail, "reconnect") {
		t.Errorf("detail %q", c.Detail)
	}

	// Remote info unreadable; drwatch cannot read the leader.
	if c := judgeLeaderSeen(obs, "leader", remoteView{Err: errors.New("remote info: timeout")}); c.Result != Fail {
		t.Fatalf("unreadable: %+v", c)
	}
	down := healthyObs()
	down.Leader = observe.Leader{Failure: &observe.Failure{Class: observe.ClassConnRefused, Message: "connection refused"}}
	requireItem(t, judgeLeaderSeen(down, "leader", remoteView{Info: labRemote(), FirstSeen: true}), Fail, "leader: ", "health")
}

func leaderSettings(names ...string) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, n := range names {
		m[n] = map[string]any{"index.number_of_shards": "1"}
	}
	return m
}

func TestReplicated(t *testing.T) {
	obs := healthyObs()
	scope := []string{"*", "-.*"}
	ls := leaderSettings("orders-1", "orders-2", ".tasks")
	ls["hidden-1"] = map[string]any{"index.hidden": "true"}
	requirePass(t, judgeReplicated(obs, scope, ls, nil))

	// orders-3: no rule, no _start. logs-9: the rule matches it, not yet
	// started (a warning alone), logs-8: the rule failed to start it.
	ls = leaderSettings("orders-1", "orders-2", "orders-3", "logs-9")
	c := judgeReplicated(obs, scope, ls, nil)
	requireItem(t, c, Fail, "orders-3 (leader): ", "not replicated", "no autofollow rule or _start")
	requireItem(t, c, Fail, "logs-9 (leader): ", "not replicated yet", "rule logs")

	c = judgeReplicated(obs, scope, leaderSettings("orders-1", "orders-2", "logs-9"), nil)
	requireItem(t, c, Warn, "logs-9 (leader): ", "rule logs")

	failed := healthyObs()
	failed.Follower.Autofollow.FailedIndices = []string{"logs-8"}
	requireItem(t, judgeReplicated(failed, scope, leaderSettings("orders-1", "orders-2", "logs-8"), nil), Fail, "logs-8 (leader): ", "rule logs failed to start it")

	// Out of scope: not judged.
	requirePass(t, judgeReplicated(obs, []string{"orders-*"}, leaderSettings("orders-1", "orders-2", "other-1"), nil))
	// A follower index of another alias does not cover its leader index.
	other := healthyObs()
	other.Follower.Replication.Indices = other.Follower.Replication.Indices[:1]
	requireItem(t, judgeReplicated(other, scope, leaderSettings("orders-1", "orders-2"), nil), Fail, "orders-2 (leader): ")

	// Nothing in scope; unreadable.
	if c := judgeReplicated(obs, []string{"none-*"}, leaderSettings("orders-1"), nil); c.Result != Fail || !strings.Contains(c.Detail, "match no leader index") {
		t.Fatalf("nothing in scope: %+v", c)
	}
	if c := judgeReplicated(obs, scope, nil, errors.New("index settings: http_5xx")); c.Result != Fail || !strings.Contains(c.Detail, "leader's indices could not be read") {
		t.Fatalf("unreadable: %+v", c)
	}
}

func TestAutofollow(t *testing.T) {
	obs := healthyObs()
	c := judgeAutofollow(obs, []string{"*"})
	requirePass(t, c)
	if !strings.Contains(c.Detail, "logs (logs-*)") {
		t.Errorf("detail %q", c.Detail)
	}
	if c := judgeAutofollow(obs, []string{"orders-*"}); c.Result != Pass || !strings.Contains(c.Detail, "started by hand") {
		t.Fatalf("no rule in scope: %+v", c)
	}
	obs.Follower.Autofollow.FailedIndices = []string{"logs-7", "other-1"}
	c = judgeAutofollow(obs, []string{"logs-*"})
	requireItem(t, c, Fail, "logs-7 (leader): ", "rule logs failed")
	if len(c.Items) != 1 {
		t.Errorf("an index out of scope was named: %q", c.Items)
	}
	obs.Follower.Autofollow = observe.Autofollow{Failure: &observe.Failure{Class: observe.ClassPluginMissing, Message: "no plugin"}}
	if c := judgeAutofollow(obs, []string{"*"}); c.Result != Fail {
		t.Fatalf("unreadable: %+v", c)
	}
}

func TestFollowersSyncing(t *testing.T) {
	obs := healthyObs()
	requirePass(t, judgeFollowers(obs, statusesRead{}))

	obs.Follower.Replication.Indices[1].State = observe.StateNotSyncing
	var st opensearch.ReplicationStatus
	// Captured from the lab: a paused follower index's _status.
	b, err := fakeos.ReadFixture("lab/status_paused.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	c := judgeFollowers(obs, statusesRead{Of: map[string]opensearch.ReplicationStatus{"orders-2": st}})
	requireItem(t, c, Fail, "orders-2: ", "paused", "User initiated")
	if len(c.Items) != 1 {
		t.Errorf("items %q", c.Items)
	}
	for status, want := range map[string]string{"FAILED": "failed (boom)", "BOOTSTRAPPING": "restoring from the leader"} {
		c := judgeFollowers(obs, statusesRead{Of: map[string]opensearch.ReplicationStatus{"orders-2": {Status: status, Reason: "boom"}}})
		requireItem(t, c, Fail, "orders-2: ", want)
	}
	c = judgeFollowers(obs, statusesRead{Errs: map[string]error{"orders-2": errors.New("replication status of orders-2: timeout")}})
	requireItem(t, c, Fail, "orders-2: ", "not syncing", "could not be read")
	requireItem(t, judgeFollowers(obs, statusesRead{}), Fail, "orders-2: ", "not asked")
}

func TestMappingParityCaptured(t *testing.T) {
	lm, fm := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	// Captured from the lab: the same two replicated indices on both sides.
	for file, into := range map[string]map[string]json.RawMessage{"leader_mapping.json": lm, "follower_mapping.json": fm} {
		var raw map[string]struct {
			Mappings json.RawMessage `json:"mappings"`
		}
		if err := json.Unmarshal(fixture(t, file), &raw); err != nil {
			t.Fatal(err)
		}
		for k, v := range raw {
			into[k] = v.Mappings
		}
	}
	pairs := pairsOf(lm)
	if len(pairs) != 2 {
		t.Fatalf("captured %d indices", len(pairs))
	}
	requirePass(t, judgeMappings(pairs, lm, nil, fm, nil))

	// Key order and whitespace do not matter; values, fields and types do.
	ix := pairs[0].Follower
	lm[ix] = json.RawMessage(`{"properties":{"a":{"type":"keyword"},"b":{"type":"long"},"n":{"type":"scaled_float","scaling_factor":100}}}`)
	fm[ix] = json.RawMessage(`{ "properties": { "n": {"scaling_factor": 100, "type":"scaled_float"}, "b": {"type":"long"}, "a": {"type":"keyword"} } }`)
	requirePass(t, judgeMappings(pairs, lm, nil, fm, nil))
	fm[ix] = json.RawMessage(`{"properties":{"a":{"type":"text"},"n":{"type":"scaled_float","scaling_factor":100.5},"c":{"type":"long"}}}`)
	c := judgeMappings(pairs, lm, nil, fm, nil)
	requireItem(t, c, Fail, ix+": ", "mapping differs", `properties.a.type: leader "keyword", follower "text"`, "properties.b.type: only on the leader", "properties.c.type: only on the follower", "properties.n.scaling_factor: leader 100, follower 100.5")
	if len(c.Items) != 1 {
		t.Errorf("items %q", c.Items)
	}

	// A field put on the leader of a paused follower index that had no
	// mapping yet (what the e2e test does): the follower's mapping is {}.
	lm[ix], fm[ix] = json.RawMessage(`{"properties":{"f":{"type":"keyword"}}}`), json.RawMessage(`{}`)
	requireItem(t, judgeMappings(pairs, lm, nil, fm, nil), Fail, ix+": ", "properties.f.type: only on the leader")

	delete(lm, pairs[1].Leader)
	requireItem(t, judgeMappings(pairs, lm, nil, fm, nil), Fail, pairs[1].Follower+": ", "not found on the leader")
	fm[ix] = json.RawMessage(`{"properties":`)
	requireItem(t, judgeMappings(pairs, lm, nil, fm, nil), Fail, ix+": ", "not valid JSON")
	if c := judgeMappings(pairs, nil, errors.New("index mappings: timeout"), fm, nil); c.Result != Fail || !strings.Contains(c.Detail, "timeout") {
		t.Fatalf("unreadable: %+v", c)
	}
}

func pairsOf[V any](m map[string]V) []indexPair {
	var out []indexPair
	for k := range m {
		out = append(out, indexPair{Follower: k, Leader: k})
	}
	return out
}

func captureSettings(t *testing.T, file string) map[string]map[string]any {
	t.Helper()
	var raw map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(fixture(t, file), &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for k, v := range raw {
		out[k] = v.Settings
	}
	return out
}

func TestSettingsParityCaptured(t *testing.T) {
	// Captured from the lab: leader and follower settings differ in uuid,
	// the replication plugin's settings (each side has its own) - and
	// nothing else that matters.
	ls, fs := captureSettings(t, "leader_settings.json"), captureSettings(t, "follower_settings.json")
	pairs := pairsOf(fs)
	if len(pairs) != 2 {
		t.Fatalf("captured %d indices", len(pairs))
	}
	requirePass(t, judgeSettings(pairs, ls, nil, fs, nil))

	ix := pairs[0].Follower
	fs[ix]["index.number_of_shards"] = "7"
	fs[ix]["index.analysis.analyzer.custom.type"] = "standard"
	fs[ix]["index.number_of_replicas"] = "3" // each cluster its own
	fs[ix]["index.blocks.write"] = "true"    // never copied by the plugin
	fs[ix]["index.routing.allocation.enable"] = "primaries"
	c := judgeSettings(pairs, ls, nil, fs, nil)
	requireItem(t, c, Fail, ix+": ", "settings differ", `index.number_of_shards: leader "2", follower "7"`, "index.analysis.analyzer.custom.type: only on the follower")
	for _, it := range c.Items {
		for _, ignored := range []string{"number_of_replicas", "blocks.write", "routing.allocation"} {
			if strings.Contains(it, ignored) {
				t.Errorf("%s was judged: %q", ignored, it)
			}
		}
	}
	if c := judgeSettings(pairs, ls, nil, nil, errors.New("index settings: auth")); c.Result != Fail {
		t.Fatalf("unreadable: %+v", c)
	}
}

func TestDocCounts(t *testing.T) {
	obs := healthyObs()
	counts := countsRead{Leader: map[string]int64{"orders-1": 20, "orders-2": 20}, Follower: map[string]int64{"orders-1": 20, "orders-2": 20}}
	requirePass(t, judgeDocCounts(docCountFindings(obs, counts)))

	// orders-2 paused with 7 writes since: 7 apart, lag 7: within it.
	obs.Follower.Replication.Indices[1].Lag = 7
	counts.Leader["orders-2"] = 27
	requirePass(t, judgeDocCounts(docCountFindings(obs, counts)))
	// 20 apart with a lag of 7: named.
	counts.Follower["orders-2"] = 7
	f := docCountFindings(obs, counts)
	requireItem(t, judgeDocCounts(f), Fail, "orders-2: ", "leader 27 documents, follower 7", "20 apart", "lag of 7")
	// Seen once only (a race with writes): not a failure.
	fine := docCountFindings(obs, countsRead{Leader: map[string]int64{"orders-1": 20, "orders-2": 27}, Follower: map[string]int64{"orders-1": 20, "orders-2": 20}})
	requirePass(t, judgeDocCounts(persistentFindings(f, fine)))
	requireItem(t, judgeDocCounts(persistentFindings(f, f)), Fail, "orders-2: ")

	// An index with no document has no bucket: 0.
	delete(counts.Follower, "orders-1")
	requireItem(t, judgeDocCounts(docCountFindings(obs, counts)), Fail, "orders-1: ", "follower 0")

	// Lag unknown: apart is not judged, only shown.
	obs = healthyObs()
	obs.Follower.Replication.Indices[0].LagKnown = false
	c := judgeDocCounts(docCountFindings(obs, countsRead{Leader: map[string]int64{"orders-1": 5, "orders-2": 1}, Follower: map[string]int64{"orders-1": 3, "orders-2": 1}}))
	requireItem(t, c, Warn, "orders-1: ", "lag unknown")

	if c := judgeDocCounts(docCountFindings(obs, countsRead{LeaderErr: errors.New("document counts: the search failed on 1 of 2 shards")})); c.Result != Fail || !strings.Contains(c.Detail, "1 of 2 shards") {
		t.Fatalf("unreadable: %+v", c)
	}
}

func permCheck(side opensearch.Side, role, action string, refused bool) opensearch.PermissionCheck {
	pc := opensearch.PermissionCheck{Permission: opensearch.Permission{Side: side, Role: role, Action: action, For: "what it is for"}, Allowed: !refused}
	if refused {
		pc.Err = &opensearch.Error{Op: "try " + action, Class: observe.ClassAuth, Status: 403, Type: "security_exception",
			Permission: action, User: "drwatch", Detail: "the " + string(side) + " refused " + action + " to user drwatch: add it to its role"}
	}
	return pc
}

func TestCredentials(t *testing.T) {
	obs := healthyObs()
	pair := &config.Pair{}
	none := authRead{}
	c := judgeCredentials(obs, none, none, false, pair)
	requirePass(t, c)
	if !strings.Contains(c.Detail, "leader has no security plugin") || !strings.Contains(c.Detail, "follower has no security plugin") {
		t.Errorf("detail %q", c.Detail)
	}

	admin := authRead{Info: opensearch.AuthInfo{Security: true, User: "admin", Roles: []string{"all_access"}}}
	requirePass(t, judgeCredentials(obs, admin, admin, false, pair))

	// Every permission tried and allowed: a pass that says so.
	ok := authRead{Info: opensearch.AuthInfo{Security: true, User: "drwatch", Roles: []string{"drwatch_watch", "drwatch_promote"}},
		Checks: []opensearch.PermissionCheck{permCheck(opensearch.SideLeader, "drwatch_promote", "indices:admin/block/add*", false)}}
	c = judgeCredentials(obs, ok, none, false, pair)
	requirePass(t, c)
	if !strings.Contains(c.Detail, "user drwatch, roles [drwatch_watch, drwatch_promote], backend roles []: 1 permissions tried on names no index has") {
		t.Errorf("detail %q", c.Detail)
	}

	// A promotion's permission refused: a failure naming it, its side and the user.
	stop := authRead{Info: opensearch.AuthInfo{Security: true, User: "drwatch", Roles: []string{"drwatch_watch"}},
		Checks: []opensearch.PermissionCheck{
			permCheck(opensearch.SideFollower, "drwatch_promote", "indices:admin/plugins/replication/index/stop", true),
			permCheck(opensearch.SideFollower, "drwatch_drill", "indices:admin/delete", true),
			{Permission: opensearch.Permission{Side: opensearch.SideFollower, Role: "drwatch_promote", Action: "indices:admin/open"}, Untried: "the pair's indices are named exactly: a try on one of them would act on it"},
			{Permission: opensearch.Permission{Side: opensearch.SideFollower, Role: "drwatch_ha", Action: "indices:admin/create"}, Untried: "HA is off", Off: true},
		}}
	c = judgeCredentials(obs, none, stop, false, pair)
	requireItem(t, c, Fail, "the follower refused indices:admin/plugins/replication/index/stop to user drwatch: add it to its role")
	requireItem(t, c, Fail, "the follower refused indices:admin/delete to user drwatch: add it to its role (failover drills need it")
	requireItem(t, c, Fail, "follower: indices:admin/open (drwatch_promote) not tried: the pair's indices are named exactly")
	for _, it := range c.Items {
		if strings.Contains(it, "indices:admin/create") {
			t.Errorf("a permission of HA, which is off, is named: %q", it)
		}
	}
	// Only a drill's permission refused: a warning.
	drillOnly := stop
	drillOnly.Checks = drillOnly.Checks[1:2]
	requireItem(t, judgeCredentials(obs, none, drillOnly, false, pair), Warn, "the follower refused indices:admin/delete")
	// An Aiven pair's follower needs no promotion permission in the cluster.
	requirePass(t, judgeCredentials(obs, none, authRead{Info: stop.Info, Checks: stop.Checks[:1]}, true, pair))

	// The roles of use_roles: the user must be mapped to them for a drill's restore.
	roles := &config.Pair{Follower: config.Endpoint{UseRoles: &config.UseRoles{LeaderClusterRole: "ccr_leader", FollowerClusterRole: "ccr_follower"}}}
	mapped := authRead{Info: opensearch.AuthInfo{Security: true, User: "drwatch", Roles: []string{"ccr_follower"}}}
	requireItem(t, judgeCredentials(obs, ok, mapped, false, roles), Warn, "leader: user drwatch is not mapped to role ccr_leader of use_roles")

	refused := healthyObs()
	refused.Follower.Autofollow.Failure = &observe.Failure{Class: observe.ClassAuth, Status: 403, Message: "no permissions"}
	requireItem(t, judgeCredentials(refused, none, ok, false, pair), Fail, "follower: ", "user drwatch was refused GET _plugins/_replication/autofollow_stats")
	// The checkpoints' stats refused: the side that refused them is named
	// (a typed field, whatever the message says).
	for _, side := range []observe.Side{observe.SideLeader, observe.SideFollower} {
		stats := healthyObs()
		stats.Follower.Replication.CheckpointsFailure = &observe.Failure{Class: observe.ClassAuth, Status: 403, Message: "checkpoints not read: no permissions"}
		stats.Follower.Replication.CheckpointsSide = side
		got := refusedReads(stats, string(side))
		if !slices.Contains(got, "GET <indices>/_stats") {
			t.Errorf("%s refused the stats: refused reads %v", side, got)
		}
		other := observe.SideFollower
		if side == other {
			other = observe.SideLeader
		}
		if got := refusedReads(stats, string(other)); slices.Contains(got, "GET <indices>/_stats") {
			t.Errorf("%s refused the stats, but %s is named: %v", side, other, got)
		}
	}

	bad := authRead{Err: &opensearch.Error{Op: "security authinfo", Class: observe.ClassAuth, Status: 401, Detail: "the leader refused the credentials of user drwatch (wrong password, or no such user)"}}
	requireItem(t, judgeCredentials(obs, bad, none, false, pair), Fail, "leader: ", "refused the credentials of user drwatch")

	// No secret is ever printed: the checks only know user names.
	secret := "s3cret-of-the-pair"
	withSecret := &config.Pair{Leader: config.Endpoint{Username: "drwatch", Password: config.NewSecret(secret)},
		Follower: config.Endpoint{Username: "drwatch", Password: config.NewSecret(secret), UseRoles: roles.Follower.UseRoles}}
	for _, c := range []Check{judgeCredentials(obs, stop, admin, false, withSecret), judgeCredentials(obs, bad, stop, false, withSecret), judgeCredentials(obs, ok, mapped, false, withSecret)} {
		if b, _ := json.Marshal(c); strings.Contains(string(b), secret) {
			t.Errorf("%s", b)
		}
	}
}

func TestHooks(t *testing.T) {
	all := []config.Hook{{Name: "oncall", Events: []string{"leader_down", "approval_required", "promotion_succeeded", "promotion_failed"}}}
	requirePass(t, judgeHooks(all, config.ModeAuto))

	some := []config.Hook{
		{Name: "oncall", Events: []string{"leader_down"}},
		{Name: "dns-flip", Events: []string{"promotion_succeeded"}},
	}
	c := judgeHooks(some, config.ModeSemiAuto)
	requireItem(t, c, Warn, "approval_required: ", "no hook")
	requireItem(t, c, Warn, "promotion_failed: ", "no hook")
	if len(c.Items) != 2 {
		t.Errorf("items %q", c.Items)
	}
	// manual mode never asks for approval: only the other three matter.
	c = judgeHooks(some, config.ModeManual)
	if len(c.Items) != 1 || !strings.HasPrefix(c.Items[0], "promotion_failed") {
		t.Errorf("manual: %q", c.Items)
	}
	if c := judgeHooks(nil, config.ModeAuto); c.Result != Warn || len(c.Items) != 4 {
		t.Fatalf("no hooks: %+v", c)
	}
}
