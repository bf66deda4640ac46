package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/app"
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

// promoteOptions are the flags of `drwatch promote`.
type promoteOptions struct {
	Pair     string
	Graceful bool
	DryRun   bool
	By       string
	Reason   string
	// Confirm is asked after the plan is shown (nil: no confirmation).
	Confirm func(summary string) bool
	Out     io.Writer
	Log     *zap.Logger
}

// errNotConfirmed is returned when the operator declines.
var errNotConfirmed = errors.New("promotion not confirmed; nothing was changed")

// promoteNow promotes a pair by hand: it shows what drwatch sees and the
// plan, asks for confirmation, and only then takes the state_dir lock and
// runs the promotion through the same watcher, runner, executor and
// journal as the daemon (watch.Watcher.PromoteByHand). While a daemon
// owns the journal it refuses (use the daemon's API then). A dry run
// reads and writes no journal.
func promoteNow(ctx context.Context, cfg *config.Config, o promoteOptions) error {
	p, ok := cfg.Pair(o.Pair)
	if !ok {
		return fmt.Errorf("unknown pair %q", o.Pair)
	}
	if err := policy.Promotable(p, policy.ByHand); err != nil {
		return err
	}
	obs, plan, err := look(ctx, p, o.Out)
	if err != nil {
		return err
	}
	summary := describePlan(p, obs, plan, o.Graceful)
	fmt.Fprintf(o.Out, "\n%s\n", summary)
	if o.DryRun {
		fmt.Fprintln(o.Out, "dry-run: nothing was changed")
		return nil
	}
	if cfg.HA.Enabled {
		// Only the lease holder promotes, under its fencing check: this
		// process holds no lease, and must not act beside a daemon that does.
		return fmt.Errorf("%w: ha is enabled, so pair %s is promoted only by the daemon that holds its lease; ask either daemon (a standby passes it to the holder): curl -X POST -H 'Authorization: Bearer ...' <daemon URL>/api/v1/pairs/%s/promote\nwith both daemons down, start one: it takes the lease once it has been left unrenewed for ha.ttl (%s); nothing was changed",
			promote.ErrRefused, p.Name, p.Name, cfg.HA.TTL)
	}
	if o.Confirm != nil && !o.Confirm(summary) {
		return errNotConfirmed
	}
	w, closeJournal, err := handWatcher(cfg, p, o.Log)
	if err != nil {
		return err
	}
	defer closeJournal()
	if w.Phase() == policy.Promoting {
		fmt.Fprintln(o.Out, "resuming the interrupted promotion from the journal")
	}
	start := time.Now()
	res, runErr := w.PromoteByHand(ctx, o.By, o.Reason, o.Graceful)
	if errors.Is(runErr, policy.ErrConflict) || errors.Is(runErr, promote.ErrRefused) || errors.Is(runErr, watch.ErrNotStarted) {
		return runErr // nothing ran
	}
	fmt.Fprintf(o.Out, "\n%s in %s: %s\n", strings.ToUpper(string(w.Phase())), time.Since(start).Round(time.Millisecond), res.Detail)
	for _, idx := range res.Promoted {
		fmt.Fprintf(o.Out, "  writable  %s\n", idx)
	}
	for _, idx := range slices.Sorted(maps.Keys(res.Unassigned)) {
		fmt.Fprintf(o.Out, "  NO PRIMARY %s: %s\n", idx, res.Unassigned[idx])
	}
	for _, idx := range slices.Sorted(maps.Keys(res.Failed)) {
		fmt.Fprintf(o.Out, "  FAILED    %s: %s\n", idx, res.Failed[idx])
	}
	return runErr
}

// handWatcher is the watcher `drwatch promote` runs the promotion with:
// the pair's journal record, under the state_dir lock, as it is (a
// missing one starts in memory: the promote command journals it), and
// the pair's executor.
func handWatcher(cfg *config.Config, p *config.Pair, log *zap.Logger) (*watch.Watcher, func(), error) {
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
		_, ex, err = app.Parts(p, j, nil, log)
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

// look shows what drwatch sees of the pair now, and lists the follower
// indices a promotion would stop replication on.
func look(ctx context.Context, p *config.Pair, out io.Writer) (observe.Observation, map[string]opensearch.FollowerIndex, error) {
	pr, err := probe.New(p)
	if err != nil {
		return observe.Observation{}, nil, err
	}
	obs := pr.Cycle(ctx)
	fmt.Fprintf(out, "pair %s: what drwatch sees now\n", p.Name)
	_ = report.Text(out, report.Status{Pairs: []report.PairStatus{{Name: p.Name, Mode: p.Resolved.Mode, Problems: report.Problems(obs), Observation: &obs}}})
	plan, err := planOf(ctx, p)
	if err != nil {
		return obs, nil, fmt.Errorf("cannot list the follower indices to promote: %w", err)
	}
	return obs, plan, nil
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
		fmt.Fprintf(&b, "  3. wait until the integration is gone and verify that the %d follower indices are open and writable: %s\n", len(names), short(names))
	} else {
		b.WriteString("  2. delete the follower's autofollow rules\n")
		fmt.Fprintf(&b, "  3. stop replication on %d follower indices (concurrency %d): %s\n", len(names), p.Resolved.PromoteConcurrency, short(names))
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

func short(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:10], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-10)
}
