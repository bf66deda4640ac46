package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// DrillPromote is a failover drill's graceful promotion of the pair
// (policy.DrillStart), run now through the one promotion runner (Promote):
// journaled, resumable, counted like any other. It is refused, changing
// nothing, unless the pair is healthy, no promotion runs and the daemon
// may write to the clusters (not dry-run). drill names the drill and its
// report ("<drill>/<id>"); by is who runs it.
func (w *Watcher) DrillPromote(ctx context.Context, drill, by string) (promote.Result, error) {
	if err := policy.Promotable(w.pair, policy.ByDaemon); err != nil {
		return promote.Result{}, err
	}
	w.rt.mu.Lock()
	if w.rt.inFlight {
		w.rt.mu.Unlock()
		return promote.Result{}, fmt.Errorf("%w: a promotion of the pair is running", policy.ErrConflict)
	}
	d, err := policy.DrillStart(w.rt.rec.State, drill, by, w.now())
	if err != nil {
		w.rt.mu.Unlock()
		return promote.Result{}, err
	}
	w.rt.promotionBy = by
	if jerr := w.applyLocked(d, by); jerr != nil && w.rt.rec.State.Phase != policy.Promoting {
		w.rt.mu.Unlock()
		return promote.Result{}, fmt.Errorf("%w: journal unwritable: %w", ErrNotStarted, jerr)
	}
	// This call runs it: the watcher's loop does not start a second.
	w.rt.inFlight = true
	w.rt.mu.Unlock()
	w.promotions.Add(1)
	defer func() {
		w.rt.mu.Lock()
		w.rt.inFlight = false
		w.rt.mu.Unlock()
		w.promotions.Done()
	}()
	return w.promote(ctx, true, true)
}

// DrillEnd hands the pair back after its failover drill restored
// replication (policy.DrillEnded): healthy, watched afresh.
func (w *Watcher) DrillEnd(drill, summary, by string) error {
	_, err := w.Command(func(s policy.State, now time.Time) (policy.Decision, error) {
		return policy.DrillEnded(s, drill, summary, now)
	}, by)
	return err
}

// NotifyDrill tells the hooks a drill's outcome (drill_succeeded or
// drill_failed), with its summary as the reasons.
func (w *Watcher) NotifyDrill(event, summary string, reasons []string) {
	if w.hooks == nil {
		return
	}
	w.rt.mu.RLock()
	ev := w.eventLocked(event, "", "")
	w.rt.mu.RUnlock()
	ev.Summary = summary
	ev.Reasons = reasons
	ev.Next = ""
	w.metrics.Events.WithLabelValues(w.pair.Name, event).Inc()
	w.hooks.Notify(ev)
}
