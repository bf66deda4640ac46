package watch

import (
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/record"
)

// applyLocked journals a decision (when anything a restart needs changed)
// and then makes it the current state. The journal write comes first.
//
// When the journal cannot be written (state_dir full or read-only) the
// decision is still tracked in memory - status, the API and the metrics
// tell the truth, with a journal_unwritable problem - except a promotion:
// one that could not be journaled is never started. Every later decision
// tries the journal again, and the first that succeeds saves it all.
func (w *Watcher) applyLocked(d policy.Decision, by string, now time.Time) error {
	if d.Promote {
		w.rt.promotionBy = d.By
	}
	old := w.rt.rec.State
	// A human's command is always journaled, with a history entry (who
	// did what): pausing a paused pair again changes only its expiry.
	tr, transition := journal.TransitionOf(old, d, by != "", now)
	if transition || w.rt.journalErr != nil { // or retrying an unwritable journal
		next := *w.rt.rec
		next.State = d.State
		if d.Abandon {
			next.Promotion = nil // a later promotion plans afresh
		}
		if transition {
			next.History = append(append([]journal.Transition(nil), w.rt.rec.History...), tr)
		}
		if err := w.journal.Save(&next); err != nil {
			w.metrics.JournalErrors.Inc()
			if w.rt.journalErr == nil {
				w.metrics.Events.WithLabelValues(w.pair.Name, policy.EvJournalUnwritable.String()).Inc()
				w.log.Error("journal unwritable: decisions are tracked in memory only, and no promotion starts until it is writable", zap.Error(err))
				w.notifyLocked([]policy.Event{policy.EvJournalUnwritable}, old.Phase, "", "journal unwritable: "+err.Error())
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
		recovered := w.rt.journalErr != nil
		w.rt.journalErr = nil
		*w.rt.rec = next
		if recovered {
			w.metrics.Events.WithLabelValues(w.pair.Name, policy.EvJournalRecovered.String()).Inc()
			w.log.Info("journal writable again: the decisions tracked in memory are saved")
			w.notifyLocked([]policy.Event{policy.EvJournalRecovered}, old.Phase, "")
		}
	} else {
		w.rt.rec.State = d.State
	}
	w.observeState(d, old, by)
	return nil
}

// observeState updates the metrics and logs a decision applied.
func (w *Watcher) observeState(d policy.Decision, old policy.State, by string) {
	changed := d.State.Phase != old.Phase || len(d.Events) > 0
	s := d.State
	p := w.pair.Name
	w.stateMetrics(&s)
	for _, ev := range d.Events {
		w.metrics.Events.WithLabelValues(p, ev.String()).Inc()
	}
	if by == "" {
		by = d.By
	}
	w.notifyLocked(d.Events, old.Phase, by)
	if changed {
		fields := []zap.Field{zap.String("from", old.Phase.String()), zap.String("to", s.Phase.String()),
			zap.Stringers("events", d.Events), zap.Strings("reasons", s.Reasons)}
		if by != "" {
			fields = append(fields, zap.String("by", by))
		}
		w.log.Info("decision", fields...)
	}
}

// stateMetrics sets the decision series of state s (a standby's are the
// holder's published state's).
func (w *Watcher) stateMetrics(s *policy.State) {
	p := w.pair.Name
	w.metrics.SetState(p, s.Phase.String(), phaseNames)
	outage := 0.0
	if !s.OutageStart.IsZero() {
		outage = w.now().Sub(s.OutageStart).Seconds()
	}
	w.metrics.LeaderOutage.WithLabelValues(p).Set(outage)
	w.metrics.LeaderFailedProbes.WithLabelValues(p).Set(float64(s.FailedProbes))
	w.metrics.OldLeaderUnfenced.WithLabelValues(p).Set(b2f(s.OldLeaderUnfenced()))
	ok, _ := policy.RPOGuard(s, w.pair.Resolved, w.now())
	w.metrics.RPOGuardPassing.WithLabelValues(p).Set(b2f(ok))
	if s.LastGoodLag != nil {
		w.metrics.LastGoodLagTimestamp.WithLabelValues(p).Set(float64(s.LastGoodLag.At.UnixNano()) / 1e9)
	}
	if s.Phase != policy.Promoted {
		left, _ := s.LeaseLeft(w.now())
		w.metrics.LeaseRemaining.WithLabelValues(p).Set(left.Seconds())
	}
}

// Command applies a human's command (approve, deny, pause, resume,
// promote) and wakes the loop.
//
// The pair's role takes it (acting.Role.Command): alone, it is applied
// at once; with ha, it goes through the pair's inbox in the follower
// cluster whichever daemon receives it, so that a command is never known
// to one daemon only.
func (w *Watcher) Command(c policy.Command) (policy.State, error) {
	return w.role.Command(rolePair{w}, c)
}

// command applies f, a command's decision function; c is the command,
// for the record (nil: a test's own decision, not recorded).
func (w *Watcher) command(f func(policy.State, time.Time) (policy.Decision, error), by string, c *policy.Command) (policy.State, error) {
	return w.commandAt(f, by, c, time.Time{})
}

// commandAt is command at time now (zero: the watcher's clock now).
func (w *Watcher) commandAt(f func(policy.State, time.Time) (policy.Decision, error), by string, c *policy.Command, now time.Time) (policy.State, error) {
	w.rt.mu.Lock()
	if now.IsZero() {
		now = w.now()
	}
	if c != nil {
		w.recordLocked(record.Commanded(now, *c))
	}
	d, err := f(w.rt.rec.State, now)
	if err != nil {
		st := w.rt.rec.State
		w.rt.mu.Unlock()
		return st, err
	}
	jerr := w.applyLocked(d, by, now)
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

// recordLocked adds an input of the decision core to the pair's record,
// with the state it is applied to (the record is the exact sequence of
// inputs: each is recorded where its decision function is called, under
// the pair's lock). It never fails: see record.Recorder.
func (w *Watcher) recordLocked(in record.Input) {
	w.rt.recorder.Add(in, w.rt.rec.State, w.pair.Resolved)
}
