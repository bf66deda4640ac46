//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	drconfig "github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

func labClient(t *testing.T, base string) *opensearch.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := opensearch.New(drconfig.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{Retry: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Fencing the old leader against the real cluster: the write block the
// promotion puts on the leader copies rejects writes, shows in the cluster
// state, and is lifted by the settings call opensearch-ccr.md gives.
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
		if code != 403 || !strings.Contains(string(body), "cluster_block_exception") {
			t.Fatalf("write to fenced %s: HTTP %d %s", i, code, body)
		}
	}
	st, err := c.IndexStates(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range idx {
		if !st[i].Open || len(st[i].Blocks) != 1 || !strings.Contains(st[i].Blocks[0], "index write") {
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

// The checkpoint arithmetic lag relies on, against the real cluster: n
// operations written move the summed global checkpoint by exactly n.
func TestCheckpointsMoveByOperationsWritten(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := labClient(t, lab.LeaderURL)
	before, err := c.IndexCheckpoints(ctx, []string{"orders-2"}, opensearch.GlobalCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	const n = 23
	for range n {
		b.WriteString("{\"index\":{}}\n{\"k\":1}\n")
	}
	code, body := osDo(t, lab.LeaderURL, "POST", "/orders-2/_bulk", b.String())
	if code != 200 || strings.Contains(string(body), `"errors":true`) {
		t.Fatalf("bulk: %d %s", code, body)
	}
	var after map[string]opensearch.IndexCheckpoint
	eventually(t, 10*time.Second, "global checkpoint advanced", func() bool {
		after, err = c.IndexCheckpoints(ctx, []string{"orders-2"}, opensearch.GlobalCheckpoint)
		return err == nil && after["orders-2"].Sum >= before["orders-2"].Sum+n
	})
	if got := after["orders-2"].Sum - before["orders-2"].Sum; got != n || after["orders-2"].Primaries != 1 {
		t.Fatalf("global checkpoint moved by %d (primaries %d), want %d", got, after["orders-2"].Primaries, n)
	}
	local, err := c.IndexCheckpoints(ctx, []string{"orders-2"}, opensearch.LocalCheckpoint)
	if err != nil || local["orders-2"].Sum != after["orders-2"].Sum {
		t.Fatalf("local checkpoint %+v vs global %+v (%v): with no replicas they agree", local, after, err)
	}
}
