package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/probe"
)

// Clock is the time the scheduler runs on (a fake one in tests).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Pair is what the runner needs of a pair at run time: its watcher.
type Pair interface {
	Target
	// NotifyDrill tells the hooks a drill's outcome.
	NotifyDrill(event policy.Event, summary string, reasons []string)
	// Standby says why this daemon does not run the pair's drills (ha:
	// the lease holder does); "" when it does.
	Standby() string
}

// Runner runs drills: on their cron schedules (with random jitter) and on
// demand. It never runs two drills of one pair at once, and never a drill
// while its pair is not healthy (an incident, a pause, a promotion): such
// a run is skipped, reported and counted with the reason.
type Runner struct {
	// Pair finds a pair's config and watcher by name (the current config's).
	Pair    func(name string) (*config.Pair, Pair, bool)
	Store   *Store
	Metrics *metrics.Metrics
	Log     *zap.Logger
	Clock   Clock
	// MaxJitter delays each scheduled run by a random time up to it, so
	// that many daemons' drills do not hit clusters at the same second
	// (default 1 minute; negative: none).
	MaxJitter time.Duration
	// Exec runs a drill (default: Execute); tests replace it.
	Exec func(ctx context.Context, d config.Drill, p *config.Pair, h Pair, r *Report, resume *Report)

	mu      sync.Mutex
	ctx     context.Context
	list    []config.Drill
	hooks   []config.Hook     // the config's, for the readiness check of hooks
	haIndex string            // the HA lease index, "" without HA (readiness checks its permissions)
	busy    map[string]string // pair -> drill running on it
	stop    context.CancelFunc
	loops   sync.WaitGroup
	runs    sync.WaitGroup
}

func (r *Runner) clock() Clock {
	if r.Clock == nil {
		return realClock{}
	}
	return r.Clock
}

// Start sets the context drills run in: canceled at shutdown (a failover
// drill cut short leaves its report, and the next start finishes it).
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctx = ctx
}

func (r *Runner) runCtx() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// Schedule (re)starts the schedule loops for drills; the previous loops
// stop (a drill already running goes on). Call it again on reload.
func (r *Runner) Schedule(drills []config.Drill) {
	ctx := r.runCtx()
	r.mu.Lock()
	if r.stop != nil {
		r.stop()
	}
	lctx, cancel := context.WithCancel(ctx)
	r.stop = cancel
	r.list = drills
	r.mu.Unlock()
	r.loops.Wait()
	for _, d := range drills {
		if r.Metrics != nil {
			r.Metrics.InitDrill(d.Name)
			if last, err := r.Store.LastSuccess(d.Name); err == nil && last != nil {
				r.Metrics.DrillLastSuccess.WithLabelValues(d.Name).Set(float64(last.Finished.UnixNano()) / 1e9)
			}
		}
		r.loops.Go(func() { r.loop(lctx, d) })
	}
}

// Close stops the schedule loops and waits for running drills (their
// context, Start's, ends with the daemon).
func (r *Runner) Close() {
	r.mu.Lock()
	if r.stop != nil {
		r.stop()
	}
	r.mu.Unlock()
	r.loops.Wait()
	r.runs.Wait()
}

func (r *Runner) loop(ctx context.Context, d config.Drill) {
	c := r.clock()
	for {
		now := c.Now()
		next := d.Schedule.Sched.Next(now)
		if next.IsZero() {
			return
		}
		wait := next.Sub(now) + r.jitter()
		r.log().Debug("next drill", zap.String("drill", d.Name), zap.Time("at", now.Add(wait)))
		select {
		case <-ctx.Done():
			return
		case <-c.After(wait):
		}
		// Scheduled runs go on their own: a long failover drill does not
		// hold the schedule (an overlapping trigger is skipped and counted),
		// and a reload that stops this loop does not stop the run.
		if _, err := r.Trigger(d.Name, "schedule"); err != nil {
			r.log().Error("scheduled drill not run", zap.String("drill", d.Name), zap.Error(err))
		}
	}
}

func (r *Runner) jitter() time.Duration {
	j := r.MaxJitter
	if j == 0 {
		j = time.Minute
	}
	if j < 0 {
		return 0
	}
	return rand.N(j)
}

func (r *Runner) log() *zap.Logger {
	if r.Log == nil {
		return zap.NewNop()
	}
	return r.Log
}

// ErrUnknownDrill: no drill of that name in the config.
var ErrUnknownDrill = errors.New("unknown drill")

// Run runs drill name now (by: "schedule" or who asked) and returns its
// report, saved in the store: passed, failed, or skipped with the reason.
func (r *Runner) Run(ctx context.Context, name, by string) (*Report, error) {
	d, p, h, err := r.find(name)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, d, p, h, r.newReport(d, by)), nil
}

// Trigger starts drill name on its own goroutine, in Start's context, and
// returns its report's id (the store has it once it starts).
func (r *Runner) Trigger(name, by string) (string, error) {
	d, p, h, err := r.find(name)
	if err != nil {
		return "", err
	}
	rep := r.newReport(d, by)
	id := rep.ID
	ctx := r.runCtx()
	r.runs.Go(func() { r.run(ctx, d, p, h, rep) })
	return id, nil
}

func (r *Runner) newReport(d config.Drill, by string) *Report {
	rep := &Report{Drill: d.Name, Pair: d.Pair, Type: d.Type, By: by, Started: r.clock().Now(), Result: ResultRunning}
	rep.ID = NewID(rep.Started)
	return rep
}

func (r *Runner) run(ctx context.Context, d config.Drill, p *config.Pair, h Pair, rep *Report) *Report {
	if why := h.Standby(); why != "" {
		return r.finish(rep, h, ResultSkipped, why)
	}
	r.mu.Lock()
	if r.busy == nil {
		r.busy = map[string]string{}
	}
	other, busy := r.busy[d.Pair]
	if !busy {
		r.busy[d.Pair] = d.Name
	}
	r.mu.Unlock()
	if busy {
		return r.finish(rep, h, ResultSkipped, fmt.Sprintf("drill %s of pair %s is running", other, d.Pair))
	}

	defer func() {
		r.mu.Lock()
		delete(r.busy, d.Pair)
		r.mu.Unlock()
	}()

	// A failover drill that stopped half-way owns its pair: running it
	// again finishes its restore. Any other state that is not healthy
	// skips the drill.
	st := h.State()
	if st.Drill != "" && st.Phase == policy.Promoting {
		// The drill's promotion resumes from the journal (after a
		// restart): its restore waits for it to end.
		st = r.waitPromotion(ctx, h)
	}
	var resume *Report
	switch {
	case st.Drill != "" && st.Phase == policy.Promoting:
		return r.finish(rep, h, ResultFailed, fmt.Sprintf("the promotion of failover drill %s is still running after %s: run the drill again once it ends", st.Drill, MaxPromotionWait))
	case st.Drill != "" && d.Type == TypeFailover && st.Drill.Name() == d.Name && st.Drill.Report() != "":
		prev, err := r.Store.Load(d.Name, st.Drill.Report())
		if err != nil || prev.Failover == nil {
			return r.finish(rep, h, ResultFailed, fmt.Sprintf("the pair is still owned by failover drill %s, whose report cannot be read (%v): finish its restore by hand", st.Drill, err))
		}
		resume = prev
	case st.Drill != "":
		return r.finish(rep, h, ResultSkipped, fmt.Sprintf("failover drill %s has not finished its restore on pair %s", st.Drill, d.Pair))
	case st.Phase != policy.Healthy:
		why := st.Phase.String()
		if len(st.Reasons) > 0 {
			why += ": " + st.Reasons[len(st.Reasons)-1]
		}
		return r.finish(rep, h, ResultSkipped, fmt.Sprintf("pair %s is %s", d.Pair, why))
	}

	if err := r.Store.Save(rep); err != nil { // before anything is changed
		return r.finish(rep, h, ResultFailed, "its report cannot be saved, so it does not run: "+err.Error())
	}
	r.log().Info("drill started", zap.String("drill", d.Name), zap.String("pair", d.Pair), zap.String("type", d.Type), zap.String("by", rep.By), zap.String("id", rep.ID))
	exec := r.Exec
	if exec == nil {
		exec = r.Execute
	}
	exec(ctx, d, p, h, rep, resume) // sets Result; saved meanwhile as running
	result := rep.Result
	if result == "" || result == ResultRunning {
		result = ResultFailed
		rep.Reason = "the drill did not say how it ended"
	}
	return r.finish(rep, h, result, rep.Reason)
}

// waitPromotion waits (at most MaxPromotionWait) until the pair is no
// longer promoting, and returns its state.
func (r *Runner) waitPromotion(ctx context.Context, h Pair) policy.State {
	c := r.clock()
	deadline := c.Now().Add(MaxPromotionWait)
	for {
		st := h.State()
		if st.Phase != policy.Promoting || !c.Now().Before(deadline) {
			return st
		}
		select {
		case <-ctx.Done():
			return st
		case <-c.After(time.Second):
		}
	}
}

// MaxPromotionWait bounds how long a drill waits for its pair's promotion
// to end before it finishes the restore.
const MaxPromotionWait = 15 * time.Minute

func (r *Runner) find(name string) (config.Drill, *config.Pair, Pair, error) {
	for _, d := range r.drills() {
		if d.Name != name {
			continue
		}
		p, h, ok := r.Pair(d.Pair)
		if !ok {
			return d, nil, nil, fmt.Errorf("drill %s: pair %s is not watched", name, d.Pair)
		}
		return d, p, h, nil
	}
	return config.Drill{}, nil, nil, fmt.Errorf("%w %q", ErrUnknownDrill, name)
}

// SetHooks sets the hooks config the readiness drill checks.
func (r *Runner) SetHooks(h []config.Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = h
}

// SetDrills sets the drills Run knows without scheduling them (drwatch
// drill).
func (r *Runner) SetDrills(drills []config.Drill) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = drills
}

// SetHA tells the readiness drills the HA lease index, whose permissions
// they check ("" without HA).
func (r *Runner) SetHA(ha config.HA) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.haIndex = ""
	if ha.Enabled {
		r.haIndex = ha.LeaseIndex
	}
}

func (r *Runner) haLeaseIndex() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.haIndex
}

func (r *Runner) hookConfig() []config.Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hooks
}

// Drills is the current config's drills.
func (r *Runner) Drills() []config.Drill { return r.drills() }

func (r *Runner) drills() []config.Drill {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list
}

// finish closes a report: its result, duration and score; saves it,
// counts it, logs it and tells the hooks.
func (r *Runner) finish(rep *Report, h Pair, result, reason string) *Report {
	c := r.clock()
	rep.Result, rep.Reason = result, reason
	rep.Finished = c.Now()
	rep.Duration = rep.Finished.Sub(rep.Started).Seconds()
	if len(rep.Checks) > 0 {
		rep.Score = Score(rep.Checks)
	}
	log := r.log().With(zap.String("drill", rep.Drill), zap.String("pair", rep.Pair), zap.String("id", rep.ID), zap.String("result", result))
	if err := r.Store.Save(rep); err != nil {
		log.Error("drill report not saved", zap.Error(err))
	}
	if m := r.Metrics; m != nil {
		m.DrillRuns.WithLabelValues(rep.Drill, result).Inc()
		if result != ResultSkipped {
			m.DrillDuration.WithLabelValues(rep.Drill).Set(rep.Duration)
		}
		if result == ResultPassed {
			m.DrillLastSuccess.WithLabelValues(rep.Drill).Set(float64(rep.Finished.UnixNano()) / 1e9)
		}
		if rep.Type == TypeReadiness && len(rep.Checks) > 0 {
			m.ReadinessScore.WithLabelValues(rep.Pair).Set(rep.Score)
		}
	}
	switch result {
	case ResultSkipped:
		log.Warn("drill skipped", zap.String("reason", reason))
		return rep
	case ResultPassed:
		log.Info("drill passed", zap.Duration("took", time.Duration(rep.Duration*float64(time.Second))))
	default:
		log.Error("drill failed", zap.String("reason", reason))
	}
	if h != nil {
		ev, sum := policy.EvDrillSucceeded, fmt.Sprintf("drill %s passed", rep.Drill)
		if result != ResultPassed {
			ev, sum = policy.EvDrillFailed, fmt.Sprintf("drill %s failed: %s", rep.Drill, reason)
		}
		h.NotifyDrill(ev, sum, reportReasons(rep))
	}
	return rep
}

// reportReasons are a report's findings in a few lines, for a page.
func reportReasons(rep *Report) []string {
	out := []string{fmt.Sprintf("%s drill %s (report %s)", rep.Type, rep.Drill, rep.ID)}
	if rep.Reason != "" {
		out = append(out, rep.Reason)
	}
	for _, c := range rep.Checks {
		if c.Result == Fail {
			line := c.Title + ": " + c.Detail
			if len(c.Items) > 0 {
				line += " (" + strings.Join(c.Items, "; ") + ")"
			}
			out = append(out, line)
		}
	}
	if f := rep.Failover; f != nil && len(f.Finish) > 0 {
		out = append(out, "the restore stopped half-way: drwatch drill show "+rep.Drill+" "+rep.ID+" lists where things are and how to finish")
	}
	return out
}

// Execute runs a drill of its type against the real clusters.
func (r *Runner) Execute(ctx context.Context, d config.Drill, p *config.Pair, h Pair, rep *Report, resume *Report) {
	ua := "drwatch/" + buildinfo.Version
	pr, err := probe.New(p)
	if err != nil {
		rep.Result, rep.Reason = ResultFailed, err.Error()
		return
	}
	switch d.Type {
	case TypeReadiness:
		leader, lerr := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua, Side: "leader"})
		follower, ferr := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua, Side: "follower"})
		if err := errors.Join(lerr, ferr); err != nil {
			rep.Result, rep.Reason = ResultFailed, err.Error()
			return
		}
		rep.Checks = Readiness(ctx, ReadinessInput{
			Pair: p, Hooks: r.hookConfig(), Leader: leader, Follower: follower, Observe: pr.Cycle,
			StopTimes: r.stopTimes(p.Name), Now: r.clock().Now, HAIndex: r.haLeaseIndex(),
		})
		rep.Result = ResultPassed
		if AnyFailed(rep.Checks) {
			var names []string
			for _, c := range rep.Checks {
				if c.Result == Fail {
					names = append(names, c.Title)
				}
			}
			rep.Result, rep.Reason = ResultFailed, "failed checks: "+strings.Join(names, ", ")
		}
	case TypeFailover:
		if p.Aiven != nil {
			rep.Result, rep.Reason = ResultFailed, "pair "+p.Name+" is an Aiven pair: a failover drill is not run on Aiven by this version (restoring replication needs a new Aiven integration, which drwatch makes only by hand: drwatch aiven follow); nothing was changed"
			return
		}
		leader, lerr := opensearch.New(p.Leader, opensearch.Options{UserAgent: ua, Retry: true, Side: "leader"})
		follower, ferr := opensearch.New(p.Follower, opensearch.Options{UserAgent: ua, Retry: true, Side: "follower"})
		if err := errors.Join(lerr, ferr); err != nil {
			rep.Result, rep.Reason = ResultFailed, err.Error()
			return
		}
		RunFailover(ctx, FailoverInput{
			Pair: p, Target: h, Leader: leader, Follower: follower, Observe: pr.Cycle,
			Save: r.Store.Save, Now: r.clock().Now,
		}, rep, resume)
	default:
		rep.Result, rep.Reason = ResultFailed, "unknown drill type "+d.Type
	}
}

// stopTimes are what the pair's failover drills measured, per batch of
// promote_concurrency indices: each drill's time from its promotion's
// start to every index writable (block, catch-up, stop, verify), divided
// by its number of batches; newest last. A graceful promotion's catch-up
// is in it, so it errs long.
func (r *Runner) stopTimes(pair string) []time.Duration {
	conc := 1
	if p, _, ok := r.Pair(pair); ok && p.Resolved != nil && p.Resolved.PromoteConcurrency > 0 {
		conc = p.Resolved.PromoteConcurrency
	}
	var out []time.Duration
	for _, d := range r.drills() {
		if d.Pair != pair || d.Type != TypeFailover {
			continue
		}
		ids, _ := r.Store.IDs(d.Name)
		for _, id := range ids {
			rep, err := r.Store.Load(d.Name, id)
			// Only a drill that promoted itself (not one that finished
			// another's restore, which carries its measurement over).
			if err != nil || rep.Failover == nil || rep.Failover.WritableAfter <= 0 || hasDone(rep.Failover, "resume") {
				continue
			}
			if n := len(rep.Failover.Before.all()); n > 0 {
				batches := (n + conc - 1) / conc
				out = append(out, time.Duration(rep.Failover.WritableAfter/float64(batches)*float64(time.Second)))
			}
		}
	}
	return out
}
