package watch

import (
	"slices"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/report"
)

// Status is the pair's status: its decision, latest observation and problems.
func (w *Watcher) Status() report.PairStatus {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	st := w.shownLocked()
	ps := report.PairStatus{Name: w.pair.Name, Mode: w.pair.Resolved.Mode, Problems: []string{}, Decision: DecisionOf(&st, w.pair.Resolved, w.now())}
	if w.rt.last != nil {
		o := *w.rt.last
		ps.Observation = &o
		ps.Problems = report.Problems(o)
	} else {
		ps.Problems = []string{"no observation yet"}
	}
	if err := w.rt.journalErr; err != nil {
		ps.Problems = append([]string{"journal unwritable (" + err.Error() + "): decisions are tracked in memory only, and no promotion starts until it is writable"}, ps.Problems...)
	}
	if st.OldLeaderUnfenced() {
		ps.Problems = append([]string{"the old leader answers again after the promotion and is not fenced: both sides may take writes"}, ps.Problems...)
	}
	if h, problems := w.role.Report(); h != nil {
		ps.HA = h
		if len(problems) > 0 {
			ps.Problems = append(problems, ps.Problems...)
		}
	}
	return ps
}

// DecisionOf is a decision state as the status shows it.
func DecisionOf(st *policy.State, pol *config.Policy, now time.Time) *report.Decision {
	ok, why := policy.RPOGuard(st, pol, now)
	d := &report.Decision{State: st.Phase.String(), Since: st.Since, Reasons: append([]string{}, st.Reasons...), RPOGuard: ok, RPOGuardReason: why}
	if st.Phase != policy.Promoted {
		left, period := st.LeaseLeft(now)
		d.RetentionLease = &report.RetentionLease{Period: period, Left: left, StalledSince: st.StalledSince}
	}
	if st.Phase == policy.AwaitingApproval && st.ApprovalID != "" {
		d.ApprovalID, d.ApprovalExpiresAt = st.ApprovalID, st.ApprovalRequested.Add(pol.ApprovalTimeout.D())
	}
	return d
}

// Phase is the pair's current phase.
func (w *Watcher) Phase() policy.Phase {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return w.rt.rec.State.Phase
}

// Observed reports whether the pair has been observed since drwatch started.
func (w *Watcher) Observed() bool {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return w.rt.last != nil
}

// Pair is the watched pair's config.
func (w *Watcher) Pair() *config.Pair { return w.pair }

// History is the pair's last n journaled transitions, newest first (all
// of them when n <= 0), copied: the caller may keep them.
func (w *Watcher) History(n int) []journal.Transition {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	h := w.rt.rec.History
	if n > 0 && len(h) > n {
		h = h[len(h)-n:]
	}
	out := make([]journal.Transition, len(h))
	for i, t := range h {
		t.Events, t.Reasons = slices.Clone(t.Events), slices.Clone(t.Reasons)
		out[len(h)-1-i] = t
	}
	return out
}

// State is the pair's current decision state, for asking policy's
// commands which of them apply now (the status page offers only those):
// on a standby (ha), the state the holder published, which its commands
// go to.
func (w *Watcher) State() policy.State {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return w.shownLocked()
}

// shownLocked is the decision state the pair's status shows: its own, or
// on a standby (ha) the one the holder published, once read.
func (w *Watcher) shownLocked() policy.State {
	if ms := w.role.Shown(); ms != nil {
		return *ms
	}
	return w.rt.rec.State
}
