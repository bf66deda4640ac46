package watch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/record"
)

// ErrNotStarted wraps the errors of a promotion that did not run: the
// pair is not promoting, or the promotion's start could not be journaled.
var ErrNotStarted = errors.New("promotion not started")

// startPromotion runs the pair's promotion on a goroutine of its own,
// unless one is running already. Shutdown waits for it (Config.Promotions);
// a reload does not.
func (w *Watcher) startPromotion(ctx context.Context) {
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
		// Not canceled by reload or shutdown: every step is bounded, and
		// stopping half-way only delays what the journal will resume.
		_, _ = w.Promote(context.WithoutCancel(ctx), false)
	})
}

// Promote runs (or resumes) the pair's promotion and records its outcome.
// It is the one place a promotion starts: the daemon calls it when the
// decision is to promote (and to resume one after a restart), `drwatch
// promote` through PromoteByHand. The promotion's record (its id, who
// started it, graceful or not) is journaled before the executor runs;
// the outcome is folded into the state with policy.PromotionSucceeded or
// PromotionFailed and journaled, with the history, in one place (apply).
//
// A promotion drwatch starts on its own (policy.Vettable) is first put
// to the veto hooks, if any; a veto is journaled (policy.PromotionVetoed)
// and nothing runs.
//
// graceful asks for a graceful promotion when one starts now; a resumed
// promotion keeps what it was started as. ctx cancels the executor's
// steps (the daemon's promotions run without cancellation; a human's
// Ctrl-C stops `drwatch promote`, and the journal resumes it).
func (w *Watcher) Promote(ctx context.Context, graceful bool) (promote.Result, error) {
	return w.promote(ctx, graceful, false)
}

func (w *Watcher) promote(ctx context.Context, graceful, byHand bool) (promote.Result, error) {
	// Only the daemon acting for the pair promotes, under its term: with
	// a lease, every mutating step checks it first (ha.Gate).
	term, err := w.role.Acting()
	if err != nil {
		return promote.Result{}, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	w.rt.mu.Lock()
	if w.rt.rec.State.Phase != policy.Promoting {
		w.rt.mu.Unlock()
		return promote.Result{}, fmt.Errorf("%w: the pair is %s, not promoting", ErrNotStarted, w.rt.rec.State.Phase)
	}
	if w.rt.rec.State.Drill != "" {
		graceful = true // a failover drill's promotion, however it is resumed
	}
	if !byHand && w.vettingLocked() {
		if err := w.vetLocked(ctx); err != nil {
			w.rt.mu.Unlock()
			return promote.Result{}, err
		}
	}
	if w.rt.rec.Promotion == nil {
		by := w.rt.promotionBy
		switch {
		case by != "":
		case w.rt.rec.State.Approval != nil: // decided before a restart
			by = w.rt.rec.State.Approval.By
		default:
			by = "drwatch"
		}
		next := *w.rt.rec
		next.Promotion = promote.New(w.pair.Name, by, graceful, w.now())
		next.Promotion.ByHand = w.rt.rec.State.PromotionByHand
		if err := w.journal.Save(&next); err != nil {
			w.rt.retryAt = w.now().Add(policy.RetryInitial)
			w.rt.mu.Unlock()
			w.metrics.JournalErrors.Inc()
			w.log.Error("journal write failed: not promoting yet (retried in 30s)", zap.Error(err))
			return promote.Result{}, fmt.Errorf("%w: its start could not be journaled: %w", ErrNotStarted, err)
		}
		*w.rt.rec = next
	}
	p := w.rt.rec.Promotion
	p.Term = term
	w.rt.running, w.rt.runCopy = true, copyPromotion(p)
	w.rt.mu.Unlock()

	start := time.Now()
	w.log.Warn("promotion started", zap.String("id", p.ID), zap.String("by", p.By), zap.Bool("graceful", p.Graceful))
	res, err := w.exec.Run(ctx, p)
	took := time.Since(start)

	w.rt.mu.Lock()
	w.rt.running, w.rt.runCopy = false, nil
	var d policy.Decision
	result := "success"
	now := w.now()
	if err != nil {
		result = "failure"
		w.recordLocked(record.Failed(now, err.Error(), promote.Changed(p)))
		d = policy.PromotionFailed(w.rt.rec.State, err.Error(), promote.Changed(p), now)
	} else {
		p.Finished = now
		w.rt.unassigned = len(res.Unassigned)
		w.recordLocked(record.Succeeded(now, res.Detail))
		d = policy.PromotionSucceeded(w.rt.rec.State, res.Detail, now)
	}
	jerr := w.applyLocked(d, "", now)
	w.rt.mu.Unlock()
	w.role.Kick() // the outcome is shared at once

	n := w.pair.Name
	w.metrics.Promotions.WithLabelValues(n, result).Inc()
	w.metrics.PromotionDuration.WithLabelValues(n).Observe(took.Seconds())
	w.metrics.PromotionIndices.WithLabelValues(n, "promoted").Set(float64(len(res.Promoted)))
	w.metrics.PromotionIndices.WithLabelValues(n, "failed").Set(float64(len(res.Failed)))
	w.metrics.PromotionIndices.WithLabelValues(n, "unassigned").Set(float64(len(res.Unassigned)))
	if jerr != nil {
		w.log.Error("journal write failed after the promotion: its outcome is kept in memory and saved once the journal is writable", zap.Error(jerr))
	}
	if err != nil {
		w.log.Error("promotion failed", zap.Duration("took", took), zap.Error(err))
		return res, err
	}
	w.log.Warn("promotion succeeded", zap.Duration("took", took), zap.Strings("indices", res.Promoted), zap.Bool("leader_fenced", res.Fenced))
	if len(res.Unassigned) > 0 {
		w.log.Error("promoted indices without an active primary take no writes until the follower allocates them (GET _cluster/allocation/explain says why)",
			zap.Strings("indices", slices.Sorted(maps.Keys(res.Unassigned))), zap.String("detail", promote.Summarize(res.Unassigned)))
	}
	if jerr != nil {
		return res, fmt.Errorf("promoted, but the outcome could not be journaled: %w", jerr)
	}
	return res, nil
}

// vettingLocked reports whether the promotion the pair is starting (or
// retrying, or resuming) is put to the veto hooks first: one drwatch
// started on its own (policy.Vettable) that has changed nothing on the
// clusters yet, by the state or by its journaled steps, with a veto hook
// configured.
func (w *Watcher) vettingLocked() bool {
	return w.hooks != nil && policy.Vettable(w.rt.rec.State) && !promote.Changed(w.rt.rec.Promotion) &&
		w.hooks.HasVeto(policy.EvPromotionStarted.String())
}

// vetLocked asks the veto hooks about the promotion about to start,
// without the lock (a hook may take its whole timeout). A veto is folded
// in with policy.PromotionVetoed and journaled, and returned as an
// ErrNotStarted; without one, the other hooks hear promotion_started now
// (notifyLocked held it back, so that nobody acts on a promotion a veto
// then stops). Called and returns with the lock held.
func (w *Watcher) vetLocked(ctx context.Context) error {
	ev := w.eventLocked(policy.EvPromotionStarted, "", w.rt.promotionBy)
	w.rt.mu.Unlock()
	verr := w.hooks.Veto(ctx, ev)
	w.rt.mu.Lock()
	if w.rt.rec.State.Phase != policy.Promoting {
		return fmt.Errorf("%w: the pair is %s now", ErrNotStarted, w.rt.rec.State.Phase)
	}
	if _, err := w.role.Acting(); err != nil { // the lease was lost while the hooks were asked
		return fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	if verr == nil {
		w.hooks.Notify(w.eventLocked(policy.EvPromotionStarted, "", w.rt.promotionBy))
		return nil
	}
	who, reason := "a veto hook", verr.Error()
	var ve *hooks.VetoError
	if errors.As(verr, &ve) {
		who, reason = "veto hook "+ve.Hook, ve.Reason
	}
	w.log.Warn("promotion vetoed", zap.String("by", who), zap.String("reason", reason))
	now := w.now()
	w.recordLocked(record.Vetoed(now, who, reason))
	if jerr := w.applyLocked(policy.PromotionVetoed(w.rt.rec.State, who, reason, now), "", now); jerr != nil {
		w.log.Error("journal write failed: the veto is kept in memory", zap.Error(jerr))
	}
	return fmt.Errorf("%w: %w", ErrNotStarted, verr)
}

// PromoteByHand is `drwatch promote`: it starts a promotion on a human's
// command (policy.ManualPromote), or resumes the interrupted one, and runs
// it now, through Promote. What would refuse it is checked before anything
// is journaled, so a refusal changes nothing.
func (w *Watcher) PromoteByHand(ctx context.Context, by, reason string, graceful bool) (promote.Result, error) {
	if err := policy.Promotable(w.pair, policy.ByHand); err != nil {
		return promote.Result{}, err
	}
	w.rt.mu.RLock()
	phase, p := w.rt.rec.State.Phase, w.rt.rec.Promotion
	w.rt.mu.RUnlock()
	if err := p.Resumable(graceful); err != nil {
		return promote.Result{}, err
	}
	if phase != policy.Promoting {
		_, err := w.Command(policy.Command{Action: policy.ActPromote, By: by, Reason: reason})
		if err != nil {
			return promote.Result{}, err
		}
	}
	return w.promote(ctx, graceful, true)
}

// fenceOldLeader write-blocks an old leader that answers again after the
// promotion, and records it; on failure the next cycle tries again.
func (w *Watcher) fenceOldLeader(ctx context.Context) {
	if _, err := w.role.Acting(); err != nil {
		return
	}
	if err := w.role.Confirm(ctx); err != nil {
		w.log.Error("the old leader answers again; not fencing it: this daemon's lease is not confirmed", zap.Error(err))
		return
	}
	w.rt.mu.RLock()
	p := w.rt.rec.Promotion
	w.rt.mu.RUnlock()
	detail, err := w.exec.FenceOldLeader(ctx, p)
	if err != nil {
		w.log.Error("the old leader answers again and could not be fenced: both sides may take writes", zap.Error(err))
		return
	}
	w.rt.mu.Lock()
	now := w.now()
	w.recordLocked(record.Fenced(now, detail))
	jerr := w.applyLocked(policy.OldLeaderFenced(w.rt.rec.State, detail, now), "", now)
	w.rt.mu.Unlock()
	if jerr != nil {
		w.log.Error("journal write failed: the old leader's fence is not recorded", zap.Error(jerr))
		return
	}
	w.log.Warn("the old leader answered again and was fenced", zap.String("detail", detail))
}
