package steps_test

import (
	"context"
	"testing"

	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote/steps"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// The graceful catch-up compares, shard by shard, the fenced leader's
// max_seq_no with the follower's local checkpoints, read from each cluster.
func TestBehind(t *testing.T) {
	leader, follower := fakeos.New(t), fakeos.New(t)
	lc, _ := opensearch.New(leader.Endpoint(), opensearch.Options{})
	fc, _ := opensearch.New(follower.Endpoint(), opensearch.Options{})
	plan := map[string]string{"orders-1": "orders-1"}
	leader.SetSeqNos("orders-1", 50, 40)
	follower.SetSeqNos("orders-1", 50, 37)
	if got, err := steps.Behind(context.Background(), lc, fc, plan); err != nil || got != "orders-1: 3 operations behind" {
		t.Fatalf("behind = %q, %v", got, err)
	}
	follower.SetSeqNos("orders-1", 50)
	if got, _ := steps.Behind(context.Background(), lc, fc, plan); got != "orders-1: checkpoints not readable on both clusters" {
		t.Fatalf("a missing primary: %q", got)
	}
	follower.SetSeqNos("orders-1", 50, 41) // ahead on one shard never hides behind on none
	if got, err := steps.Behind(context.Background(), lc, fc, plan); err != nil || got != "" {
		t.Fatalf("caught up: %q, %v", got, err)
	}
}
