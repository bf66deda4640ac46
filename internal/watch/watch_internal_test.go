package watch

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

type staticProber struct{ obs observe.Observation }

func (s staticProber) Cycle(context.Context) observe.Observation {
	o := s.obs
	o.Time = time.Now()
	o.Leader = observe.Leader{Reachable: true, Health: "green"}
	return o
}

// hookExecutor runs a hook on each Run and reports success.
type hookExecutor struct {
	runs int
	hook func(run int)
	res  *promote.Result // nil: orders-1 promoted
}

func (h *hookExecutor) Run(context.Context, *promote.Promotion) (promote.Result, error) {
	h.runs++
	h.hook(h.runs)
	if h.res != nil {
		return *h.res, nil
	}
	return promote.Result{Promoted: []string{"orders-1"}, Detail: "1 of 1 indices writable"}, nil
}

func (h *hookExecutor) FenceOldLeader(context.Context, *promote.Promotion) (string, error) {
	return "", errors.New("not in this test")
}

// slowExecutor's promotion runs until released.
type slowExecutor struct {
	release chan struct{}
	runs    atomic.Int32
}

func (e *slowExecutor) Run(context.Context, *promote.Promotion) (promote.Result, error) {
	e.runs.Add(1)
	<-e.release
	return promote.Result{Promoted: []string{"orders-1"}, Detail: "1 of 1 indices writable"}, nil
}

func (e *slowExecutor) FenceOldLeader(context.Context, *promote.Promotion) (string, error) {
	return "", errors.New("not in this test")
}

// A promotion runs on a goroutine of its own: stopping the watcher (as a
// reload does) never waits for it, the next watcher does not start a
// second one, and the outcome is recorded into the pair's state, which
// outlives watchers.
func TestWatcherStopNeverWaitsOnAPromotion(t *testing.T) {
	j, rec := promotingRecord(t)
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	ex := &slowExecutor{release: make(chan struct{})}
	rt := NewRuntime(rec)
	var promotions sync.WaitGroup
	watch := func() (stop func()) {
		w := &Watcher{pair: &config.Pair{Name: "orders", Resolved: config.DefaultPolicy()}, prober: staticProber{}, exec: ex, journal: j,
			metrics: metrics.New(), log: zap.NewNop(), interval: 10 * time.Millisecond, now: time.Now, rt: rt, promotions: &promotions, role: acting.Single{}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Start(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := watch()
	for ex.runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stopping the watcher waited for the promotion")
	}
	stop = watch() // the reloaded watcher: resumes nothing while it runs
	waitCycles(t, rt, 5)
	if n := ex.runs.Load(); n != 1 {
		t.Fatalf("%d promotions running at once", n)
	}
	close(ex.release)
	promotions.Wait()
	stop()
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	if rt.rec.State.Phase != policy.Promoted || ex.runs.Load() != 1 {
		t.Fatalf("phase %s after %d runs", rt.rec.State.Phase, ex.runs.Load())
	}
}

// A promotion whose outcome cannot be journaled: the truth (promoted) is
// kept in memory and shown, the journal problem too, and every later cycle
// tries the journal again until the outcome is saved - the promotion is
// not run again.
func TestPromotionOutcomeJournalFailureIsRetried(t *testing.T) {
	dir, j := openJournal(t)
	pol := config.DefaultPolicy()
	pair := &config.Pair{Name: "orders", Resolved: pol}
	rec := &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Promoting, Since: time.Now()}}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	moved := dir + ".away"
	ex := &hookExecutor{hook: func(run int) {
		if run == 1 { // the disk goes away under the first attempt
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
		}
	}}
	m := metrics.New()
	w := &Watcher{pair: pair, prober: staticProber{}, exec: ex, journal: j, metrics: m, log: zap.NewNop(),
		interval: time.Hour, now: time.Now, rt: NewRuntime(rec), promotions: &sync.WaitGroup{}, role: acting.Single{}}

	_, _ = w.Promote(context.Background(), false) // succeeds, but its outcome cannot be saved
	if w.rt.rec.State.Phase != policy.Promoted {
		t.Fatalf("phase %s in memory, want promoted (the truth)", w.rt.rec.State.Phase)
	}
	if testutil.ToFloat64(m.JournalErrors) < 1 || testutil.ToFloat64(m.Events.WithLabelValues("orders", policy.EvJournalUnwritable.String())) != 1 {
		t.Fatal("journal error or journal_unwritable not counted")
	}
	if p := w.Status().Problems; len(p) == 0 || !strings.HasPrefix(p[0], "journal unwritable") {
		t.Fatalf("problems %q", p)
	}
	w.tick(context.Background()) // still unwritable: tried again, no new run
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	w.tick(context.Background()) // writable again: saved
	w.promotions.Wait()
	if ex.runs != 1 || w.rt.journalErr != nil {
		t.Fatalf("runs %d, journal error %v; want 1 run, saved", ex.runs, w.rt.journalErr)
	}
	saved, err := journal.Read(dir, "orders")
	if err != nil || saved.State.Phase != policy.Promoted {
		t.Fatalf("journal = %+v, %v", saved, err)
	}
	if testutil.ToFloat64(m.Events.WithLabelValues("orders", policy.EvJournalUnwritable.String())) != 1 {
		t.Fatal("journal_unwritable counted more than once for one outage")
	}
}

// downProber is a leader that died: drwatch's probes fail and the
// follower has lost it too.
type downProber struct{}

func (downProber) Cycle(context.Context) observe.Observation {
	o := observe.Observation{Pair: "orders", Time: time.Now()}
	o.Leader.Failure = &observe.Failure{Class: "connection_refused", Message: "connection refused"}
	o.Follower = observe.Follower{Reachable: true, Remote: observe.Remote{Alias: "leader", Known: true}}
	return o
}

// With the journal unwritable during an outage, the state is tracked in
// memory - status and metrics show the outage and the journal problem, not
// a stale "healthy" - and no promotion starts until it can be journaled.
func TestUnwritableJournalTracksInMemoryAndNeverPromotes(t *testing.T) {
	dir, j := openJournal(t)
	pol := config.DefaultPolicy()
	mode, maxLag, witness := config.ModeAuto, int64(1000), false
	pol.Mode, pol.MaxLagOperations, pol.RequireFollowerWitness = mode, &maxLag, &witness
	pol.LeaderDownAfter, pol.MinFailedProbes = config.Duration(time.Millisecond), 1
	start := time.Now()
	rec := &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Healthy, Since: start,
		Tracking: policy.Tracking{LastGoodLag: &policy.LagReading{Indices: 1, At: start, RateKnown: true}}}}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	ex := &hookExecutor{hook: func(int) {}}
	m := metrics.New()
	w := &Watcher{pair: &config.Pair{Name: "orders", Resolved: pol}, prober: downProber{}, exec: ex, journal: j, metrics: m,
		log: zap.NewNop(), interval: time.Hour, now: time.Now, rt: NewRuntime(rec), promotions: &sync.WaitGroup{}, role: acting.Single{}}
	moved := dir + ".away"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	w.tick(context.Background()) // suspect: tracked in memory
	time.Sleep(2 * time.Millisecond)
	for range 3 {
		w.tick(context.Background()) // the decision is to promote: refused
	}
	w.promotions.Wait()
	if ex.runs != 0 || w.rt.rec.State.Phase == policy.Promoting {
		t.Fatalf("promoted with an unwritable journal: %d runs, phase %s", ex.runs, w.rt.rec.State.Phase)
	}
	st := w.Status()
	if st.Decision.State != string(policy.Suspect) || !strings.HasPrefix(st.Problems[0], "journal unwritable") ||
		!slices.Contains(st.Decision.Reasons, "the decision is to promote now, but the journal is unwritable: no promotion starts until it can be journaled") {
		t.Fatalf("status: %+v", st)
	}
	if testutil.ToFloat64(m.PairState.WithLabelValues("orders", "suspect")) != 1 {
		t.Fatal("drwatch_pair_state does not show the outage")
	}
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	w.tick(context.Background()) // writable again: journaled, and promoting
	w.promotions.Wait()
	if ex.runs != 1 || w.rt.rec.State.Phase != policy.Promoted || w.rt.journalErr != nil {
		t.Fatalf("after the journal came back: %d runs, phase %s, %v", ex.runs, w.rt.rec.State.Phase, w.rt.journalErr)
	}
}

// openJournal opens a journal in a directory of its own, closed at the
// end of the test.
func openJournal(t *testing.T) (string, *journal.Journal) {
	t.Helper()
	dir := t.TempDir()
	j, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return dir, j
}

// promotingRecord is an open journal, and a record of pair orders that is
// promoting, with no promotion record yet.
func promotingRecord(t *testing.T) (*journal.Journal, *journal.Record) {
	t.Helper()
	_, j := openJournal(t)
	return j, &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Promoting, Since: time.Now()}}
}

// waitCycles waits until the pair's watcher has folded n more
// observations in: proof that something did not happen is that it did
// not happen in n probe cycles, not in some sleep.
func waitCycles(t *testing.T, rt *Runtime, n int) {
	t.Helper()
	rt.mu.RLock()
	want := rt.cycles + n
	rt.mu.RUnlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt.mu.RLock()
		got := rt.cycles
		rt.mu.RUnlock()
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d probe cycles in 10s", got-want+n, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Pausing a paused pair again changes only the pause's expiry: it is
// journaled all the same, so a restart keeps the pause the human asked
// for last.
func TestRepauseIsJournaled(t *testing.T) {
	dir, j := openJournal(t)
	rt, err := Load(j, "orders", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now().Round(0)
	w := New(Config{Pair: &config.Pair{Name: "orders", Resolved: config.DefaultPolicy()}, Prober: staticProber{},
		Exec: &hookExecutor{hook: func(int) {}}, Journal: j, Metrics: metrics.New(), Log: zap.NewNop(), Runtime: rt,
		Now: func() time.Time { return clock }})
	pause := func(until time.Time) {
		t.Helper()
		if _, err := w.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "maintenance", For: until.Sub(clock)}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := clock.Add(time.Hour), clock.Add(3*time.Hour)
	pause(first)
	clock = clock.Add(30 * time.Minute)
	pause(second)
	saved, err := journal.Read(dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if saved.State.Phase != policy.Paused || !saved.State.PausedUntil.Equal(second) {
		t.Fatalf("journaled %s until %s, want paused until %s", saved.State.Phase, saved.State.PausedUntil, second)
	}
	if n := len(saved.History); n != 2 {
		t.Fatalf("%d history entries, want one per command", n)
	}
	if at := saved.History[1].At; !at.Equal(clock) {
		t.Fatalf("the second pause is recorded at %s, want when it was asked (%s)", at, clock)
	}
}

// ctxExecutor reports whether the context it ran under was canceled.
type ctxExecutor struct{ err chan error }

func (e *ctxExecutor) Run(ctx context.Context, _ *promote.Promotion) (promote.Result, error) {
	e.err <- ctx.Err()
	return promote.Result{}, errors.New("stopped")
}

func (e *ctxExecutor) FenceOldLeader(context.Context, *promote.Promotion) (string, error) {
	return "", errors.New("not in this test")
}

// A human's Ctrl-C stops `drwatch promote` (Promote runs under the
// caller's context); the daemon's promotions are not canceled by a reload
// or a shutdown (startPromotion detaches them: every step is bounded).
func TestPromotionCancellation(t *testing.T) {
	j, rec := promotingRecord(t)
	ex := &ctxExecutor{err: make(chan error, 2)}
	w := New(Config{Pair: &config.Pair{Name: "orders", Resolved: config.DefaultPolicy()}, Exec: ex, Journal: j,
		Metrics: metrics.New(), Log: zap.NewNop(), Runtime: NewRuntime(rec)})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Promote(canceled, false); err == nil {
		t.Fatal("the executor's failure was not reported")
	}
	if got := <-ex.err; !errors.Is(got, context.Canceled) {
		t.Fatalf("by hand: the executor ran under %v, want the caller's canceled context", got)
	}
	// The failed attempt is retried by the daemon: promoting again.
	w.rt.mu.Lock()
	w.rt.rec.State.Phase = policy.Promoting
	w.rt.mu.Unlock()
	w.startPromotion(canceled)
	w.promotions.Wait()
	if got := <-ex.err; got != nil {
		t.Fatalf("daemon: the executor ran under a canceled context (%v)", got)
	}
}
