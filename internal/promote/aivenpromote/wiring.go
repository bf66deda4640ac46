package aivenpromote

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/promote/steps"
)

// New builds the executor of an Aiven pair from its config: an Aiven
// client from the pair's aiven block (aiven.ForPair: its token, its
// api_url else $AIVEN_WEB_URL; the client's default bounds, its retries
// logged to log), and OpenSearch clients for both sides (steps.Clients).
func New(p *config.Pair, j Journal, log *zap.Logger) (*Executor, error) {
	return newExecutor(p, j, log, aiven.Options{})
}

func newExecutor(p *config.Pair, j Journal, log *zap.Logger, opts aiven.Options) (*Executor, error) {
	if p.Aiven == nil {
		return nil, fmt.Errorf("pair %s: no aiven block: not an Aiven pair", p.Name)
	}
	if log == nil {
		log = zap.NewNop()
	}
	if j == nil {
		return nil, errors.New("pair " + p.Name + ": no journal")
	}
	a := p.Aiven
	opts.Log, opts.UserAgent = log, "drwatch/"+buildinfo.Version
	api, err := aiven.ForPair(a, opts)
	if err != nil {
		return nil, fmt.Errorf("pair %s: %w", p.Name, err)
	}
	leader, follower, err := steps.Clients(p)
	if err != nil {
		return nil, err
	}
	return &Executor{
		Pair: p.Name, Project: a.Project, LeaderService: a.LeaderService, FollowerService: a.FollowerService,
		Alias: p.Follower.LeaderAlias, Indices: p.Indices,
		API: api, Leader: leader, Follower: follower, Journal: j, Log: log, Liveness: steps.LivenessOf(p.Resolved),
		FenceLeader: fenceLeader(p), CatchUp: steps.CatchUp(leader, follower),
	}, nil
}

// fenceLeader is the pair's policy's fence_leader (its default, true,
// when the pair has no resolved policy).
func fenceLeader(p *config.Pair) bool {
	if p.Resolved == nil || p.Resolved.FenceLeader == nil {
		return true
	}
	return *p.Resolved.FenceLeader
}
