package probe_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

type lab struct {
	leader, follower *fakeos.Cluster
	prober           *probe.Prober
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := &lab{leader: fakeos.NewLeader(t), follower: fakeos.NewFollower(t)}
	lc, err := opensearch.New(l.leader.Endpoint(), opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := opensearch.New(l.follower.Endpoint(), opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.prober = &probe.Prober{Pair: "orders", Leader: lc, Follower: fc, LeaderAlias: "leader", Indices: []string{"*"}, Timeout: 2 * time.Second}
	return l
}

func index(t *testing.T, o observe.Observation, name string) observe.Index {
	t.Helper()
	for _, ix := range o.Follower.Replication.Indices {
		if ix.Name == name {
			return ix
		}
	}
	t.Fatalf("index %s not in observation: %+v", name, o.Follower.Replication.Indices)
	return observe.Index{}
}

func TestCycleRunning(t *testing.T) {
	l := newLab(t)
	o := l.prober.Cycle(context.Background())
	if !o.Leader.Reachable || o.Leader.Health != "green" || o.Leader.Failure != nil {
		t.Fatalf("leader = %+v", o.Leader)
	}
	f := o.Follower
	if !f.Reachable || !f.Remote.Known || !f.Remote.Connected || f.Remote.Mode != "sniff" || f.Remote.NodesConnected != 1 {
		t.Fatalf("remote = %+v", f.Remote)
	}
	r := f.Replication
	if r.Failure != nil || len(r.Indices) != 3 || r.Syncing != 3 || r.Stopped != 0 || !r.LagComplete || r.MaxLag != 0 || r.TotalLag != 0 {
		t.Fatalf("replication = %+v", r)
	}
	for _, ix := range r.Indices {
		if ix.State != observe.StateSyncing || ix.Lag != 0 || !ix.LagKnown {
			t.Errorf("index %+v", ix)
		}
	}
	if len(f.Autofollow.Rules) != 1 || f.Autofollow.Rules[0].Name != "logs" || f.Autofollow.Rules[0].Pattern != "logs-*" {
		t.Errorf("autofollow = %+v", f.Autofollow)
	}
	// leader: health, shard sequence numbers; follower: remote info,
	// follower_stats, autofollow, settings, shard sequence numbers.
	if o.Requests != 10 {
		t.Errorf("requests = %d, want 10", o.Requests)
	}
}

// The follower's view of its leader is not the lag. The real lab showed
// follower_stats reading lag 0 while the follower missed writes the leader
// had acknowledged: the lag is the leader's own max_seq_no, read from the
// leader, minus the follower's local checkpoint, shard by shard.
func TestCycleLagIsMeasuredOnTheLeader(t *testing.T) {
	l := newLab(t)
	// 200 writes acknowledged by orders-2's shard 1 that the follower has
	// not fetched yet: follower_stats still reads 0 for it.
	sh := l.leader.SeqNos("orders-2")
	sh[1].Max += 200
	l.leader.SetShards("orders-2", sh...)
	o := l.prober.Cycle(context.Background())
	r := o.Follower.Replication
	ix := index(t, o, "orders-2")
	if !ix.LagKnown || ix.Lag != 200 || ix.FollowerView == nil || ix.FollowerView.Lag != 0 || !ix.Disagrees() {
		t.Fatalf("orders-2 = %+v (view %+v), want lag 200 measured, follower view 0", ix, ix.FollowerView)
	}
	if ix.LeaderCheckpoint-ix.FollowerCheckpoint != 200 {
		t.Fatalf("checkpoints leader %d follower %d", ix.LeaderCheckpoint, ix.FollowerCheckpoint)
	}
	if r.MaxLag != 200 || r.TotalLag != 200 || !r.LagComplete || !r.LeaderCheckpointsRead || r.Disagreeing() != 1 || r.ViewLag() != 0 {
		t.Fatalf("replication = %+v", r)
	}
	if lag := r.LaggingIndices(); len(lag) != 1 || lag[0].Name != "orders-2" {
		t.Fatalf("lagging = %+v", lag)
	}
}

// Replication of orders-2 paused on the real lab, 7 writes on the leader:
// the captured answers give lag exactly 7 for it, 0 for the others.
func TestCyclePausedIndexFromRealCapture(t *testing.T) {
	l := newLab(t)
	l.follower.Fixture(fakeos.RouteFollowerStats, "lab/follower_stats_paused.json")
	l.leader.LoadSeqNos("lab/leader_seqnos_paused.json")
	l.follower.LoadSeqNos("lab/follower_seqnos_paused.json")
	l.follower.Fixture("GET /_plugins/_replication/orders-2/_status", "lab/status_paused.json")
	o := l.prober.Cycle(context.Background())
	ix := index(t, o, "orders-2")
	if ix.State != observe.StateNotSyncing || !ix.LagKnown || ix.Lag != 7 || ix.FollowerView != nil {
		t.Fatalf("orders-2 = %+v, want not_syncing with lag 7", ix)
	}
	// why it does not sync: the plugin's _status, asked once a minute
	if ix.Replication != "PAUSED" || ix.Reason != "User initiated" {
		t.Fatalf("orders-2 = %+v, want PAUSED, User initiated", ix)
	}
	r := o.Follower.Replication
	if r.Syncing != 2 || r.Stopped != 1 || r.MaxLag != 7 || r.TotalLag != 7 || !r.LagComplete || r.ClusterPaused != 1 {
		t.Fatalf("replication = %+v", r)
	}
	if o.Requests != 11 {
		t.Errorf("requests = %d, want 10 and the _status of the index not syncing", o.Requests)
	}
	o = l.prober.Cycle(context.Background())
	if ix := index(t, o, "orders-2"); ix.Replication != "PAUSED" || o.Requests != 9 {
		t.Errorf("the next cycle: orders-2 %+v, %d requests: want the status kept, 9 requests (no lease period read)", ix, o.Requests)
	}
}

// An index follower_stats still lists (it reads as syncing) whose task
// FAILED - the role of use_roles lost a permission: when the cluster
// counts more failed indices than the pair shows, _status tells it, and
// the index is not syncing, with the plugin's reason.
func TestCycleFailedIndexListedAsSyncing(t *testing.T) {
	l := newLab(t)
	body, _ := l.follower.FixtureBody("lab/follower_stats_running.json")
	var fs map[string]any
	if err := json.Unmarshal(body, &fs); err != nil {
		t.Fatal(err)
	}
	fs["num_failed_indices"] = 1
	b, _ := json.Marshal(fs)
	l.follower.Set(fakeos.RouteFollowerStats, 200, string(b))
	reason := `Pause failed with "no permissions for [indices:admin/plugins/replication/index/pause] and associated roles [ccr_follower]". Original failure for initiating pause - [[orders-1][0] - org.opensearch.OpenSearchSecurityException - "no permissions for [indices:data/write/plugins/replication/changes] and associated roles [ccr_follower]"], `
	failed, _ := json.Marshal(map[string]string{"status": "FAILED", "reason": reason, "leader_alias": "leader", "leader_index": "orders-1", "follower_index": "orders-1"})
	for _, n := range []string{"orders-1", "orders-2", "logs-1"} {
		l.follower.Fixture("GET /_plugins/_replication/"+n+"/_status", "lab/status_syncing.json")
	}
	l.follower.Set("GET /_plugins/_replication/orders-1/_status", 200, string(failed))
	o := l.prober.Cycle(context.Background())
	r := o.Follower.Replication
	ix := index(t, o, "orders-1")
	if ix.State != observe.StateNotSyncing || ix.Replication != "FAILED" || ix.Reason != reason || r.Stopped != 1 || r.Syncing != len(r.Indices)-1 {
		t.Fatalf("orders-1 = %+v; replication %d syncing, %d not", ix, r.Syncing, r.Stopped)
	}
	if !slices.ContainsFunc(report.Problems(o), func(p string) bool {
		return strings.Contains(p, "follower index orders-1: replication failed: "+reason)
	}) {
		t.Fatalf("problems %q", report.Problems(o))
	}
}

// Without the leader every lag is unknown, never the follower's belief;
// the follower's view is kept beside it, labelled.
func TestCycleLagUnknownWhenLeaderDown(t *testing.T) {
	l := newLab(t)
	l.follower.Fixture(fakeos.RouteFollowerStats, "lab/follower_stats_paused.json")
	l.leader.Server.Close() // leader gone
	o := l.prober.Cycle(context.Background())
	if o.Leader.Reachable || o.Leader.Failure == nil || o.Leader.Failure.Class != observe.ClassConnRefused {
		t.Fatalf("leader = %+v", o.Leader)
	}
	r := o.Follower.Replication
	for _, ix := range r.Indices {
		if ix.LagKnown {
			t.Fatalf("%s: lag must be unknown while the leader is down: %+v", ix.Name, ix)
		}
	}
	if r.LagComplete || r.LeaderCheckpointsRead || r.CheckpointsFailure == nil || r.CheckpointsFailure.Class != observe.ClassConnRefused || r.CheckpointsSide != observe.SideLeader {
		t.Fatalf("replication = %+v (%+v)", r, r.CheckpointsFailure)
	}
	if v := index(t, o, "orders-1").FollowerView; v == nil || v.Lag != 0 {
		t.Fatalf("orders-1's follower view = %+v", v)
	}
}

// The leader answers its health but not its index stats: no lag is known.
func TestCycleLeaderStatsFailing(t *testing.T) {
	l := newLab(t)
	l.leader.Set("GET /logs-1,orders-1,orders-2,*/_stats/docs", 503, `{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":503}`)
	o := l.prober.Cycle(context.Background())
	r := o.Follower.Replication
	if !o.Leader.Reachable || r.LagComplete || r.LeaderCheckpointsRead || r.CheckpointsFailure == nil || r.CheckpointsFailure.Class != observe.ClassHTTP5xx || r.CheckpointsSide != observe.SideLeader {
		t.Fatalf("replication = %+v", r)
	}
	if r.UnknownLag() != 3 {
		t.Fatalf("unknown = %d, want 3", r.UnknownLag())
	}
}

// A shard missing on either side (not started, relocating) makes the
// index's lag unknown: a partial sum would understate it.
func TestCycleMissingShardMakesLagUnknown(t *testing.T) {
	for name, drop := range map[string]func(l *lab){
		"leader":   func(l *lab) { l.leader.SetShards("orders-2", l.leader.SeqNos("orders-2")[:1]...) },
		"follower": func(l *lab) { l.follower.SetShards("orders-2", l.follower.SeqNos("orders-2")[:1]...) },
		"both":     func(l *lab) { l.leader.SetShards("orders-2"); l.follower.SetShards("orders-2") },
	} {
		t.Run(name, func(t *testing.T) {
			l := newLab(t)
			drop(l)
			o := l.prober.Cycle(context.Background())
			if ix := index(t, o, "orders-2"); ix.LagKnown {
				t.Fatalf("a partial checkpoint sum must not give a lag: %+v", ix)
			}
			if r := o.Follower.Replication; r.LagComplete || !r.LeaderCheckpointsRead || r.UnknownLag() != 1 {
				t.Fatalf("replication = %+v", r)
			}
		})
	}
}

// An index in scope that follows another remote cluster is not the pair's.
// (The leader's other indices in scope, orders-2 and logs-1, then have no
// follower index: unfollowed, and the lag is incomplete.)
func TestCycleOtherAliasNotInPair(t *testing.T) {
	l := newLab(t)
	l.follower.Set(fakeos.RouteSettingsAll, 200, `{"orders-1":{"settings":{"index.number_of_shards":"2","index.plugins.replication.follower.leader_index":"leader:orders-1"}},
		"eu-1":{"settings":{"index.number_of_shards":"1","index.plugins.replication.follower.leader_index":"eu-leader:eu-1"}},
		"plain":{"settings":{"index.number_of_shards":"1"}}}`)
	o := l.prober.Cycle(context.Background())
	if r := o.Follower.Replication; len(r.Indices) != 1 || r.Indices[0].Name != "orders-1" || r.LagComplete ||
		!slices.Equal(r.Unfollowed, []string{"logs-1", "orders-2"}) {
		t.Fatalf("indices = %+v, unfollowed %v", r.Indices, r.Unfollowed)
	}
}

// A leader index in scope that no follower index follows yet (a rollover's
// new index, before autofollow created its follower): its writes are in no
// lag, so the lag is incomplete and it is named; once a follower index
// follows it, the reading is complete again. The leader's stats are still
// one request.
func TestCycleUnfollowedLeaderIndex(t *testing.T) {
	l := newLab(t)
	l.leader.SetSeqNos("logs-2", 40)
	l.leader.SetSeqNos(".kibana_1", 3) // a system index: not the pair's unless a pattern names dot-indices
	o := l.prober.Cycle(context.Background())
	r := o.Follower.Replication
	if r.LagComplete || !slices.Equal(r.Unfollowed, []string{"logs-2"}) || o.Requests != 10 {
		t.Fatalf("replication = %+v (%d requests)", r, o.Requests)
	}
	l.leader.SetSeqNos("logs-2")
	if r := l.prober.Cycle(context.Background()).Follower.Replication; !r.LagComplete || len(r.Unfollowed) != 0 {
		t.Fatalf("gone again: %+v", r)
	}
}

func TestCycleLeaderDownWitness(t *testing.T) {
	l := newLab(t)
	l.follower.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	l.follower.Fixture(fakeos.RouteFollowerStats, "lab/follower_stats_leader_down.json")
	l.leader.Server.Close()
	o := l.prober.Cycle(context.Background())
	if o.Leader.Reachable || o.Leader.Failure.Class != observe.ClassConnRefused {
		t.Fatalf("leader = %+v", o.Leader)
	}
	if !o.Follower.Reachable || !o.Follower.Remote.Known || o.Follower.Remote.Connected {
		t.Fatalf("remote = %+v", o.Follower.Remote)
	}
	r := o.Follower.Replication
	if r.FailedReadRequests == 0 || r.LagComplete || r.Syncing != 3 {
		t.Fatalf("replication = %+v", r)
	}
}

func TestCycleProxyModeWitness(t *testing.T) {
	l := newLab(t)
	l.follower.Fixture(fakeos.RouteRemoteInfo, "remote_info_proxy_connected.json")
	o := l.prober.Cycle(context.Background())
	if rm := o.Follower.Remote; !rm.Connected || rm.Mode != "proxy" || rm.ProxySocketsConnected == 0 {
		t.Fatalf("remote = %+v", rm)
	}
	l.follower.Fixture(fakeos.RouteRemoteInfo, "remote_info_proxy_disconnected.json")
	o = l.prober.Cycle(context.Background())
	if rm := o.Follower.Remote; rm.Connected || rm.ProxySocketsConnected != 0 {
		t.Fatalf("remote = %+v", rm)
	}
}

func TestCycleUnknownAlias(t *testing.T) {
	l := newLab(t)
	l.prober.LeaderAlias = "nope"
	o := l.prober.Cycle(context.Background())
	if o.Follower.Remote.Known || o.Follower.Remote.Connected {
		t.Fatalf("remote = %+v", o.Follower.Remote)
	}
}

// A malformed answer from a cluster is an observation error - never a
// reading of zero lag.
func TestCycleMalformedReplication(t *testing.T) {
	for _, tc := range []struct {
		name, body string
	}{
		{"wrong types", "malformed_follower_stats.json"},
		{"truncated", "truncated_follower_stats.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			l.follower.Fixture(fakeos.RouteFollowerStats, tc.body)
			o := l.prober.Cycle(context.Background())
			r := o.Follower.Replication
			if r.Failure == nil || r.Failure.Class != observe.ClassMalformed {
				t.Fatalf("failure = %+v, want malformed_response", r.Failure)
			}
			if len(r.Indices) != 0 || r.LagComplete {
				t.Fatalf("a malformed body must give no lag reading: %+v", r)
			}
		})
	}
}

func TestCycleFailureClasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(l *lab)
		target string // leader or replication
		class  observe.Class
		status int
	}{
		{"leader 503", func(l *lab) {
			l.leader.Set(fakeos.RouteHealth, 503, `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"blocked"}],"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]"},"status":503}`)
		}, "leader", observe.ClassHTTP5xx, 503},
		{"leader 401", func(l *lab) {
			l.leader.Set(fakeos.RouteHealth, 401, `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`)
		}, "leader", observe.ClassAuth, 401},
		{"leader 403", func(l *lab) {
			l.leader.Set(fakeos.RouteHealth, 403, `{"error":{"type":"security_exception","reason":"no permissions"},"status":403}`)
		}, "leader", observe.ClassAuth, 403},
		{"leader malformed health", func(l *lab) {
			l.leader.Set(fakeos.RouteHealth, 200, `{"cluster_name":"x","status":"purple"}`)
		}, "leader", observe.ClassMalformed, 0},
		{"leader not json", func(l *lab) {
			l.leader.Set(fakeos.RouteHealth, 200, `<html>proxy error</html>`)
		}, "leader", observe.ClassMalformed, 0},
		{"leader timeout", func(l *lab) {
			l.leader.SetDelay(3 * time.Second)
			l.prober.Timeout = 200 * time.Millisecond
		}, "leader", observe.ClassTimeout, 0},
		{"plugin missing", func(l *lab) {
			l.follower.Remove(fakeos.RouteFollowerStats)
		}, "replication", observe.ClassPluginMissing, 400},
		{"follower_stats 500", func(l *lab) {
			l.follower.Set(fakeos.RouteFollowerStats, 500, `{"error":{"type":"replication_exception","reason":"boom"},"status":500}`)
		}, "replication", observe.ClassHTTP5xx, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			tc.setup(l)
			o := l.prober.Cycle(context.Background())
			var f *observe.Failure
			if tc.target == "leader" {
				if o.Leader.Reachable {
					t.Fatal("leader must not be reachable")
				}
				f = o.Leader.Failure
			} else {
				f = o.Follower.Replication.Failure
			}
			if f == nil || f.Class != tc.class || f.Status != tc.status {
				t.Fatalf("failure = %+v, want class %s status %d", f, tc.class, tc.status)
			}
			if f.Message == "" {
				t.Fatal("failure has no message")
			}
		})
	}
}

func TestCycleTLSVerificationOnByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(fakeos.Health("green")))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ClusterHealth(context.Background())
	if opensearch.ClassOf(err) != observe.ClassTLS {
		t.Fatalf("err = %v (class %q), want tls", err, opensearch.ClassOf(err))
	}
	// With the server's CA it verifies and works.
	ca := pemCert(t, srv)
	c, err = opensearch.New(config.Endpoint{Addresses: []*url.URL{u}, CACert: ca}, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.ClusterHealth(context.Background()); err != nil || h.Status != "green" {
		t.Fatalf("health = %+v, %v", h, err)
	}
}

func TestConnectionRefusedClass(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u, _ := url.Parse("http://" + addr)
	c, _ := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{})
	_, err = c.ClusterHealth(context.Background())
	if opensearch.ClassOf(err) != observe.ClassConnRefused {
		t.Fatalf("err = %v, want connection_refused", err)
	}
}

// The number of HTTP requests of a cycle does not grow with the number of
// follower indices.
func TestCycleRequestsConstantInIndexCount(t *testing.T) {
	for _, n := range []int{1, 100, 2000} {
		l := newLab(t)
		fakeos.Synthetic(l.leader, l.follower, n, 3)
		o := l.prober.Cycle(context.Background())
		r := o.Follower.Replication
		if len(r.Indices) != n || r.MaxLag != min(int64(n-1), 3) || !r.LagComplete || r.Disagreeing() != 0 {
			t.Fatalf("n=%d: %d indices, max lag %d, complete %v", n, len(r.Indices), r.MaxLag, r.LagComplete)
		}
		if o.Requests != 10 {
			t.Fatalf("n=%d: %d requests, want 10", n, o.Requests)
		}
	}
}

// An Aiven pair adds two Aiven requests per aiven.probe_interval (both
// services, whatever the number of indices), none in the cycles between,
// and its OpenSearch requests stay nine. The count is the Aiven client's
// transport's, checked against what the fake Aiven API received.
func TestCycleRequestsConstantInIndexCountAiven(t *testing.T) {
	for _, n := range []int{1, 100, 2000} {
		l := newAivenLab(t, 15*time.Second)
		fakeos.Synthetic(l.leader, l.follower, n, 3)
		var aivenReqs int64
		for i := range 9 { // 40 s of 5 s cycles: refreshes at 0, 15 and 30 s
			o := l.cycle(time.Duration(min(i, 1)) * 5 * time.Second)
			// The OpenSearch count of the first cycle, with the Aiven
			// refresh beside it. (Later cycles are
			// TestCycleRequestsConstantInIndexCount's: under -race, a
			// lab of 2,000 indices shows 9 round trips in its 8th cycle,
			// with or without Aiven.)
			if i == 0 && o.Requests != 10 {
				t.Fatalf("n=%d, cycle %d: %d OpenSearch requests, want 10", n, i, o.Requests)
			}
			if want := int64(2 * b2i(i%3 == 0)); o.AivenRequests != want {
				t.Fatalf("n=%d, cycle %d: %d Aiven requests, want %d", n, i, o.AivenRequests, want)
			}
			aivenReqs += o.AivenRequests
		}
		if saw := l.aivenGETs(t); aivenReqs != 6 || saw != 6 {
			t.Fatalf("n=%d: counted %d Aiven requests, the fake saw %d, want 6", n, aivenReqs, saw)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A leader index an autofollow rule failed to replicate is in nobody's
// lag: while autofollow_stats lists one in the pair's scope, the lag is
// not complete. (The body is the captured autofollow_stats.json with a
// failed index added where the plugin lists them.)
func TestCycleAutofollowFailureMakesLagIncomplete(t *testing.T) {
	const failed = `{"num_success_start_replication":1,"num_failed_start_replication":1,"num_failed_leader_calls":0,"failed_indices":["logs-2"],
		"autofollow_stats":[{"name":"logs","pattern":"logs-*","num_success_start_replication":1,"num_failed_start_replication":1,"num_failed_leader_calls":0,"failed_indices":["logs-2"],"last_execution_time":1796099533016}]}`
	l := newLab(t)
	l.follower.Set(fakeos.RouteAutofollowStats, 200, failed)
	o := l.prober.Cycle(context.Background())
	r := o.Follower.Replication
	if r.Failure != nil || len(r.Indices) != 3 || r.UnknownLag() != 0 || r.LagComplete || len(r.Unreplicated) != 1 || r.Unreplicated[0] != "logs-2" {
		t.Fatalf("replication = %+v", r)
	}
	// A pair whose scope excludes logs-* is not concerned.
	l.prober.Indices = []string{"*", "-logs-*"}
	l.follower.Set("GET /*,-logs-*/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards", 200,
		`{"orders-2":{"settings":{"index.number_of_shards":"2","index.plugins.replication.follower.leader_index":"leader:orders-2"}},"orders-1":{"settings":{"index.number_of_shards":"2","index.plugins.replication.follower.leader_index":"leader:orders-1"}}}`)
	if r := l.prober.Cycle(context.Background()).Follower.Replication; r.Failure != nil || len(r.Indices) != 2 || !r.LagComplete || len(r.Unreplicated) != 0 {
		t.Fatalf("out of scope: %+v", r)
	}
}

func TestInScope(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
		want     bool
	}{
		{"logs-1", []string{"*"}, true},
		{".kibana", []string{"*", "-.*"}, false},
		{"logs-1", []string{"orders-*", "logs-*"}, true},
		{"logs-1", []string{"logs-*", "-logs-1"}, false},
		{"logs-1", []string{"-logs-1", "logs-*"}, true},
		{"a-b-c", []string{"a*c"}, true},
		{"a-b-c", []string{"a*b*c*d"}, false},
		{"orders", []string{"orders"}, true},
		{"orders-1", []string{"orders"}, false},
	} {
		if got := probe.InScope(tc.name, tc.patterns); got != tc.want {
			t.Errorf("InScope(%q, %q) = %v, want %v", tc.name, tc.patterns, got, tc.want)
		}
	}
}

// With too many names for one request line (_all is read instead), a
// leader index in scope that no follower follows is still found.
func TestCycleUnfollowedLeaderIndexAmongThousands(t *testing.T) {
	l := newLab(t)
	fakeos.Synthetic(l.leader, l.follower, 2000, 0)
	l.leader.SetSeqNos("zz-new", 7)
	r := l.prober.Cycle(context.Background()).Follower.Replication
	if len(r.Indices) != 2000 || r.LagComplete || !slices.Equal(r.Unfollowed, []string{"zz-new"}) {
		t.Fatalf("%d indices, complete %v, unfollowed %v", len(r.Indices), r.LagComplete, r.Unfollowed)
	}
}
