//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Fencing the old leader against the real cluster: the write block the
// promotion puts on the leader copies rejects writes, shows in the cluster
// state, and is lifted by the settings call docs/replication.md gives ("Fencing the leader").
func TestFenceBlocksLeaderWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := labClient(t, lab.LeaderURL)
	idx := []string{"orders-1", "orders-2"}
	t.Cleanup(func() {
		for _, i := range idx {
			osDo(t, lab.LeaderURL, "PUT", "/"+i+"/_settings", `{"index.blocks.write":false}`)
		}
	})
	if err := c.BlockWrite(ctx, idx); err != nil {
		t.Fatal(err)
	}
	for _, i := range idx {
		code, body := osDo(t, lab.LeaderURL, "POST", "/"+i+"/_doc", `{"after":"fence"}`)
		var e struct {
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if code != 403 || json.Unmarshal(body, &e) != nil || e.Error.Type != "cluster_block_exception" {
			t.Fatalf("write to fenced %s: HTTP %d %s", i, code, body)
		}
	}
	st, err := c.IndexStates(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range idx {
		if !st[i].Open || len(st[i].Blocks) != 1 || !strings.Contains(st[i].Blocks[0].Description, "index write") {
			t.Fatalf("%s state = %+v", i, st[i])
		}
	}
	// Fencing twice is harmless (a resumed promotion may repeat it).
	if err := c.BlockWrite(ctx, idx); err != nil {
		t.Fatalf("second fence: %v", err)
	}
	osOK(t, lab.LeaderURL, "PUT", "/orders-1/_settings", `{"index.blocks.write":false}`)
	if code, body := osDo(t, lab.LeaderURL, "POST", "/orders-1/_doc", `{"after":"unfence"}`); code != 201 {
		t.Fatalf("write after lifting the block: HTTP %d %s", code, body)
	}
}

// The sequence-number arithmetic the lag relies on, against the real
// cluster: n operations written to a two-shard index move the sum of its
// primaries' max_seq_no by exactly n, and with no replicas the local and
// global checkpoints follow.
func TestSeqNosMoveByOperationsWritten(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := labClient(t, lab.LeaderURL)
	osOK(t, lab.LeaderURL, "PUT", "/seqno-arith", `{"settings":{"number_of_shards":2,"number_of_replicas":0}}`)
	t.Cleanup(func() { osDo(t, lab.LeaderURL, "DELETE", "/seqno-arith", "") })
	sum := func() (max, local, global int64, shards int) {
		t.Helper()
		got, err := c.ShardSeqNos(ctx, []string{"seqno-arith"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got["seqno-arith"] {
			max, local, global = max+s.MaxSeqNo, local+s.LocalCheckpoint, global+s.GlobalCheckpoint
		}
		return max, local, global, len(got["seqno-arith"])
	}
	before, _, _, shards := sum()
	if shards != 2 || before != -2 {
		t.Fatalf("an empty two-shard index: %d primaries, max_seq_no sum %d, want 2 and -2", shards, before)
	}
	var b strings.Builder
	const n = 23
	for i := range n {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"d%d\"}}\n{\"k\":1}\n", i)
	}
	code, body := osDo(t, lab.LeaderURL, "POST", "/seqno-arith/_bulk", b.String())
	if code != 200 || bulkErrors(t, body) {
		t.Fatalf("bulk: %d %s", code, body)
	}
	var maxSum, local, global int64
	eventually(t, 10*time.Second, "checkpoints advanced", func() bool {
		maxSum, local, global, _ = sum()
		return global == maxSum
	})
	if maxSum-before != n || local != maxSum {
		t.Fatalf("max_seq_no moved by %d (local %d, global %d), want %d", maxSum-before, local, global, n)
	}
}
