package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// The promotion by hand (`drwatch promote`, and the drill commands that
// run without a daemon): the one place outside the daemon that wires a
// pair's watcher, from the same parts.

// HandWatcher is the watcher `drwatch promote` runs the promotion with:
// the pair's journal record, under the state_dir lock, as it is (a
// missing one starts in memory: the promote command journals it), and
// the pair's executor.
func HandWatcher(cfg *config.Config, p *config.Pair, log *zap.Logger) (*watch.Watcher, func(), error) {
	j, err := journal.Open(cfg.StateDir)
	if errors.Is(err, journal.ErrLocked) {
		return nil, nil, fmt.Errorf("%w\na drwatch daemon owns the journal: ask it instead, e.g. curl -X POST -H 'Authorization: Bearer ...' http://<listen_address>/api/v1/pairs/%s/promote", err, p.Name)
	}
	if err != nil {
		return nil, nil, err
	}
	rec, err := j.Load(p.Name)
	if err == nil && rec == nil {
		rec = &journal.Record{Pair: p.Name, State: policy.Initial(time.Now())}
	}
	var ex promote.Executor
	if err == nil {
		_, ex, err = Parts(p, j, nil, log)
	}
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	// The hooks hear of it as they would from the daemon (promotion_started
	// by the human, then its outcome); they get up to 30s after it to be
	// delivered, or the longest hook timeout (an exec hook that acts
	// finishes its attempt).
	d, err := hooks.FromConfig(cfg.Hooks, hooks.Deps{HTTP: &http.Client{}, Log: log.Named("hooks")}, hooks.Options{Log: log.Named("hooks")}, nil)
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	hub := &hooks.Hub{}
	hub.Swap(d)
	rt := watch.NewRuntime(rec)
	// The promotion by hand is part of the pair's story: drwatch replay
	// reads it with the daemon's inputs.
	m := metrics.New()
	rt.SetRecorder(record.New(cfg.StateDir, p.Name, record.Options{Log: log.Named("record"), Errors: m.RecordErrors}))
	w := watch.New(watch.Config{Pair: p, Exec: ex, Journal: j, Metrics: m, Log: log, Runtime: rt,
		Hooks: hub, URL: cfg.URL()})
	return w, func() {
		ctx, cancel := context.WithTimeout(context.Background(), max(30*time.Second, d.MaxTimeout()))
		defer cancel()
		d.Close(ctx)
		j.Close()
	}, nil
}

// HandPlan is what a promotion by hand would do, shown before it runs:
// what drwatch sees of the pair now, the follower indices it would
// promote, and the plan in words.
type HandPlan struct {
	Observation observe.Observation
	Indices     map[string]opensearch.FollowerIndex
	Summary     string
}

// PlanPromotion probes the pair once, shows on out what drwatch sees (as
// soon as it is seen: the listing that follows may take its 30 s), and
// lists the follower indices a promotion would promote.
func PlanPromotion(ctx context.Context, p *config.Pair, graceful bool, out io.Writer) (HandPlan, error) {
	pr, err := probe.New(p)
	if err != nil {
		return HandPlan{}, err
	}
	h := HandPlan{Observation: pr.Cycle(ctx)}
	obs := h.Observation
	fmt.Fprintf(out, "pair %s: what drwatch sees now\n", p.Name)
	_ = report.Text(out, report.Status{Pairs: []report.PairStatus{{Name: p.Name, Mode: p.Resolved.Mode, Problems: report.Problems(obs), Observation: &obs}}})
	if h.Indices, err = planOf(ctx, p); err != nil {
		return h, fmt.Errorf("cannot list the follower indices to promote: %w", err)
	}
	h.Summary = describePlan(p, h.Observation, h.Indices, graceful)
	return h, nil
}

func planOf(ctx context.Context, p *config.Pair) (map[string]opensearch.FollowerIndex, error) {
	c, err := opensearch.New(p.Follower, opensearch.Options{Retry: true, Side: "follower"})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	all, err := c.FollowerIndices(ctx, p.Indices)
	if err != nil {
		return nil, err
	}
	// The executors promote the follower indices of the pair's alias only.
	plan := map[string]opensearch.FollowerIndex{}
	for idx, fi := range all {
		if fi.LeaderAlias == p.Follower.LeaderAlias {
			plan[idx] = fi
		}
	}
	return plan, nil
}

func describePlan(p *config.Pair, obs observe.Observation, plan map[string]opensearch.FollowerIndex, graceful bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "promotion plan for pair %s:\n", p.Name)
	switch {
	case graceful:
		b.WriteString("  1. write-block the leader indices (required), wait until every follower index has caught up\n")
	case *p.Resolved.FenceLeader && obs.Leader.Reachable:
		b.WriteString("  1. write-block the leader indices (the leader answers)\n")
	case *p.Resolved.FenceLeader:
		b.WriteString("  1. fence the leader if it answers by then (it does not now)\n")
	default:
		b.WriteString("  1. do not fence the leader (fence_leader: false)\n")
	}
	names := make([]string, 0, len(plan))
	for idx := range plan {
		names = append(names, idx)
	}
	slices.Sort(names)
	if a := p.Aiven; a != nil {
		fmt.Fprintf(&b, "  2. delete the Aiven %s integration %s -> %s in project %s (through the Aiven API; never the replication API's _stop)\n",
			aiven.IntegrationTypeCCR, a.LeaderService, a.FollowerService, a.Project)
		fmt.Fprintf(&b, "  3. wait until the integration is gone and verify that the %d follower indices are open and writable: %s\n", len(names), report.Short(names))
	} else {
		b.WriteString("  2. delete the follower's autofollow rules\n")
		fmt.Fprintf(&b, "  3. stop replication on %d follower indices (concurrency %d): %s\n", len(names), p.Resolved.PromoteConcurrency, report.Short(names))
		b.WriteString("  4. verify every index is open and writable\n")
	}
	r := obs.Follower.Replication
	switch {
	case r.Failure != nil || !r.LagComplete:
		b.WriteString("  estimated loss: unknown (lag cannot be read completely)\n")
	default:
		fmt.Fprintf(&b, "  estimated loss: %d operations (last reading)\n", r.TotalLag)
	}
	return b.String()
}

// RefusedWithHA is why a promotion by hand is refused with ha on: only the
// lease holder promotes, under its fencing check, and this process holds
// no lease.
func RefusedWithHA(cfg *config.Config, p *config.Pair) error {
	return fmt.Errorf("%w: ha is enabled, so pair %s is promoted only by the daemon that holds its lease; ask either daemon (a standby passes it to the holder): curl -X POST -H 'Authorization: Bearer ...' <daemon URL>/api/v1/pairs/%s/promote\nwith both daemons down, start one: it takes the lease once it has been left unrenewed for ha.ttl (%s); nothing was changed",
		promote.ErrRefused, p.Name, p.Name, cfg.HA.TTL)
}

// NothingRan reports whether a promotion by hand's error means it never
// started: the state did not allow it, it was refused, or its start
// could not be journaled.
func NothingRan(err error) bool {
	return errors.Is(err, policy.ErrConflict) || errors.Is(err, promote.ErrRefused) || errors.Is(err, watch.ErrNotStarted)
}
