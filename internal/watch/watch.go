// Package watch runs one leader/follower pair: every probe_interval it
// takes an observation, asks the decision core (policy) what it means,
// journals the decision before acting on it, and acts - a promotion, or
// fencing an old leader that came back. Humans' commands (approve, deny,
// pause, resume, promote) go through the same path. It is the one place
// a promotion starts (Watcher.Promote), for the daemon and for
// `drwatch promote` alike.
//
// A pair's live state (Runtime) outlives watchers: a config reload
// replaces the Watcher, not the Runtime, so commands racing a reload
// still serialise, and a promotion in flight is neither interrupted nor
// started twice.
package watch

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/record"
)

// Cycler takes one observation of the pair (a *probe.Prober).
type Cycler interface {
	Cycle(ctx context.Context) observe.Observation
}

// Watcher probes one pair on its interval, feeds each observation to the
// policy, journals every change before acting on it, and runs promotions.
// A reload replaces it; its Runtime stays.
type Watcher struct {
	pair     *config.Pair
	prober   Cycler
	exec     promote.Executor
	journal  *journal.Journal
	metrics  *metrics.Metrics
	log      *zap.Logger
	interval time.Duration
	now      func() time.Time
	rt       *Runtime
	// promotions tracks promotion goroutines of every watcher of the app.
	promotions *sync.WaitGroup
	hooks      Notifier
	url        string // the daemon's external URL
	source     string // the host name, for events
	// role says whether this daemon acts for the pair now (acting.Single
	// alone; acting.HA with a lease shared with another daemon).
	role acting.Role
}

// Config is what a Watcher is made of.
type Config struct {
	Pair    *config.Pair
	Prober  Cycler // nil: the watcher takes no observations (drwatch promote)
	Exec    promote.Executor
	Journal *journal.Journal
	Metrics *metrics.Metrics
	Log     *zap.Logger
	Runtime *Runtime
	// Promotions, if set, counts running promotions (shutdown waits).
	Promotions *sync.WaitGroup
	Now        func() time.Time // default time.Now
	// Hooks gets the pair's events (nil: none are delivered).
	Hooks Notifier
	// URL is the daemon's external URL (config.Config.URL), for the
	// links and commands in events.
	URL string
	// Role is this daemon's part in acting for the pair (nil:
	// acting.Single, it acts alone).
	Role acting.Role
}

// New makes the watcher of a pair.
func New(c Config) *Watcher {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Promotions == nil {
		c.Promotions = &sync.WaitGroup{}
	}
	if c.Role == nil {
		c.Role = acting.Single{}
	}
	host, _ := os.Hostname()
	w := &Watcher{
		pair: c.Pair, prober: c.Prober, exec: c.Exec, journal: c.Journal, metrics: c.Metrics, log: c.Log,
		interval: c.Pair.Resolved.ProbeInterval.D(), now: c.Now, rt: c.Runtime, promotions: c.Promotions,
		hooks: c.Hooks, url: c.URL, source: host, role: c.Role,
	}
	// The record starts with the state and the policy this watcher
	// decides with (a reload makes a new watcher: a new policy).
	w.rt.mu.Lock()
	w.recordLocked(record.Started(w.now(), w.rt.rec.State, w.pair.Resolved, w.rt.restarted, record.WhyWatcher))
	w.rt.restarted = false
	w.rt.mu.Unlock()
	return w
}

// Runtime is a pair's live state: its journal record, latest observation,
// lock and wake-up channel. It outlives watchers (a reload replaces the
// watcher, not this), so API commands that race a reload still serialise
// with the watcher that follows.
type Runtime struct {
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
	// cycles counts the observations folded in (tests wait on it).
	cycles int
	// promotionBy is who started the promotion the last decision to
	// promote asked for (policy.Decision.By), until its record is made.
	promotionBy string
	// recorder keeps the decision core's inputs (nil: none are kept).
	recorder *record.Recorder
	// unassigned is how many indices the last promotion left standalone
	// without an active primary (not writable yet): promotion_succeeded
	// says so.
	unassigned int
	// restarted: the record came from the journal and policy.Restarted
	// adjusted it; the first watcher's start line says so.
	restarted bool
	// running is set while this daemon's executor runs a promotion:
	// runCopy is then the copy of it that others read (the executor
	// changes the promotion without the pair's lock; it is copied after
	// each step is journaled: StepsJournaled).
	running bool
	runCopy *promote.Promotion
}

// CloseRecorder closes the pair's record file (at shutdown).
func (rt *Runtime) CloseRecorder() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	_ = rt.recorder.Close()
}

// SetRecorder makes r keep the pair's decision inputs (drwatch replay);
// set it before the pair's first watcher is made.
func (rt *Runtime) SetRecorder(r *record.Recorder) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.recorder = r
}

// Load reads a pair's journal record, or starts a new one (saved at once:
// a state_dir that cannot be written is found before anything runs). A
// record from before a restart is adjusted by policy.Restarted. A record
// that cannot be read is an error: drwatch never starts fresh over it.
func Load(j *journal.Journal, pair string, now time.Time) (*Runtime, error) {
	r, err := j.Load(pair)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &journal.Record{Pair: pair, State: policy.Initial(now)}
		if err := j.Save(r); err != nil {
			return nil, err
		}
		return NewRuntime(r), nil
	}
	r.State = policy.Restarted(r.State)
	rt := NewRuntime(r)
	rt.restarted = true
	return rt, nil
}

// NewRuntime is the live state of a pair starting from record r.
func NewRuntime(r *journal.Record) *Runtime {
	return &Runtime{rec: r, kick: make(chan struct{}, 1)}
}

// State is the pair's current decision state.
func (rt *Runtime) State() policy.State {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return rt.rec.State
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
func (w *Watcher) Start(ctx context.Context) error {
	if w.pair.Aiven != nil {
		w.metrics.InitAiven(w.pair.Name)
	} else {
		w.metrics.ForgetAiven(w.pair.Name) // a reload took its aiven block away
	}
	w.rt.mu.RLock()
	w.metrics.SetState(w.pair.Name, w.rt.rec.State.Phase.String(), phaseNames)
	resume := w.rt.rec.State.Phase == policy.Promoting
	w.rt.mu.RUnlock()
	go w.role.Run(ctx, rolePair{w})
	if _, err := w.role.Acting(); err == nil && resume {
		// At once, not after the first cycle's probe. (A daemon that
		// does not act yet resumes it at the first cycle in which it
		// does; a reload is refused while a pair promotes, and
		// startPromotion never starts a second one.)
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

func (w *Watcher) tick(ctx context.Context) {
	obs := w.prober.Cycle(ctx)
	if ctx.Err() != nil {
		return // shutting down: a canceled cycle is not an observation
	}
	if !w.role.Begin(ctx, rolePair{w}) {
		w.observeOnly(obs) // the daemon acting for the pair decides
		w.role.Follow(ctx, rolePair{w})
		return
	}
	defer func() { _ = w.role.Publish(ctx, rolePair{w}) }()
	w.rt.mu.Lock()
	prev := w.rt.last
	w.rt.last = &obs
	w.rt.cycles++
	now := w.now()
	w.recordLocked(record.Observed(now, obs))
	d := policy.Decide(w.rt.rec.State, obs, w.pair.Resolved, now)
	err := w.applyLocked(d, "", now)
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
	// The phase, not only this decision: a promotion whose start could not
	// be journaled is still promoting, and is tried again here once its
	// retry time has passed. (An outcome that could not be journaled is
	// kept in memory and saved by a later write; it is not run again.)
	w.rt.mu.RLock()
	wait := w.now().Before(w.rt.retryAt)
	w.rt.mu.RUnlock()
	if d.Promote || (d.State.Phase == policy.Promoting && !wait) {
		w.startPromotion(ctx)
	}
}

// logChanges logs what changed in the observations, so the log tells the
// story without one line per probe.
func (w *Watcher) logChanges(prev *observe.Observation, cur observe.Observation) {
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
	if wv := cur.Follower.Witness.Verdict; wv != "" && (first || prev.Follower.Witness.Verdict != wv) {
		fields := []zap.Field{zap.String("verdict", string(wv)), zap.String("witness", cur.Follower.Witness.Text())}
		if wv == observe.WitnessReached {
			w.log.Info("follower reaches the leader", fields...)
		} else {
			w.log.Warn("follower does not reach the leader", fields...)
		}
	}
	w.logAiven(prev, cur)
	rep := cur.Follower.Replication
	if rep.Failure != nil && (first || prev.Follower.Replication.Failure == nil) {
		w.log.Warn("replication state unreadable", failureFields(rep.Failure)...)
	}
	if rep.Failure == nil && (first || prev.Follower.Replication.Failure != nil || prev.Follower.Replication.Stopped != rep.Stopped) {
		w.log.Info("replication state", zap.Int("syncing", rep.Syncing), zap.Int("not_syncing", rep.Stopped),
			zap.Int64("max_lag_operations", rep.MaxLag), zap.Bool("lag_complete", rep.LagComplete))
	}
}

// logAiven logs what changed in an Aiven pair's reading: the API failing
// or answering again, a service's state, the CCR integration's status.
func (w *Watcher) logAiven(prev *observe.Observation, cur observe.Observation) {
	a := cur.Aiven
	if a == nil {
		return
	}
	var pa *observe.Aiven
	if prev != nil {
		pa = prev.Aiven
	}
	if a.Failure != nil {
		if pa == nil || pa.Failure == nil {
			w.log.Warn("Aiven API reading failed; its view is not used", failureFields(a.Failure)...)
		}
		return
	}
	if pa == nil || pa.Failure != nil || aivenSummary(pa) != aivenSummary(a) {
		w.log.Info("Aiven API reading", zap.String("summary", aivenSummary(a)))
	}
}

// aivenSummary is a reading's states in a few words (no node names: a
// node recycle renames them as it goes).
func aivenSummary(a *observe.Aiven) string {
	s := ""
	for _, svc := range []*observe.AivenService{a.Leader, a.Follower} {
		if svc != nil {
			s += fmt.Sprintf("%s %s %d/%d; ", svc.Name, svc.State, svc.NodesRunning, svc.NodesTotal)
		}
	}
	switch in := a.Integration; {
	case in == nil:
	case !in.Found:
		s += "no CCR integration"
	default:
		s += fmt.Sprintf("CCR integration %s active=%v", in.Status, in.Active)
	}
	return s
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
