package steps_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
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

// A leader that answers its health with 401 (a rotated password) is
// alive, as the decision core judges it: the fence tries the write block,
// and a refused block fails the attempt instead of skipping the fence.
// One that does not answer at all is skipped.
func TestFenceTreatsAnAnsweringLeaderAsAlive(t *testing.T) {
	leader := fakeos.New(t)
	leader.Set(fakeos.RouteHealth, 401, `{"error":{"type":"security_exception","reason":"unauthorized"},"status":401}`)
	leader.Set("PUT /orders-1/_block/write", 401, `{"error":{"type":"security_exception","reason":"unauthorized"},"status":401}`)
	lc, _ := opensearch.New(leader.Endpoint(), opensearch.Options{})
	var journaled []promote.Step
	f := steps.Fencer{Leader: lc, Enabled: true,
		Record: func(_ *promote.Promotion, s ...promote.Step) error { journaled = append(journaled, s...); return nil },
		Call:   func(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }}
	p := &promote.Promotion{Plan: map[string]string{"orders-1": "orders-1"}}
	fenced, err := f.Fence(context.Background(), p, "nothing removed")
	if fenced || err == nil || !strings.Contains(err.Error(), "the leader answers but refused the write block") {
		t.Fatalf("fenced %t, err %v", fenced, err)
	}
	if n := leader.HitsContaining("/_block/write"); n != 1 {
		t.Fatalf("%d write blocks tried", n)
	}

	leader.Server.Close()
	journaled = nil
	fenced, err = f.Fence(context.Background(), &promote.Promotion{Plan: p.Plan}, "nothing removed")
	if fenced || err != nil || len(journaled) != 1 || journaled[0].Status != promote.StepSkipped {
		t.Fatalf("unreachable leader: fenced %t, err %v, journaled %+v", fenced, err, journaled)
	}
}

// A call is bounded by the lease's window: one whose window is over (or
// that holds no lease: the zero time) is never sent; without ha only the
// timeout bounds it.
func TestBoundEndsWithTheWindow(t *testing.T) {
	ctx, cancel := steps.Bound(context.Background(), time.Minute, func() time.Time { return time.Time{} })
	defer cancel()
	if ctx.Err() == nil {
		t.Fatal("a call without a lease may be sent")
	}
	end := time.Now().Add(time.Second)
	ctx, cancel = steps.Bound(context.Background(), time.Minute, func() time.Time { return end })
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || !d.Equal(end) {
		t.Fatalf("deadline %v, want the window's end %v", d, end)
	}
	ctx, cancel = steps.Bound(context.Background(), time.Minute, nil)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) < 59*time.Second {
		t.Fatalf("without ha: deadline %v", d)
	}
}
