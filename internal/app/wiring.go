package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/report"
)

// NewProber builds the prober of a pair from its config.
func NewProber(p *config.Pair) (*probe.Prober, error) {
	ua := "drwatch/" + buildinfo.Version
	leader, err := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua})
	if err != nil {
		return nil, fmt.Errorf("pair %s: leader: %w", p.Name, err)
	}
	follower, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua})
	if err != nil {
		return nil, fmt.Errorf("pair %s: follower: %w", p.Name, err)
	}
	return &probe.Prober{
		Pair:        p.Name,
		Leader:      leader,
		Follower:    follower,
		LeaderAlias: p.Follower.LeaderAlias,
		Indices:     p.Indices,
		Timeout:     p.Resolved.ProbeTimeout.D(),
	}, nil
}

// StatusOnce probes every pair once, concurrently, and returns the status.
func StatusOnce(ctx context.Context, cfg *config.Config) (report.Status, error) {
	st := report.Status{Time: time.Now(), Pairs: make([]report.PairStatus, len(cfg.Pairs))}
	probers := make([]*probe.Prober, len(cfg.Pairs))
	for i := range cfg.Pairs {
		pr, err := NewProber(&cfg.Pairs[i])
		if err != nil {
			return st, err
		}
		probers[i] = pr
	}
	var wg sync.WaitGroup
	for i, pr := range probers {
		wg.Go(func() {
			obs := pr.Cycle(ctx)
			st.Pairs[i] = report.PairStatus{
				Name: cfg.Pairs[i].Name, Mode: cfg.Pairs[i].Resolved.Mode,
				Problems: nonNil(report.Problems(obs)), Observation: &obs,
			}
		})
	}
	wg.Wait()
	return st, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
