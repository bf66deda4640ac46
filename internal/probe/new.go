package probe

import (
	"fmt"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// New builds the prober of a pair from its config.
func New(p *config.Pair) (*Prober, error) {
	ua := "drwatch/" + buildinfo.Version
	leader, err := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua})
	if err != nil {
		return nil, fmt.Errorf("pair %s: leader: %w", p.Name, err)
	}
	follower, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua})
	if err != nil {
		return nil, fmt.Errorf("pair %s: follower: %w", p.Name, err)
	}
	return &Prober{
		Pair:        p.Name,
		Leader:      leader,
		Follower:    follower,
		LeaderAlias: p.Follower.LeaderAlias,
		Indices:     p.Indices,
		Timeout:     p.Resolved.ProbeTimeout.D(),
	}, nil
}
