package drill

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/robfig/cron/v3"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// fakeClock moves only when told to; After's channels fire as it passes
// their time.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.t.Add(d), ch})
	return ch
}

// next is the earliest time a waiter waits for (zero: none waits).
func (c *fakeClock) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n time.Time
	for _, w := range c.waiters {
		if n.IsZero() || w.at.Before(n) {
			n = w.at
		}
	}
	return n
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// waitNext waits (in real time) until the schedule loop waits on the
// clock, and returns when it waits for.
func (c *fakeClock) waitNext(t *testing.T) time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n := c.next(); !n.IsZero() {
			return n
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the schedule loop never waited on the clock")
	return time.Time{}
}

// fakePair is a pair's watcher as the runner sees it.
type fakePair struct {
	mu      sync.Mutex
	st      policy.State
	events  []string
	standby string
}

func (p *fakePair) State() policy.State { p.mu.Lock(); defer p.mu.Unlock(); return p.st }
func (p *fakePair) DrillPromote(context.Context, policy.DrillID, string) (promote.Result, error) {
	panic("not called by these tests")
}
func (p *fakePair) DrillEnd(policy.DrillID, string, string) error { panic("not called by these tests") }
func (p *fakePair) Promotion() *promote.Promotion                 { return nil }
func (p *fakePair) Acting(context.Context) error                  { return nil }
func (p *fakePair) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}
func (p *fakePair) Standby() string { return p.standby }
func (p *fakePair) NotifyDrill(event policy.Event, summary string, _ []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, event.String()+": "+summary)
}

func schedule(t *testing.T, spec string) config.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return config.Schedule{Spec: spec, Sched: s}
}

type harness struct {
	r       *Runner
	clk     *fakeClock
	pair    *fakePair
	m       *metrics.Metrics
	started chan *Report
	release chan struct{}
}

func newHarness(t *testing.T, jitter time.Duration, drills ...config.Drill) *harness {
	t.Helper()
	h := &harness{
		clk:     &fakeClock{t: time.Date(2026, 3, 2, 2, 58, 0, 0, time.UTC)}, // a Monday
		pair:    &fakePair{st: policy.Initial(time.Time{})},
		m:       metrics.New(),
		started: make(chan *Report, 10),
		release: make(chan struct{}),
	}
	cp := &config.Pair{Name: "orders"}
	h.r = &Runner{
		Pair:      func(string) (*config.Pair, Pair, bool) { return cp, h.pair, true },
		Store:     NewStore(t.TempDir()),
		Metrics:   h.m,
		Clock:     h.clk,
		MaxJitter: jitter,
		Exec: func(ctx context.Context, d config.Drill, p *config.Pair, _ Pair, r *Report, _ *Report) {
			h.started <- r
			<-h.release
			r.Result = ResultPassed
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); h.r.Close() })
	h.r.Start(ctx)
	h.r.Schedule(drills)
	return h
}

func (h *harness) runs(drill, result string) float64 {
	return testutil.ToFloat64(h.m.DrillRuns.WithLabelValues(drill, result))
}

// A drill fires from its cron spec, on the fake clock: not before its
// time, once at it; a trigger while it runs (on demand, or the next
// scheduled one) is skipped and counted, with the reason.
func TestScheduledDrillFiresFromCron(t *testing.T) {
	h := newHarness(t, -1, config.Drill{Name: "weekly", Pair: "orders", Type: TypeReadiness, Schedule: schedule(t, "0 3 * * MON")})
	at := h.clk.waitNext(t)
	if want := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC); !at.Equal(want) {
		t.Fatalf("the drill waits for %s, want %s (0 3 * * MON)", at, want)
	}
	h.clk.set(at.Add(-time.Second))
	select {
	case r := <-h.started:
		t.Fatalf("the drill ran a second early: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	h.clk.set(at)
	var r *Report
	select {
	case r = <-h.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the drill did not run at its time")
	}
	if r.By != "schedule" || r.Drill != "weekly" || !r.Started.Equal(at) {
		t.Fatalf("scheduled run: %+v", r)
	}
	// The next week's run is scheduled while this one still runs.
	if next := h.clk.waitNext(t); !next.Equal(at.Add(7 * 24 * time.Hour)) {
		t.Fatalf("next run at %s, want a week later", next)
	}

	// An overlapping trigger is skipped, counted, reported with the reason.
	skipped, err := h.r.Run(context.Background(), "weekly", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if skipped.Result != ResultSkipped || !strings.Contains(skipped.Reason, "drill weekly of pair orders is running") {
		t.Fatalf("overlapping run: %+v", skipped)
	}
	if got := h.runs("weekly", ResultSkipped); got != 1 {
		t.Fatalf("drill_runs_total{result=skipped} = %v, want 1", got)
	}
	close(h.release)
	deadline := time.Now().Add(5 * time.Second)
	for h.runs("weekly", ResultPassed) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled run was not counted as passed")
		}
		time.Sleep(time.Millisecond)
	}
	if ts := testutil.ToFloat64(h.m.DrillLastSuccess.WithLabelValues("weekly")); ts != float64(at.Unix()) {
		t.Fatalf("last success timestamp %v, want %d", ts, at.Unix())
	}
	ids, _ := h.r.Store.IDs("weekly")
	if len(ids) != 2 {
		t.Fatalf("reports kept: %v, want the skipped and the passed one", ids)
	}
	h.pair.mu.Lock()
	defer h.pair.mu.Unlock()
	if len(h.pair.events) != 1 || !strings.HasPrefix(h.pair.events[0], "drill_succeeded") {
		t.Fatalf("events: %v (a skipped run raises none)", h.pair.events)
	}
}

// Jitter delays a scheduled run by at most MaxJitter.
func TestScheduleJitter(t *testing.T) {
	h := newHarness(t, 10*time.Minute, config.Drill{Name: "hourly", Pair: "orders", Type: TypeReadiness, Schedule: schedule(t, "0 * * * *")})
	at := h.clk.waitNext(t)
	base := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	if at.Before(base) || !at.Before(base.Add(10*time.Minute)) {
		t.Fatalf("jittered run at %s, want within 10m after %s", at, base)
	}
}

// A drill is refused while its pair is in an incident, paused, promoting
// or promoted: skipped and counted with the reason, and nothing runs.
func TestDrillRefusedUnlessHealthy(t *testing.T) {
	h := newHarness(t, -1)
	h.r.SetDrills([]config.Drill{{Name: "now", Pair: "orders", Type: TypeFailover}})
	for i, st := range []policy.State{
		{Phase: policy.LeaderDown, Reasons: []string{"leader unreachable for 40s"}},
		{Phase: policy.Paused, Reasons: []string{"paused by alice (upgrade)"}},
		{Phase: policy.Promoting}, {Phase: policy.Promoted}, {Phase: policy.Suspect},
		{Phase: policy.Healthy, Drill: "other/20260302T030000.000Z"},
	} {
		h.pair.mu.Lock()
		h.pair.st = st
		h.pair.mu.Unlock()
		r, err := h.r.Run(context.Background(), "now", "bob")
		if err != nil {
			t.Fatal(err)
		}
		want := "pair orders is " + string(st.Phase)
		if st.Drill != "" {
			want = "failover drill other/"
		}
		if r.Result != ResultSkipped || !strings.Contains(r.Reason, want) {
			t.Errorf("%s: %+v, want skipped: %s", st.Phase, r, want)
		}
		if len(st.Reasons) > 0 && !strings.Contains(r.Reason, st.Reasons[0]) {
			t.Errorf("%s: the reason does not say why: %s", st.Phase, r.Reason)
		}
		if got := h.runs("now", ResultSkipped); got != float64(i+1) {
			t.Errorf("skipped count %v, want %d", got, i+1)
		}
	}
	select {
	case r := <-h.started:
		t.Fatalf("a drill ran on an unhealthy pair: %+v", r)
	default:
	}
	if _, err := h.r.Run(context.Background(), "nope", "bob"); err == nil || !strings.Contains(err.Error(), `unknown drill "nope"`) {
		t.Fatalf("unknown drill: %v", err)
	}
}

// A failover drill that a stop cut short owns its pair: running it again
// finishes its restore from its report - after the drill's promotion,
// resumed from the journal, has ended (never while it still runs).
func TestDrillResumesAfterItsPromotion(t *testing.T) {
	h := newHarness(t, -1)
	h.r.SetDrills([]config.Drill{{Name: "monthly", Pair: "orders", Type: TypeFailover}})
	prev := &Report{Drill: "monthly", Pair: "orders", Type: TypeFailover, ID: "20260301T040000.000Z-abcd", Result: ResultFailed,
		Failover: &Failover{Before: Setup{Started: map[string]string{"orders-1": "orders-1"}}}}
	if err := h.r.Store.Save(prev); err != nil {
		t.Fatal(err)
	}
	h.pair.st = policy.State{Phase: policy.Promoting, Drill: Owner(prev)}
	var resumed *Report
	h.r.Exec = func(_ context.Context, _ config.Drill, _ *config.Pair, p Pair, r *Report, resume *Report) {
		if st := p.State(); st.Phase != policy.Promoted {
			t.Errorf("the restore ran while the pair was %s", st.Phase)
		}
		resumed = resume
		r.Result = ResultPassed
	}
	done := make(chan *Report)
	go func() {
		r, err := h.r.Run(context.Background(), "monthly", "drwatch")
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	for range 3 { // the promotion goes on for three seconds
		at := h.clk.waitNext(t)
		h.clk.set(at)
	}
	h.pair.mu.Lock()
	h.pair.st.Phase = policy.Promoted
	h.pair.mu.Unlock()
	var r *Report
	for r == nil {
		select {
		case r = <-done:
		case <-time.After(time.Millisecond):
			if n := h.clk.next(); !n.IsZero() {
				h.clk.set(n)
			}
		}
	}
	if r.Result != ResultPassed || resumed == nil || resumed.ID != prev.ID {
		t.Fatalf("resume: %+v, resumed from %+v", r, resumed)
	}
}
