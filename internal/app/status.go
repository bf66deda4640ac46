package app

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// journaled is what the pair's journal in dir holds, when it says more
// than "healthy": its state, the last transition's reasons, and its
// promotion's failed steps. nil when there is none to read.
func journaled(dir, pair string) *report.Journal {
	rec, err := journal.Read(dir, pair)
	if err != nil || rec == nil || (rec.State.Phase == policy.Healthy && rec.Promotion == nil) {
		return nil
	}
	j := &report.Journal{State: rec.State.Phase.String(), Since: rec.State.Since}
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

// StatusOnce probes every pair once, concurrently, and returns the status
// (`drwatch status` without a daemon): with ha, the lease's holder and
// its published decision too, and each pair's journal when it says more
// than healthy.
func StatusOnce(ctx context.Context, cfg *config.Config) (report.Status, error) {
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

// haStatus reads, with ha, who holds the pair's lease and the decision
// the holder published, from the follower cluster (read only: this
// process takes no part in the lease). What cannot be read is a problem.
func haStatus(ctx context.Context, cfg *config.Config, p *config.Pair, ps *report.PairStatus) {
	h := &report.HA{Role: report.RoleObserver}
	ps.HA = h
	fail := func(err error) {
		h.Error = err.Error()
		ps.Problems = append(ps.Problems, "ha: the lease and the holder's published state cannot be read from the follower cluster ("+err.Error()+")")
	}
	client, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: "drwatch/" + buildinfo.Version, Side: "follower"})
	if err != nil {
		fail(err)
		return
	}
	lease, found, err := ha.ReadLease(ctx, client, cfg.HA.LeaseIndex, p.Name)
	if err != nil {
		fail(err)
		return
	}
	if found {
		h.Holder, h.Term = lease.Holder, lease.Term
	}
	pub, found, err := (&ha.Shared{Store: client, Index: cfg.HA.LeaseIndex, Pair: p.Name}).Read(ctx)
	if err != nil {
		fail(err)
		return
	}
	if !found {
		return
	}
	var st policy.State
	if err := json.Unmarshal(pub.State, &st); err != nil {
		fail(err)
		return
	}
	h.PublishedBy, h.PublishedTerm, h.PublishedAt = pub.Holder, pub.Term, pub.At
	ps.Decision = watch.DecisionOf(&st, p.Resolved, time.Now())
}
