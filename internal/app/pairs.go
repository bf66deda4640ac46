package app

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/aivenpromote"
	"github.com/drwatch/drwatch/internal/promote/ccr"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// start runs one watcher per pair of cfg.
func (a *App) start(ctx context.Context, cfg *config.Config) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	watchers := make([]*watch.Watcher, 0, len(cfg.Pairs))
	for i := range cfg.Pairs {
		p := &cfg.Pairs[i]
		log := a.log.Named("watcher").With(zap.String("pair", p.Name))
		rt, err := a.record(p.Name)
		var role acting.Role = acting.Single{}
		var j ha.StepJournal = a.journal
		var window func() time.Time
		if err == nil && cfg.HA.Enabled {
			var h *acting.HA
			if h, err = a.haRole(a.haCtx, cfg, p); err == nil {
				role, j, window = h, h.Journal(a.journal, rt.StepsJournaled), h.Window
			}
		}
		var pr *probe.Prober
		var ex promote.Executor
		if err == nil {
			pr, ex, err = Parts(p, j, window, log)
		}
		if err != nil {
			// Config validation and the start-up journal check make this
			// unreachable in practice; log and keep the other pairs.
			a.log.Error("cannot watch pair", zap.String("pair", p.Name), zap.Error(err))
			continue
		}
		a.metrics.InitPair(p.Name)
		watchers = append(watchers, watch.New(watch.Config{
			Pair: p, Prober: pr, Exec: ex, Journal: a.journal, Metrics: a.metrics, Log: log,
			Runtime: rt, Promotions: &a.promotions, Hooks: &a.hooks, URL: cfg.URL(), Role: role,
		}))
	}
	var wg sync.WaitGroup
	for _, w := range watchers {
		wg.Go(func() { _ = w.Start(wctx) })
	}
	go func() { wg.Wait(); close(done) }()
	a.mu.Lock()
	a.cfg, a.watchers, a.stop, a.done = cfg, watchers, cancel, done
	a.mu.Unlock()
}

// Parts builds what a pair's watcher is made of: its prober and its
// promotion executor: promote/aivenpromote for an Aiven pair (the CCR
// integration deleted through the Aiven API, never the replication
// plugin's _stop), promote/ccr otherwise. j journals the executor's
// steps: the journal, or with ha the journal behind the lease's fencing
// check (ha.Gate); window, with ha, bounds every cluster call of the
// executor to the lease's window (steps.Bound; nil without ha).
func Parts(p *config.Pair, j ha.StepJournal, window func() time.Time, log *zap.Logger) (*probe.Prober, promote.Executor, error) {
	pr, err := probe.New(p)
	if err != nil {
		return nil, nil, err
	}
	if p.Aiven != nil {
		ex, err := aivenpromote.New(p, j, log.Named("promote"))
		if err != nil {
			return nil, nil, err
		}
		ex.Window = window
		return pr, ex, nil
	}
	ex, err := ccr.New(p, j, log.Named("promote"))
	if err != nil {
		return nil, nil, err
	}
	ex.Window = window
	return pr, ex, nil
}

// record returns a pair's live state, loading its journal record (or
// starting a new one) the first time.
func (a *App) record(pair string) (*watch.Runtime, error) {
	if rt, ok := a.pairs[pair]; ok {
		return rt, nil
	}
	rt, err := watch.Load(a.journal, pair, time.Now())
	if err != nil {
		return nil, err
	}
	rt.SetRecorder(record.New(a.journal.Dir(), pair, record.Options{
		Log: a.log.Named("record").With(zap.String("pair", pair)), Errors: a.metrics.RecordErrors}))
	st := rt.State()
	a.log.Info("journal loaded", zap.String("pair", pair), zap.String("state", st.Phase.String()), zap.Time("since", st.Since))
	a.pairs[pair] = rt
	return rt, nil
}

func (a *App) stopWatchers() {
	a.mu.RLock()
	stop, done := a.stop, a.done
	a.mu.RUnlock()
	if stop != nil {
		stop()
		<-done
	}
}

// Status is every watched pair's status.
func (a *App) Status() report.Status {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := report.Status{Time: time.Now(), Pairs: make([]report.PairStatus, 0, len(a.watchers))}
	for _, w := range a.watchers {
		st.Pairs = append(st.Pairs, w.Status())
	}
	return st
}

// Ready reports whether every pair has been observed once.
func (a *App) Ready() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cfg == nil {
		return false
	}
	for _, w := range a.watchers {
		if !w.Observed() {
			return false
		}
	}
	return true
}

// ExternalURL is the config's external_url ("" when unset).
func (a *App) ExternalURL() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cfg == nil {
		return ""
	}
	return a.cfg.ExternalURL
}

// Token is the mutating API's bearer token.
func (a *App) Token() config.Secret {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cfg == nil {
		return config.Secret{} // not started yet: the mutating API is off
	}
	return a.cfg.API.Token
}

// Watcher is the watcher of the named pair (nil: no such pair).
func (a *App) Watcher(name string) *watch.Watcher {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, w := range a.watchers {
		if w.Pair().Name == name {
			return w
		}
	}
	return nil
}
