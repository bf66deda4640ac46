package cli

import (
	"context"
	"encoding/json"
	"time"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// haStatus reads, with ha, who holds the pair's lease and the decision
// the holder published, from the follower cluster (read only: this
// process takes no part in the lease). What cannot be read is a problem.
func haStatus(ctx context.Context, cfg *config.Config, p *config.Pair, ps *report.PairStatus) {
	h := &report.HA{Role: "observer"}
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
