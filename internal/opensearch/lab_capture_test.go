package opensearch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// These answers were captured from the real lab (OpenSearch 2.19.3, core
// APIs; testdata/lab/ in fakeos): the client must read them as they are.
func TestRealCoreAnswers(t *testing.T) {
	c := fakeos.New(t)
	cl, err := opensearch.New(c.Endpoint(), opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
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

	// Without the plugin: the real 400 "no handler found" body.
	b, _ := fakeosFixture("lab/follower_stats_no_plugin.json")
	c.Set(fakeos.RouteFollowerStats, 400, b)
	if _, err := cl.FollowerStats(ctx); opensearch.ClassOf(err) != opensearch.ClassPluginMissing {
		t.Fatalf("follower stats without the plugin: %v", err)
	}

	// Settings of plain indices carry no leader-index setting: none is a follower.
	c.Fixture("GET /*,-.*/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards", "lab/settings_plain_indices.json")
	if fi, err := cl.FollowerIndices(ctx, []string{"*", "-.*"}); err != nil || len(fi) != 0 {
		t.Fatalf("follower indices of plain indices = %v, %v", fi, err)
	}

	c.Fixture("GET /orders-1,orders-2/_stats/docs", "lab/index_stats_shards.json")
	cps, err := cl.IndexCheckpoints(ctx, []string{"orders-1", "orders-2"}, opensearch.GlobalCheckpoint)
	if err != nil || cps["orders-1"] != (opensearch.IndexCheckpoint{Sum: 4, Primaries: 1}) || cps["orders-2"].Sum != 4 {
		t.Fatalf("checkpoints = %+v, %v", cps, err)
	}

	c.Fixture("GET /_cluster/state/metadata,blocks/orders-1,orders-2", "lab/cluster_state_blocks.json")
	st, err := cl.IndexStates(ctx, []string{"orders-1", "orders-2"})
	if err != nil || !st["orders-1"].Open || len(st["orders-1"].Blocks) != 1 || st["orders-1"].Blocks[0] != "8: index write (api)" || len(st["orders-2"].Blocks) != 0 {
		t.Fatalf("index states = %+v, %v", st, err)
	}

	c.Fixture("PUT /orders-1/_block/write", "lab/block_write_ack.json")
	if err := cl.BlockWrite(ctx, []string{"orders-1"}); err != nil {
		t.Fatal(err)
	}
}

func fakeosFixture(name string) (string, error) {
	b, err := fakeos.ReadFixture(name)
	if err != nil {
		return "", errors.New(name + ": " + err.Error())
	}
	return string(b), nil
}
