package ccr

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// New builds the executor of a pair from its config.
// Its clients retry 502/503/504 (a retried _stop that already happened
// answers "No replication in progress", which counts as done).
func New(p *config.Pair, j Journal, log *zap.Logger) (*Executor, error) {
	ua := "drwatch/" + buildinfo.Version
	leader, err := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua, Retry: true})
	if err != nil {
		return nil, fmt.Errorf("pair %s: leader: %w", p.Name, err)
	}
	follower, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua, Retry: true})
	if err != nil {
		return nil, fmt.Errorf("pair %s: follower: %w", p.Name, err)
	}
	pol := p.Resolved
	return &Executor{
		Pair: p.Name, Leader: leader, Follower: follower, Alias: p.Follower.LeaderAlias,
		Indices: p.Indices, Concurrency: pol.PromoteConcurrency, FenceLeader: *pol.FenceLeader,
		Journal: j, Log: log, StepTimeout: 30 * time.Second,
		CatchUp: catchUp(leader, follower),
	}, nil
}

// CatchUpTimeout bounds a graceful promotion's wait for the follower.
const CatchUpTimeout = 5 * time.Minute

// catchUp waits until every planned follower index holds everything its
// fenced leader index has: the sum of the follower primaries' local
// checkpoints equals the sum of the leader primaries' global checkpoints,
// read from both clusters directly (the follower's own view of the leader,
// follower_stats, may lag behind its read retries).
func catchUp(leader, follower *opensearch.Client) func(ctx context.Context, plan map[string]string) error {
	return func(ctx context.Context, plan map[string]string) error {
		ctx, cancel := context.WithTimeout(ctx, CatchUpTimeout)
		defer cancel()
		for {
			pending, err := behind(ctx, leader, follower, plan)
			if err == nil && pending == "" {
				return nil
			}
			if err != nil {
				pending = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("follower did not catch up within %s: %s", CatchUpTimeout, pending)
			case <-time.After(time.Second):
			}
		}
	}
}

// behind names a planned index that has not caught up ("" when none has):
// one whose follower primaries have not replayed up to the leader
// primaries' max_seq_no, shard by shard.
func behind(ctx context.Context, leader, follower *opensearch.Client, plan map[string]string) (string, error) {
	followers := make([]string, 0, len(plan))
	leaders := make([]string, 0, len(plan))
	for f, l := range plan {
		followers, leaders = append(followers, f), append(leaders, l)
	}
	slices.Sort(followers)
	lseq, err := leader.ShardSeqNos(ctx, leaders)
	if err != nil {
		return "", fmt.Errorf("leader checkpoints: %w", err)
	}
	fseq, err := follower.ShardSeqNos(ctx, followers)
	if err != nil {
		return "", fmt.Errorf("follower checkpoints: %w", err)
	}
	for _, f := range followers {
		l, fs := lseq[plan[f]], fseq[f]
		lag, _, _, ok := opensearch.ShardLag(l, fs, len(l))
		switch {
		case !ok || len(l) != len(fs):
			return fmt.Sprintf("%s: checkpoints not readable on both clusters", f), nil
		case lag > 0:
			return fmt.Sprintf("%s: %d operations behind", f, lag), nil
		}
	}
	return "", nil
}
