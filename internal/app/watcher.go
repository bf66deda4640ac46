package app

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/report"
)

// cycler is what a watcher needs of a prober.
type cycler interface {
	Cycle(ctx context.Context) observe.Observation
}

// promoter runs a promotion, and fences an old leader that comes back
// after one.
type promoter interface {
	Run(ctx context.Context, p *promote.Promotion) (promote.Result, error)
	FenceOldLeader(ctx context.Context, p *promote.Promotion) (string, error)
}

// watcher probes one pair on its interval, feeds each observation to the
// policy, journals every change before acting on it, and runs promotions.
type watcher struct {
	pair     *config.Pair
	prober   cycler
	exec     promoter
	journal  *journal.Journal
	metrics  *metrics.Metrics
	log      *zap.Logger
	interval time.Duration
	now      func() time.Time
	rt       *pairRuntime
	// promotions tracks promotion goroutines of every watcher of the app.
	promotions *sync.WaitGroup
}

// pairRuntime is a pair's live state: its journal record, latest
// observation, lock and wake-up channel. It outlives watchers (a reload
// replaces the watcher, not this), so API commands that race a reload
// still serialise with the watcher that follows.
type pairRuntime struct {
	mu   sync.RWMutex
	last *observe.Observation
	rec  *journal.Record
	kick chan struct{} // a command changed the state: act now
	// retryAt delays resuming a promotion whose start could not be
	// journaled, so a failing disk does not re-run it every probe.
	retryAt time.Time
	// journalErr is the last journal write's failure, nil once a write
	// succeeds again: the status shows it as a problem.
	journalErr error
	// inFlight is set while a promotion of the pair runs. A promotion runs
	// on its own goroutine, not the watcher's: a reload replaces the
	// watcher without waiting for it, and the next watcher does not start
	// a second one.
	inFlight bool
}

var phaseNames = func() []string {
	out := make([]string, len(policy.Phases))
	for i, p := range policy.Phases {
		out[i] = string(p)
	}
	return out
}()

// Start runs until ctx ends. A promotion in progress is finished first
// (its steps are bounded; a hard exit leaves it to resume from the journal).
func (w *watcher) Start(ctx context.Context) error {
	w.rt.mu.RLock()
	w.metrics.SetState(w.pair.Name, string(w.rt.rec.State.Phase), phaseNames)
	resume := w.rt.rec.State.Phase == policy.Promoting
	w.rt.mu.RUnlock()
	if resume {
		w.log.Warn("resuming an interrupted promotion from the journal")
		w.startPromotion(ctx)
	}
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.rt.kick:
			w.rt.mu.RLock()
			promoting := w.rt.rec.State.Phase == policy.Promoting
			w.rt.mu.RUnlock()
			if promoting {
				w.startPromotion(ctx)
			}
		}
	}
}

func (w *watcher) tick(ctx context.Context) {
	obs := w.prober.Cycle(ctx)
	if ctx.Err() != nil {
		return // shutting down: a canceled cycle is not an observation
	}
	w.rt.mu.Lock()
	prev := w.rt.last
	w.rt.last = &obs
	d := policy.Decide(w.rt.rec.State, obs, w.pair.Resolved, w.now())
	err := w.applyLocked(d, "")
	w.rt.mu.Unlock()
	w.metrics.Observe(obs)
	w.logChanges(prev, obs)
	if d.FenceOldLeader {
		w.fenceOldLeader(ctx) // a safety action: not held back by the journal
	}
	if err != nil {
		return
	}
	if d.WouldPromote {
		w.metrics.WouldPromote.WithLabelValues(w.pair.Name).Inc()
		w.log.Warn("dry-run: would promote now", zap.Strings("reasons", d.State.Reasons))
	}
	// The phase, not only this decision: a promotion whose start or end
	// could not be journaled is still promoting, and is resumed here on
	// every tick until its outcome is recorded.
	w.rt.mu.RLock()
	wait := w.now().Before(w.rt.retryAt)
	w.rt.mu.RUnlock()
	if d.Promote || (d.State.Phase == policy.Promoting && !wait) {
		w.startPromotion(ctx)
	}
}

// applyLocked journals a decision (when anything a restart needs changed)
// and then makes it the current state. The journal write comes first.
//
// When the journal cannot be written (state_dir full or read-only) the
// decision is still tracked in memory - status, the API and the metrics
// tell the truth, with a journal_unwritable problem - except a promotion:
// one that could not be journaled is never started. Every later decision
// tries the journal again, and the first that succeeds saves it all.
func (w *watcher) applyLocked(d policy.Decision, by string) error {
	old := w.rt.rec.State
	transition := d.State.Phase != old.Phase || len(d.Events) > 0 || d.Abandon
	if transition || w.rt.journalErr != nil { // or retrying an unwritable journal
		next := *w.rt.rec
		next.State = d.State
		if d.Abandon {
			next.Promotion = nil // a later promotion plans afresh
		}
		if transition {
			next.History = append(append([]journal.Transition(nil), w.rt.rec.History...), journal.Transition{
				At: d.State.Since, From: old.Phase, To: d.State.Phase, Events: d.Events, Reasons: d.State.Reasons,
			})
		}
		if err := w.journal.Save(&next); err != nil {
			w.metrics.JournalErrors.Inc()
			if w.rt.journalErr == nil {
				w.metrics.Events.WithLabelValues(w.pair.Name, policy.EvJournalUnwritable).Inc()
				w.log.Error("journal unwritable: decisions are tracked in memory only, and no promotion starts until it is writable", zap.Error(err))
			}
			w.rt.journalErr = err
			if d.State.Phase == policy.Promoting && old.Phase != policy.Promoting {
				// Never start a promotion that could not be journaled: the
				// state stays as it was, and says why.
				w.rt.rec.State.Reasons = append(slices.Clone(old.Reasons),
					"the decision is to promote now, but the journal is unwritable: no promotion starts until it can be journaled")
				return err
			}
			*w.rt.rec = next
			w.observeState(d, old, by)
			return err
		}
		if w.rt.journalErr != nil {
			w.log.Info("journal writable again: the decisions tracked in memory are saved")
			w.rt.journalErr = nil
		}
		*w.rt.rec = next
	} else {
		w.rt.rec.State = d.State
	}
	w.observeState(d, old, by)
	return nil
}

// observeState updates the metrics and logs a decision applied.
func (w *watcher) observeState(d policy.Decision, old policy.State, by string) {
	changed := d.State.Phase != old.Phase || len(d.Events) > 0
	s := d.State
	p := w.pair.Name
	w.metrics.SetState(p, string(s.Phase), phaseNames)
	outage := 0.0
	if !s.OutageStart.IsZero() {
		outage = w.now().Sub(s.OutageStart).Seconds()
	}
	w.metrics.LeaderOutage.WithLabelValues(p).Set(outage)
	w.metrics.LeaderFailedProbes.WithLabelValues(p).Set(float64(s.FailedProbes))
	w.metrics.OldLeaderUnfenced.WithLabelValues(p).Set(b2f(s.OldLeaderUnfenced()))
	ok, _ := policy.RPOGuard(&s, w.pair.Resolved, w.now())
	w.metrics.RPOGuardPassing.WithLabelValues(p).Set(b2f(ok))
	if s.LastGoodLag != nil {
		w.metrics.LastGoodLagTimestamp.WithLabelValues(p).Set(float64(s.LastGoodLag.At.UnixNano()) / 1e9)
	}
	for _, ev := range d.Events {
		w.metrics.Events.WithLabelValues(p, ev).Inc()
	}
	if changed {
		fields := []zap.Field{zap.String("from", string(old.Phase)), zap.String("to", string(s.Phase)),
			zap.Strings("events", d.Events), zap.Strings("reasons", s.Reasons)}
		if by != "" {
			fields = append(fields, zap.String("by", by))
		}
		w.log.Info("decision", fields...)
	}
}

// command applies a human's command (approve, deny, pause, resume,
// promote) and wakes the loop.
func (w *watcher) command(f func(policy.State, time.Time) (policy.Decision, error), by string) (policy.State, error) {
	w.rt.mu.Lock()
	d, err := f(w.rt.rec.State, w.now())
	if err != nil {
		st := w.rt.rec.State
		w.rt.mu.Unlock()
		return st, err
	}
	jerr := w.applyLocked(d, by)
	st := w.rt.rec.State
	w.rt.mu.Unlock()
	if jerr != nil && st.Phase != d.State.Phase {
		// Not applied: a promotion that could not be journaled.
		return st, fmt.Errorf("journal unwritable: not applied (no promotion starts unjournaled): %w", jerr)
	}
	// Applied (in memory only when the journal is unwritable: status
	// shows that as a problem).
	select {
	case w.rt.kick <- struct{}{}:
	default:
	}
	return st, nil
}

// startPromotion runs the pair's promotion on a goroutine of its own,
// unless one is running already. Shutdown waits for it (App.promotions);
// a reload does not.
func (w *watcher) startPromotion(ctx context.Context) {
	w.rt.mu.Lock()
	if w.rt.inFlight || w.rt.rec.State.Phase != policy.Promoting {
		w.rt.mu.Unlock()
		return // running, or finished since the decision was taken
	}
	w.rt.inFlight = true
	w.rt.mu.Unlock()
	w.promotions.Go(func() {
		defer func() {
			w.rt.mu.Lock()
			w.rt.inFlight = false
			w.rt.mu.Unlock()
		}()
		w.promote(ctx)
	})
}

// promote runs (or resumes) the pair's promotion and records the outcome.
func (w *watcher) promote(ctx context.Context) {
	w.rt.mu.Lock()
	if w.rt.rec.State.Phase != policy.Promoting {
		w.rt.mu.Unlock()
		return
	}
	if w.rt.rec.Promotion == nil {
		now := w.now()
		by := "drwatch"
		if a := w.rt.rec.State.Approval; a != nil {
			by = a.By
		}
		next := *w.rt.rec
		next.Promotion = &promote.Promotion{ID: w.pair.Name + "-" + strconv.FormatInt(now.UnixNano(), 36), Started: now, By: by}
		if err := w.journal.Save(&next); err != nil {
			w.rt.retryAt = w.now().Add(policy.RetryInitial)
			w.rt.mu.Unlock()
			w.metrics.JournalErrors.Inc()
			w.log.Error("journal write failed: not promoting yet (retried in 30s)", zap.Error(err))
			return
		}
		*w.rt.rec = next
	}
	p := w.rt.rec.Promotion
	w.rt.mu.Unlock()

	start := time.Now()
	w.log.Warn("promotion started", zap.String("id", p.ID))
	// Not canceled by reload or shutdown: every step is bounded, and
	// stopping half-way only delays what the journal will resume.
	res, err := w.exec.Run(context.WithoutCancel(ctx), p)
	took := time.Since(start)

	w.rt.mu.Lock()
	var d policy.Decision
	result := "success"
	if err != nil {
		result = "failure"
		d = policy.PromotionFailed(w.rt.rec.State, err.Error(), promote.Changed(p), w.now())
	} else {
		p.Finished = w.now()
		d = policy.PromotionSucceeded(w.rt.rec.State, res.Detail, w.now())
	}
	jerr := w.applyLocked(d, "")
	w.rt.mu.Unlock()

	n := w.pair.Name
	w.metrics.Promotions.WithLabelValues(n, result).Inc()
	w.metrics.PromotionDuration.WithLabelValues(n).Observe(took.Seconds())
	w.metrics.PromotionIndices.WithLabelValues(n, "promoted").Set(float64(len(res.Promoted)))
	w.metrics.PromotionIndices.WithLabelValues(n, "failed").Set(float64(len(res.Failed)))
	if jerr != nil {
		w.log.Error("journal write failed after the promotion: its outcome is kept in memory and saved once the journal is writable", zap.Error(jerr))
	}
	if err != nil {
		w.log.Error("promotion failed", zap.Duration("took", took), zap.Error(err))
		return
	}
	w.log.Warn("promotion succeeded", zap.Duration("took", took), zap.Strings("indices", res.Promoted), zap.Bool("leader_fenced", res.Fenced))
}

// fenceOldLeader write-blocks an old leader that answers again after the
// promotion, and records it; on failure the next cycle tries again.
func (w *watcher) fenceOldLeader(ctx context.Context) {
	w.rt.mu.RLock()
	p := w.rt.rec.Promotion
	w.rt.mu.RUnlock()
	detail, err := w.exec.FenceOldLeader(ctx, p)
	if err != nil {
		w.log.Error("the old leader answers again and could not be fenced: both sides may take writes", zap.Error(err))
		return
	}
	w.rt.mu.Lock()
	jerr := w.applyLocked(policy.OldLeaderFenced(w.rt.rec.State, detail, w.now()), "")
	w.rt.mu.Unlock()
	if jerr != nil {
		w.log.Error("journal write failed: the old leader's fence is not recorded", zap.Error(jerr))
		return
	}
	w.log.Warn("the old leader answered again and was fenced", zap.String("detail", detail))
}

// logChanges logs what changed in the observations, so the log tells the
// story without one line per probe.
func (w *watcher) logChanges(prev *observe.Observation, cur observe.Observation) {
	first := prev == nil
	if first || prev.Leader.Reachable != cur.Leader.Reachable || prev.Leader.Health != cur.Leader.Health {
		if cur.Leader.Reachable {
			w.log.Info("leader reachable", zap.String("health", cur.Leader.Health), zap.Duration("latency", cur.Leader.Latency))
		} else {
			w.log.Warn("leader unreachable", failureFields(cur.Leader.Failure)...)
		}
	}
	r := cur.Follower.Remote
	if first || prev.Follower.Remote.Connected != r.Connected || prev.Follower.Remote.Known != r.Known || (prev.Follower.Remote.Failure == nil) != (r.Failure == nil) {
		switch {
		case r.Failure != nil:
			w.log.Warn("follower remote info unreadable", failureFields(r.Failure)...)
		case !r.Known:
			w.log.Warn("follower has no such remote cluster", zap.String("alias", r.Alias))
		case r.Connected:
			w.log.Info("follower sees the leader", zap.String("alias", r.Alias))
		default:
			w.log.Warn("follower lost the leader", zap.String("alias", r.Alias))
		}
	}
	rep := cur.Follower.Replication
	if rep.Failure != nil && (first || prev.Follower.Replication.Failure == nil) {
		w.log.Warn("replication state unreadable", failureFields(rep.Failure)...)
	}
	if rep.Failure == nil && (first || prev.Follower.Replication.Failure != nil || prev.Follower.Replication.Stopped != rep.Stopped) {
		w.log.Info("replication state", zap.Int("syncing", rep.Syncing), zap.Int("not_syncing", rep.Stopped),
			zap.Int64("max_lag_operations", rep.MaxLag), zap.Bool("lag_complete", rep.LagComplete))
	}
}

func (w *watcher) status() report.PairStatus {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	st := w.rt.rec.State
	ps := report.PairStatus{Name: w.pair.Name, Mode: w.pair.Resolved.Mode, Problems: []string{}, Decision: decisionOf(&st, w.pair.Resolved, w.now())}
	if w.rt.last != nil {
		o := *w.rt.last
		ps.Observation = &o
		ps.Problems = nonNil(report.Problems(o))
	} else {
		ps.Problems = []string{"no observation yet"}
	}
	if err := w.rt.journalErr; err != nil {
		ps.Problems = append([]string{"journal unwritable (" + err.Error() + "): decisions are tracked in memory only, and no promotion starts until it is writable"}, ps.Problems...)
	}
	if st.OldLeaderUnfenced() {
		ps.Problems = append([]string{"the old leader answers again after the promotion and is not fenced: both sides may take writes"}, ps.Problems...)
	}
	return ps
}

func decisionOf(st *policy.State, pol *config.Policy, now time.Time) *report.Decision {
	ok, why := policy.RPOGuard(st, pol, now)
	d := &report.Decision{State: string(st.Phase), Since: st.Since, Reasons: nonNil(st.Reasons), RPOGuard: ok, RPOGuardReason: why}
	if st.Phase == policy.AwaitingApproval && st.ApprovalID != "" {
		d.ApprovalID, d.ApprovalExpiresAt = st.ApprovalID, st.ApprovalRequested.Add(pol.ApprovalTimeout.D())
	}
	return d
}

func (w *watcher) phase() policy.Phase {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return w.rt.rec.State.Phase
}

func (w *watcher) observed() bool {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return w.rt.last != nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func failureFields(f *observe.Failure) []zap.Field {
	if f == nil {
		return nil
	}
	return []zap.Field{zap.String("class", string(f.Class)), zap.String("error", f.Message)}
}
