package ccr

import (
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/promote/steps"
)

// New builds the executor of a pair from its config.
// Its clients retry 502/503/504 (a retried _stop that already happened
// answers "No replication in progress", which counts as done).
func New(p *config.Pair, j Journal, log *zap.Logger) (*Executor, error) {
	leader, follower, err := steps.Clients(p)
	if err != nil {
		return nil, err
	}
	pol := p.Resolved
	return &Executor{
		Pair: p.Name, Leader: leader, Follower: follower, Alias: p.Follower.LeaderAlias,
		Indices: p.Indices, Concurrency: pol.PromoteConcurrency, FenceLeader: *pol.FenceLeader,
		Journal: j, Log: log, StepTimeout: 30 * time.Second, Liveness: steps.LivenessOf(pol),
		CatchUp: steps.CatchUp(leader, follower),
	}, nil
}
