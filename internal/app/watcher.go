package app

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/report"
)

// cycler is what a watcher needs of a prober.
type cycler interface {
	Cycle(ctx context.Context) probe.Observation
}

// watcher probes one pair on its interval and keeps its latest observation.
type watcher struct {
	pair     *config.Pair
	prober   cycler
	metrics  *metrics.Metrics
	log      *zap.Logger
	interval time.Duration

	mu   sync.RWMutex
	last *probe.Observation
}

// Start probes at once and then every interval until ctx ends.
func (w *watcher) Start(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *watcher) tick(ctx context.Context) {
	obs := w.prober.Cycle(ctx)
	if ctx.Err() != nil {
		return // shutting down: a canceled cycle is not an observation
	}
	w.mu.Lock()
	prev := w.last
	w.last = &obs
	w.mu.Unlock()
	w.metrics.Observe(obs)
	w.logChanges(prev, obs)
}

// logChanges logs what changed since the previous observation, so the log
// tells the story without one line per probe.
func (w *watcher) logChanges(prev *probe.Observation, cur probe.Observation) {
	first := prev == nil
	if first || prev.Leader.Reachable != cur.Leader.Reachable || prev.Leader.Health != cur.Leader.Health {
		if cur.Leader.Reachable {
			w.log.Info("leader reachable", zap.String("health", cur.Leader.Health), zap.Duration("latency", cur.Leader.Latency))
		} else {
			w.log.Warn("leader unreachable", zap.String("class", string(cur.Leader.Failure.Class)), zap.String("error", cur.Leader.Failure.Message))
		}
	}
	r := cur.Follower.Remote
	if first || prev.Follower.Remote.Connected != r.Connected || prev.Follower.Remote.Known != r.Known || (prev.Follower.Remote.Failure == nil) != (r.Failure == nil) {
		switch {
		case r.Failure != nil:
			w.log.Warn("follower remote info unreadable", zap.String("class", string(r.Failure.Class)), zap.String("error", r.Failure.Message))
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
		w.log.Warn("replication state unreadable", zap.String("class", string(rep.Failure.Class)), zap.String("error", rep.Failure.Message))
	}
	if rep.Failure == nil && (first || prev.Follower.Replication.Failure != nil || prev.Follower.Replication.Stopped != rep.Stopped) {
		w.log.Info("replication state", zap.Int("syncing", rep.Syncing), zap.Int("not_syncing", rep.Stopped),
			zap.Int64("max_lag_operations", rep.MaxLag), zap.Bool("lag_complete", rep.LagComplete))
	}
}

func (w *watcher) status() report.PairStatus {
	w.mu.RLock()
	defer w.mu.RUnlock()
	ps := report.PairStatus{Name: w.pair.Name, Mode: w.pair.Resolved.Mode, Problems: []string{}}
	if w.last != nil {
		o := *w.last
		ps.Observation = &o
		ps.Problems = nonNil(report.Problems(o))
	} else {
		ps.Problems = []string{"no observation yet"}
	}
	return ps
}

func (w *watcher) observed() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.last != nil
}
