package ccr

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
)

// topology is the follower cluster's membership as read between waves of
// stops; err is set when it could not be read.
type topology struct {
	t   opensearch.Topology
	err error
}

func (e *Executor) topology(ctx context.Context) topology {
	var t topology
	t.err = e.call(ctx, func(ctx context.Context) (err error) {
		t.t, err = e.Follower.Topology(ctx)
		return err
	})
	return t
}

// change says how the follower's membership changed from before to
// after ("" if it did not); a membership that could not be read on either
// side counts as changed - the stops in between may have met the change.
func (before topology) change(after topology) string {
	switch {
	case before.err != nil:
		return "the follower's membership could not be read before these stops: " + before.err.Error()
	case after.err != nil:
		return "the follower's membership could not be read after these stops: " + after.err.Error()
	case before.t.Same(after.t):
		return ""
	}
	return "the follower cluster changed during these stops (" + before.t.Change(after.t) + ")"
}

// markUnsettled journals, for every index whose stop is done in results,
// that it must be settled (closed and reopened) before it is verified:
// its stop ran while the follower's cluster manager or nodes changed. The
// mark is durable, so a promotion resumed after a crash settles it too.
func (e *Executor) markUnsettled(p *promote.Promotion, results []promote.Step, change string) error {
	var marks []promote.Step
	for _, r := range results {
		if r.Status == promote.StepDone {
			marks = append(marks, promote.Step{Name: promote.StepSettle, Target: r.Target, Status: promote.StepStarted, Detail: change})
		}
	}
	if len(marks) == 0 {
		return nil
	}
	e.Log.Warn("stops ran while the follower cluster changed: their indices will be closed and reopened",
		zap.String("change", change), zap.Int("indices", len(marks)))
	return e.record(p, marks...)
}

// settle closes and reopens, all at once, the indices marked unsettled
// (by this attempt or an earlier one): the stop of such an index may have
// left a shard that was never re-created, and that shard still runs the
// replication engine, which refuses every write. Each index is settled
// at most once per attempt; one that fails is retried by the next attempt
// and is reported failed now.
func (e *Executor) settle(ctx context.Context, p *promote.Promotion) (map[string]string, error) {
	var todo []string
	for idx := range p.Plan {
		if s, ok := p.Last(promote.StepSettle, idx); ok && (s.Status == promote.StepStarted || s.Status == promote.StepFailed) {
			todo = append(todo, idx)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	slices.Sort(todo)
	start := time.Now()
	err := e.callFor(ctx, e.stopTimeout(), func(ctx context.Context) error {
		if err := e.Follower.CloseIndices(ctx, todo); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		if err := e.Follower.OpenIndices(ctx, todo); err != nil {
			return fmt.Errorf("open: %w", err)
		}
		return nil
	})
	status, detail := promote.StepDone, fmt.Sprintf("closed and reopened (%d indices at once, %s): every shard re-created on the standalone settings", len(todo), time.Since(start).Round(time.Millisecond))
	failed := map[string]string{}
	if err != nil {
		status, detail = promote.StepFailed, "settle (close and reopen) failed: "+err.Error()
		for _, idx := range todo {
			failed[idx] = detail
		}
		e.Log.Warn("settle failed", zap.Strings("indices", todo), zap.Error(err))
	} else {
		e.Log.Info("settled indices stopped while the follower cluster changed", zap.Strings("indices", todo), zap.Duration("took", time.Since(start)))
	}
	out := make([]promote.Step, len(todo))
	for i, idx := range todo {
		out[i] = promote.Step{Name: promote.StepSettle, Target: idx, Status: status, Detail: detail}
	}
	if err := e.record(p, out...); err != nil {
		return failed, err
	}
	return failed, nil
}

// primariesUnassigned waits, for at most wait, until every index of
// names has all its primaries active, and returns those that do not, with
// why, and those the follower's health answer lacks (deleted since).
// An index without an active primary takes no writes. A wait cut short
// (ctx) is an error: the attempt ends and is resumed, nothing is judged.
func (e *Executor) primariesUnassigned(ctx context.Context, names []string, wait time.Duration) (unassigned, missing map[string]string, err error) {
	deadline := time.Now().Add(wait)
	missing = map[string]string{} // kept from the first read on: the later ones ask only for the unassigned
	for {
		var health map[string]opensearch.IndexHealth
		err := e.call(ctx, func(ctx context.Context) (err error) {
			health, err = e.Follower.IndicesHealth(ctx, names)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		unassigned = map[string]string{}
		for _, idx := range names {
			h, ok := health[idx]
			switch {
			case !ok:
				missing[idx] = "not in the follower's health answer (deleted since it was stopped?)"
			case h.ActivePrimaries < h.Shards:
				unassigned[idx] = fmt.Sprintf("%d of %d primaries not active (health %s): it takes no writes until the follower allocates them (GET _cluster/allocation/explain says why)", h.Shards-h.ActivePrimaries, h.Shards, h.Status)
			}
		}
		if len(unassigned) == 0 || !time.Now().Before(deadline) {
			return unassigned, missing, nil
		}
		names = slices.Sorted(maps.Keys(unassigned))
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("waiting for the promoted indices' primaries: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
