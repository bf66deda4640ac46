package opensearch_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// These answers were captured from the real lab (OpenSearch 2.19.3 with the
// replication plugin 2.19.3.0; the lab's capture, now make capture, wrote testdata/lab/ in
// fakeos; OpenSearch 3.4.0 with the plugin 3.4.0.0 wrote testdata/lab-3.4.0/): the client
// must read them as they are.

func captured(t *testing.T, name string) string {
	t.Helper()
	return capturedIn(t, "lab", name)
}

// captureDirs are the captures of the replication plugin's answers, one
// per line of releases (drwatch-lab capture, LAB_VERSION): the same
// requests, the same shapes - each test of a capture runs on both.
var captureDirs = []string{"lab", "lab-3.4.0"}

func eachCapture(t *testing.T, test func(t *testing.T, dir string)) {
	for _, dir := range captureDirs {
		t.Run(dir, func(t *testing.T) { test(t, dir) })
	}
}

func capturedIn(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := fakeos.ReadFixture(dir + "/" + name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(b)
}

func labClient(t *testing.T) (*opensearch.Client, *fakeos.Cluster) {
	t.Helper()
	c := fakeos.New(t)
	cl, err := opensearch.New(c.Endpoint(), opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cl, c
}

func TestRealCoreAnswers(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()

	c.Fixture(fakeos.RouteHealth, "lab/cluster_health_green.json")
	if h, err := cl.ClusterHealth(ctx); err != nil || h.Status != "green" || h.ClusterName != "drwatch-leader" || h.Nodes != 1 {
		t.Fatalf("health = %+v, %v", h, err)
	}

	c.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_connected.json")
	ri, err := cl.RemoteInfo(ctx)
	if err != nil || !ri["leader"].Connected || ri["leader"].Mode != "sniff" || ri["leader"].NumNodesConnected != 1 {
		t.Fatalf("remote info = %+v, %v", ri, err)
	}
	c.Fixture(fakeos.RouteRemoteInfo, "lab/remote_info_sniff_disconnected.json")
	if ri, err = cl.RemoteInfo(ctx); err != nil || ri["leader"].Connected || ri["leader"].NumNodesConnected != 0 {
		t.Fatalf("remote info, leader killed = %+v, %v", ri, err)
	}

	// Without the plugin: the real 400 "no handler found" body.
	c.Set(fakeos.RouteFollowerStats, 400, captured(t, "follower_stats_no_plugin.json"))
	if _, err := cl.FollowerStats(ctx); opensearch.ClassOf(err) != observe.ClassPluginMissing {
		t.Fatalf("follower stats without the plugin: %v", err)
	}

	// Settings of plain indices carry no leader-index setting: none is a follower.
	c.Fixture("GET /*,-.*/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards", "lab/settings_plain_indices.json")
	if fi, err := cl.FollowerIndices(ctx, []string{"*", "-.*"}); err != nil || len(fi) != 0 {
		t.Fatalf("follower indices of plain indices = %v, %v", fi, err)
	}

	c.Fixture("PUT /orders-1/_block/write", "lab/block_write_ack.json")
	if err := cl.BlockWrite(ctx, []string{"orders-1"}); err != nil {
		t.Fatal(err)
	}
}

func TestRealFollowerStats(t *testing.T) {
	eachCapture(t, func(t *testing.T, dir string) {
		for _, tc := range []struct {
			name                    string
			indices, paused, failed int
		}{
			{"follower_stats_running.json", 3, 0, 0},
			{"follower_stats_paused.json", 2, 1, 0},
			{"follower_stats_leader_down.json", 3, 0, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := capturedIn(t, dir, tc.name)
				if !strings.Contains(body, `" : `) {
					t.Fatal("the plugin pretty-prints follower_stats: the capture should show it")
				}
				fs, err := opensearch.ParseFollowerStats([]byte(body))
				if err != nil {
					t.Fatal(err)
				}
				if len(fs.IndexStats) != tc.indices || int(fs.NumPausedIndices) != tc.paused || (fs.FailedReadRequests > 0) != (tc.failed > 0) {
					t.Fatalf("parsed %+v", fs)
				}
				var sum int64
				for _, ix := range fs.IndexStats {
					sum += ix.FollowerCheckpoint
				}
				if sum != fs.FollowerCheckpoint {
					t.Fatalf("index follower checkpoints sum to %d, the top level says %d", sum, fs.FollowerCheckpoint)
				}
			})
		}
	})
}

func TestRealAutofollowAndSettings(t *testing.T) {
	eachCapture(t, func(t *testing.T, dir string) {
		cl, c := labClient(t)
		ctx := context.Background()
		c.Fixture(fakeos.RouteAutofollowStats, dir+"/autofollow_stats.json")
		af, err := cl.AutofollowStats(ctx)
		if err != nil || len(af.Rules) != 1 || af.Rules[0].Name != "logs" || af.Rules[0].Pattern != "logs-*" || len(af.FailedIndices) != 0 {
			t.Fatalf("autofollow = %+v, %v", af, err)
		}

		const settings = "/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards"
		c.Fixture("GET /*"+settings, dir+"/follower_settings.json")
		fis, err := cl.FollowerIndices(ctx, []string{"*"})
		if err != nil || len(fis) != 3 || fis["orders-1"] != (opensearch.FollowerIndex{LeaderAlias: "leader", LeaderIndex: "orders-1", Shards: 2}) ||
			fis["logs-1"].Shards != 1 {
			t.Fatalf("follower indices = %+v, %v", fis, err)
		}
		c.Fixture("GET /stopme"+settings, dir+"/follower_settings_before_stop.json")
		if fis, err := cl.FollowerIndices(ctx, []string{"stopme"}); err != nil || fis["stopme"].LeaderIndex != "stopme" {
			t.Fatalf("before _stop: %+v, %v", fis, err)
		}
		// After _stop the plugin sets the setting to null: no longer a follower.
		c.Fixture("GET /stopme"+settings, dir+"/follower_settings_after_stop.json")
		if fis, err := cl.FollowerIndices(ctx, []string{"stopme"}); err != nil || len(fis) != 0 {
			t.Fatalf("after _stop: %+v, %v", fis, err)
		}
	})
}

func TestRealSeqNos(t *testing.T) {
	eachCapture(t, func(t *testing.T, dir string) {
		cl, c := labClient(t)
		ctx := context.Background()
		read := func(fixture string) map[string]opensearch.IndexSeqNos {
			c.Fixture("GET /logs-1,orders-1,orders-2/_stats/docs", dir+"/"+fixture)
			got, err := cl.ShardSeqNos(ctx, []string{"logs-1", "orders-1", "orders-2"})
			if err != nil {
				t.Fatalf("%s: %v", fixture, err)
			}
			return got
		}
		for _, tc := range []struct {
			state string
			lag   map[string]int64
		}{
			{"running", map[string]int64{"orders-1": 0, "orders-2": 0, "logs-1": 0}},
			// orders-2 paused, then 7 documents written on the leader.
			{"paused", map[string]int64{"orders-1": 0, "orders-2": 7, "logs-1": 0}},
		} {
			l, f := read("leader_seqnos_"+tc.state+".json"), read("follower_seqnos_"+tc.state+".json")
			for idx, want := range tc.lag {
				shards := map[string]int{"orders-1": 2, "orders-2": 2, "logs-1": 1}[idx]
				if len(l[idx]) != shards || len(f[idx]) != shards {
					t.Fatalf("%s %s: %d and %d primaries, want %d", tc.state, idx, len(l[idx]), len(f[idx]), shards)
				}
				if lag, _, _, ok := opensearch.ShardLag(l[idx], f[idx], shards); !ok || lag != want {
					t.Errorf("%s %s: lag %d (%v), want %d", tc.state, idx, lag, ok, want)
				}
			}
		}
	})
}

func TestRealStopAndBlocks(t *testing.T) {
	eachCapture(t, func(t *testing.T, dir string) {
		cl, c := labClient(t)
		ctx := context.Background()
		const state = "GET /_cluster/state/metadata,blocks/stopme"
		c.Fixture(state, dir+"/cluster_state_follower_block.json")
		st, err := cl.IndexStates(ctx, []string{"stopme"})
		if err != nil || !st["stopme"].Open || len(st["stopme"].Blocks) != 1 || st["stopme"].Blocks[0] != (opensearch.Block{ID: "1000", Description: "index read-only(cross-cluster-replication)"}) {
			t.Fatalf("follower index state = %+v, %v", st, err)
		}
		c.Fixture(state, dir+"/cluster_state_after_stop.json")
		if st, err = cl.IndexStates(ctx, []string{"stopme"}); err != nil || !st["stopme"].Open || len(st["stopme"].Blocks) != 0 {
			t.Fatalf("after _stop = %+v, %v", st, err)
		}

		const stop = "POST /_plugins/_replication/stopme/_stop"
		c.Fixture(stop, dir+"/stop_ack.json")
		if err := cl.StopReplication(ctx, "stopme"); err != nil {
			t.Fatal(err)
		}
		c.Set(stop, 400, capturedIn(t, dir, "stop_not_in_progress_error.json"))
		if err := cl.StopReplication(ctx, "stopme"); !errors.Is(err, opensearch.ErrNotReplicating) {
			t.Fatalf("second _stop: %v, want ErrNotReplicating", err)
		}

		c.Set("DELETE /_plugins/_replication/_autofollow", 500, capturedIn(t, dir, "delete_autofollow_unknown_error.json"))
		err = cl.DeleteAutofollow(ctx, "leader", "no-such-rule")
		if e, ok := opensearch.AsError(err); !ok || e.Class != observe.ClassHTTP5xx || !strings.Contains(e.Detail, "does not exist") {
			t.Fatalf("unknown rule: %v", err)
		}
	})
}
