package aivenpromote

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote/steps"
)

// New builds the executor of an Aiven pair from its config: an Aiven
// client from the pair's aiven block (aiven.ForPair: its token, its
// api_url else $AIVEN_WEB_URL; the client's default bounds, its retries
// logged to log), and OpenSearch clients for both sides as ccr.New builds
// them.
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
	log = log.With(zap.String("pair", p.Name))
	ua := "drwatch/" + buildinfo.Version
	opts.Log, opts.UserAgent = log, ua
	api, err := aiven.ForPair(a, opts)
	if err != nil {
		return nil, fmt.Errorf("pair %s: %w", p.Name, err)
	}
	leader, err := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua, Retry: true})
	if err != nil {
		return nil, fmt.Errorf("pair %s: leader: %w", p.Name, err)
	}
	follower, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua, Retry: true})
	if err != nil {
		return nil, fmt.Errorf("pair %s: follower: %w", p.Name, err)
	}
	alias := p.Follower.LeaderAlias
	if alias == "" {
		// The alias Aiven's integration creates (aiven.md).
		alias = a.Project + "_" + a.LeaderService
	}
	return &Executor{
		Pair: p.Name, Project: a.Project, LeaderService: a.LeaderService, FollowerService: a.FollowerService,
		Alias: alias, Indices: p.Indices,
		API: api, Leader: leader, Follower: follower, Journal: j, Log: log,
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
