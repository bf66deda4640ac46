package probe

import (
	"fmt"
	"net/http"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// New builds the prober of a pair from its config. An Aiven pair's prober
// also reads its services through the Aiven API: one attempt per call (no
// retry inside a cycle: the next refresh is the retry), each bounded by
// the cycle's timeout, every request counted.
func New(p *config.Pair) (*Prober, error) {
	ua := "drwatch/" + buildinfo.Version
	leader, err := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua, Side: "leader", NextNode: true})
	if err != nil {
		return nil, fmt.Errorf("pair %s: leader: %w", p.Name, err)
	}
	follower, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua, Side: "follower", NextNode: true})
	if err != nil {
		return nil, fmt.Errorf("pair %s: follower: %w", p.Name, err)
	}
	pr := &Prober{
		Pair:        p.Name,
		Leader:      leader,
		Follower:    follower,
		LeaderAlias: p.Follower.LeaderAlias,
		Indices:     p.Indices,
		Timeout:     p.Resolved.ProbeTimeout.D(),
	}
	if p.Aiven != nil {
		ct := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
		api, err := aiven.ForPair(p.Aiven, aiven.Options{
			UserAgent:      ua,
			MaxAttempts:    1,
			AttemptTimeout: pr.Timeout,
			CallTimeout:    pr.Timeout,
			Transport:      ct,
		})
		if err != nil {
			return nil, fmt.Errorf("pair %s: aiven: %w", p.Name, err)
		}
		pr.Aiven = &Aiven{
			API: api, Project: p.Aiven.Project,
			LeaderService: p.Aiven.LeaderService, FollowerService: p.Aiven.FollowerService,
			Interval: p.Aiven.ProbeInterval.D(), Requests: ct.count,
		}
	}
	return pr, nil
}
