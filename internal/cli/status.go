package cli

import (
	"context"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/report"
)

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
		})
	}
	wg.Wait()
	return st, nil
}
