package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/ccr"
	"github.com/drwatch/drwatch/internal/report"
)

// PromoteOptions are the flags of `drwatch promote`.
type PromoteOptions struct {
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

// ErrNotConfirmed is returned when the operator declines.
var ErrNotConfirmed = errors.New("promotion not confirmed; nothing was changed")

// PromoteNow promotes a pair by hand through the same executor and journal
// as the daemon. It takes the state_dir lock, so it refuses to run while a
// daemon owns the journal (use the daemon's API then).
func PromoteNow(ctx context.Context, cfg *config.Config, o PromoteOptions) error {
	p, ok := cfg.Pair(o.Pair)
	if !ok {
		return fmt.Errorf("unknown pair %q", o.Pair)
	}
	if p.Aiven != nil {
		return fmt.Errorf("pair %s is an Aiven pair: promotion through the Aiven API (deleting the CCR integration) is not built yet; promote it in Aiven", p.Name)
	}
	pr, err := NewProber(p)
	if err != nil {
		return err
	}
	obs := pr.Cycle(ctx)
	fmt.Fprintf(o.Out, "pair %s: what drwatch sees now\n", p.Name)
	_ = report.Text(o.Out, report.Status{Pairs: []report.PairStatus{{Name: p.Name, Mode: p.Resolved.Mode, Problems: nonNil(report.Problems(obs)), Observation: &obs}}})

	plan, err := planOf(ctx, p)
	if err != nil {
		return fmt.Errorf("cannot list the follower indices to promote: %w", err)
	}
	summary := describePlan(p, obs, plan, o.Graceful)
	fmt.Fprintf(o.Out, "\n%s\n", summary)
	if o.DryRun {
		fmt.Fprintln(o.Out, "dry-run: nothing was changed")
		return nil
	}
	if o.Confirm != nil && !o.Confirm(summary) {
		return ErrNotConfirmed
	}

	j, err := journal.Open(cfg.StateDir)
	if errors.Is(err, journal.ErrLocked) {
		return fmt.Errorf("%w\na drwatch daemon owns the journal: ask it instead, e.g. curl -X POST -H 'Authorization: Bearer ...' http://<listen_address>/api/v1/pairs/%s/promote", err, p.Name)
	}
	if err != nil {
		return err
	}
	defer j.Close()
	rec, err := j.Load(p.Name)
	if err != nil {
		return err
	}
	if rec == nil {
		rec = &journal.Record{Pair: p.Name, State: policy.Initial(time.Now())}
	}
	if rec.Promotion != nil && rec.Promotion.Finished.IsZero() && o.Graceful && !rec.Promotion.Graceful {
		return fmt.Errorf("a non-graceful promotion of %s is already under way (started %s): resume it without --graceful; nothing was changed", p.Name, rec.Promotion.Started.Format(time.RFC3339))
	}
	st := rec.State
	switch st.Phase {
	case policy.Promoted:
		return fmt.Errorf("pair %s was already promoted at %s: a pair is promoted at most once", p.Name, st.PromotedAt.Format(time.RFC3339))
	case policy.Promoting:
		fmt.Fprintln(o.Out, "resuming the interrupted promotion from the journal")
	default:
		d, err := policy.ManualPromote(st, o.By, o.Reason, time.Now())
		if err != nil {
			return err
		}
		if err := save(j, rec, st, d); err != nil {
			return err
		}
	}
	if rec.Promotion == nil {
		rec.Promotion = &promote.Promotion{ID: p.Name + "-" + fmt.Sprint(time.Now().UnixNano()), Started: time.Now(), By: o.By, Graceful: o.Graceful}
		if err := j.Save(rec); err != nil {
			return err
		}
	}
	ex, err := ccr.New(p, j, o.Log)
	if err != nil {
		return err
	}
	start := time.Now()
	res, runErr := ex.Run(ctx, rec.Promotion)
	var d policy.Decision
	if runErr != nil {
		d = policy.PromotionFailed(rec.State, runErr.Error(), promote.Changed(rec.Promotion), time.Now())
	} else {
		rec.Promotion.Finished = time.Now()
		d = policy.PromotionSucceeded(rec.State, res.Detail, time.Now())
	}
	if err := save(j, rec, rec.State, d); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\n%s in %s: %s\n", strings.ToUpper(string(d.State.Phase)), time.Since(start).Round(time.Millisecond), res.Detail)
	for _, idx := range res.Promoted {
		fmt.Fprintf(o.Out, "  writable  %s\n", idx)
	}
	failed := make([]string, 0, len(res.Failed))
	for idx := range res.Failed {
		failed = append(failed, idx)
	}
	slices.Sort(failed)
	for _, idx := range failed {
		fmt.Fprintf(o.Out, "  FAILED    %s: %s\n", idx, res.Failed[idx])
	}
	return runErr
}

func save(j *journal.Journal, rec *journal.Record, old policy.State, d policy.Decision) error {
	next := *rec
	next.State = d.State
	next.History = append(append([]journal.Transition(nil), rec.History...), journal.Transition{
		At: d.State.Since, From: old.Phase, To: d.State.Phase, Events: d.Events, Reasons: d.State.Reasons,
	})
	if err := j.Save(&next); err != nil {
		return err
	}
	*rec = next
	return nil
}

func planOf(ctx context.Context, p *config.Pair) (map[string]opensearch.FollowerIndex, error) {
	c, err := opensearch.New(p.Follower, opensearch.Options{Retry: true})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.FollowerIndices(ctx, p.Indices)
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
	b.WriteString("  2. delete the follower's autofollow rules\n")
	names := make([]string, 0, len(plan))
	for idx := range plan {
		names = append(names, idx)
	}
	slices.Sort(names)
	fmt.Fprintf(&b, "  3. stop replication on %d follower indices (concurrency %d): %s\n", len(names), p.Resolved.PromoteConcurrency, short(names))
	b.WriteString("  4. verify every index is open and writable\n")
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
