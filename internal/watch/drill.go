package watch

import (
	"context"
	"errors"
	"fmt"

	"github.com/drwatch/drwatch/internal/acting"

	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/record"
)

// DrillPromote is a failover drill's graceful promotion of the pair
// (policy.DrillStart), run now through the one promotion runner (Promote):
// journaled, resumable, counted like any other. It is refused, changing
// nothing, unless the pair is healthy, no promotion runs and the daemon
// may write to the clusters (not dry-run). drill names the drill and its
// report ("<drill>/<id>"); by is who runs it.
func (w *Watcher) DrillPromote(ctx context.Context, drill policy.DrillID, by string) (promote.Result, error) {
	if err := policy.Promotable(w.pair, policy.ByDaemon); err != nil {
		return promote.Result{}, err
	}
	w.rt.mu.Lock()
	if _, err := w.role.Acting(); err != nil {
		w.rt.mu.Unlock()
		return promote.Result{}, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	if w.rt.inFlight {
		w.rt.mu.Unlock()
		return promote.Result{}, fmt.Errorf("%w: a promotion of the pair is running", policy.ErrConflict)
	}
	c := policy.Command{Action: policy.ActDrillStart, By: by, Drill: drill}
	now := w.now()
	w.recordLocked(record.Commanded(now, c))
	d, err := c.Apply(w.rt.rec.State, now)
	if err != nil {
		w.rt.mu.Unlock()
		return promote.Result{}, err
	}
	w.rt.promotionBy = by
	if jerr := w.applyLocked(d, by, now); jerr != nil && w.rt.rec.State.Phase != policy.Promoting {
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
func (w *Watcher) DrillEnd(drill policy.DrillID, summary, by string) error {
	_, err := w.Command(policy.Command{Action: policy.ActDrillEnd, By: by, Drill: drill, Reason: summary})
	if errors.Is(err, acting.ErrQueued) {
		return nil // ha: recorded in the inbox; the lease holder applies it
	}
	return err
}

// NotifyDrill tells the hooks a drill's outcome (drill_succeeded or
// drill_failed), with its summary as the reasons.
func (w *Watcher) NotifyDrill(event policy.Event, summary string, reasons []string) {
	if _, err := w.role.Acting(); w.hooks == nil || err != nil {
		return // a standby pages nobody
	}
	w.rt.mu.RLock()
	ev := w.eventLocked(event, "", "")
	w.rt.mu.RUnlock()
	ev.Summary = summary
	ev.Reasons = reasons
	ev.Next = ""
	w.metrics.Events.WithLabelValues(w.pair.Name, event.String()).Inc()
	w.hooks.Notify(ev)
}

// Promotion is a copy of the pair's current promotion record, with its
// journaled steps (nil: none).
func (w *Watcher) Promotion() *promote.Promotion {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	p := w.rt.rec.Promotion
	if p == nil {
		return nil
	}
	c := *p
	c.Steps = append([]promote.Step(nil), p.Steps...)
	return &c
}

// Standby says why this daemon does not run the pair's drills ("" when
// it acts for the pair): with ha, the lease holder runs them.
func (w *Watcher) Standby() string {
	_, err := w.role.Acting()
	if err == nil {
		return ""
	}
	h, _ := w.role.Report()
	if h == nil {
		return fmt.Sprintf("pair %s: %v", w.pair.Name, err)
	}
	holder := h.Holder
	if holder == "" {
		holder = "no daemon yet"
	}
	return fmt.Sprintf("this daemon (%s) is standby for pair %s: the lease holder (%s) runs its drills", h.Identity, w.pair.Name, holder)
}

// Bound bounds ctx by the window in which this daemon may act (ha: its
// lease's): a call made with it is never sent after the window.
func (w *Watcher) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return w.role.Bound(ctx)
}

// Acting is nil while this daemon may act for the pair: always alone;
// with ha, while it holds the pair's lease, confirmed in the follower
// cluster now (ha.Lease.Check) - the fencing check of what a failover
// drill changes outside a promotion.
func (w *Watcher) Acting(ctx context.Context) error {
	return w.role.Confirm(ctx)
}
