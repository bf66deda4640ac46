package cli

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/report"
)

// journaled is what the pair's journal in dir holds, when it says more
// than "healthy": its state, the last transition's reasons, and its
// promotion's failed steps. nil when there is none to read.
func journaled(dir, pair string) *report.Journal {
	rec, err := journal.Read(dir, pair)
	if err != nil || rec == nil || (rec.State.Phase == policy.Healthy && rec.Promotion == nil) {
		return nil
	}
	j := &report.Journal{State: string(rec.State.Phase), Since: rec.State.Since}
	if n := len(rec.History); n > 0 {
		j.Reasons = rec.History[n-1].Reasons
	}
	if p := rec.Promotion; p != nil {
		j.Promotion = &report.Promotion{ID: p.ID, Started: p.Started, Finished: p.Finished}
		last := map[string]promote.Step{}
		var order []string
		for _, s := range p.Steps {
			k := s.Name.String() + " " + s.Target
			if _, ok := last[k]; !ok {
				order = append(order, k)
			}
			last[k] = s
		}
		for _, k := range order {
			if s := last[k]; s.Status == promote.StepFailed {
				j.Promotion.Failed = append(j.Promotion.Failed, strings.TrimSpace(k)+": "+s.Detail)
			}
		}
	}
	return j
}

// statusOnce probes every pair once, concurrently, and returns the status.
func statusOnce(ctx context.Context, cfg *config.Config) (report.Status, error) {
	st := report.Status{Time: time.Now(), Pairs: make([]report.PairStatus, len(cfg.Pairs))}
	probers := make([]*probe.Prober, len(cfg.Pairs))
	for i := range cfg.Pairs {
		pr, err := probe.New(&cfg.Pairs[i])
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
				Problems: report.Problems(obs), Observation: &obs,
			}
			if cfg.HA.Enabled {
				haStatus(ctx, cfg, &cfg.Pairs[i], &st.Pairs[i])
			}
			st.Pairs[i].Journal = journaled(cfg.StateDir, cfg.Pairs[i].Name)
		})
	}
	wg.Wait()
	return st, nil
}
