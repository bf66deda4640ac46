package watch

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/record"
)

// rolePair is the watcher as its role (acting.Role) sees it.
type rolePair struct{ w *Watcher }

var _ acting.Pair = rolePair{}

func (p rolePair) Config() *config.Pair    { return p.w.pair }
func (p rolePair) Now() time.Time          { return p.w.now() }
func (p rolePair) Interval() time.Duration { return p.w.interval }
func (p rolePair) Show(st *policy.State)   { p.w.stateMetrics(st) }

func (p rolePair) Shared() (policy.State, *promote.Promotion, error) {
	rt := p.w.rt
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	var prom *promote.Promotion
	switch cur := rt.rec.Promotion; {
	case cur == nil:
	case rt.running:
		if c := rt.runCopy; c != nil && c.ID == cur.ID {
			prom = copyPromotion(c)
		}
	default:
		prom = copyPromotion(cur)
	}
	return rt.rec.State, prom, rt.journalErr
}

func (p rolePair) Take(f func(rec *journal.Record) (*journal.Record, error)) error {
	w := p.w
	w.rt.mu.Lock()
	defer w.rt.mu.Unlock()
	next, err := f(w.rt.rec)
	if err != nil || next == nil {
		return err
	}
	if err := w.journal.Save(next); err != nil {
		return fmt.Errorf("journal the adopted state: %w", err)
	}
	*w.rt.rec = *next
	w.recordLocked(record.Started(w.now(), next.State, w.pair.Resolved, false, record.WhyWatcher))
	w.stateMetrics(&w.rt.rec.State)
	return nil
}

func (p rolePair) Apply(c policy.Command, now time.Time) (policy.State, error) {
	return p.w.commandAt(c.Apply, c.By, &c, now)
}

// copyPromotion copies a promotion and its steps.
func copyPromotion(p *promote.Promotion) *promote.Promotion {
	cp := *p
	cp.Plan = maps.Clone(p.Plan)
	cp.Steps = slices.Clone(p.Steps)
	return &cp
}

// StepsJournaled is called by the executor's journal after each step:
// the running promotion's copy that others read (the status, the other
// daemon) is taken again.
func (rt *Runtime) StepsJournaled(p *promote.Promotion) {
	c := copyPromotion(p)
	rt.mu.Lock()
	rt.runCopy = c
	rt.mu.Unlock()
}

// observeOnly folds an observation into what this daemon shows (status,
// metrics, logs) without deciding: a daemon that does not act for the
// pair (its role's Begin said so).
func (w *Watcher) observeOnly(obs observe.Observation) {
	w.rt.mu.Lock()
	prev := w.rt.last
	w.rt.last = &obs
	w.rt.cycles++
	w.rt.mu.Unlock()
	w.metrics.Observe(obs)
	w.logChanges(prev, obs)
}

// PublishNow shares the pair's state now, if this daemon acts for it (at
// shutdown, before a lease is released: a promotion's outcome is what
// the other daemon adopts).
func (w *Watcher) PublishNow(ctx context.Context) error {
	if _, err := w.role.Acting(); err != nil {
		return nil
	}
	return w.role.Publish(ctx, rolePair{w})
}
