package watch

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/testutil/memdocs"
)

// haRig is two daemons' view of one pair's lease: one store (the
// follower cluster, with its optimistic concurrency) and one clock that
// the test moves (both processes' monotonic clocks).
type haRig struct {
	store *memdocs.Store
	*memdocs.Clock
}

const haTTL = 3 * time.Second

func newHARig() *haRig { return &haRig{store: memdocs.New(), Clock: memdocs.NewClock()} }

// autoPolicy promotes as soon as the leader is down (auto mode).
func autoPolicy() *config.Policy {
	pol := config.DefaultPolicy()
	maxLag, witness := int64(1000), false
	pol.Mode, pol.MaxLagOperations, pol.RequireFollowerWitness = config.ModeAuto, &maxLag, &witness
	pol.LeaderDownAfter, pol.MinFailedProbes = config.Duration(time.Millisecond), 1
	return pol
}

// daemon is one daemon of the pair: its own journal and executor, the
// shared lease. Its watcher is not started: the test runs its cycles.
func (r *haRig) daemon(t *testing.T, id string, prober Cycler, pol *config.Policy) (*Watcher, *hookExecutor, *ha.Node) {
	t.Helper()
	_, j := openJournal(t)
	start := time.Now()
	rec := &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Healthy, Since: start,
		Tracking: policy.Tracking{LastGoodLag: &policy.LagReading{Indices: 1, At: start, RateKnown: true}}}}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	node := ha.NewNode(r.store, ".drwatch-ha", "orders", id, haTTL)
	node.Lease.Now = r.Now
	var err error
	if node.Instance, err = j.Instance(); err != nil {
		t.Fatal(err)
	}
	ex := &hookExecutor{hook: func(int) {}}
	w := New(Config{Pair: &config.Pair{Name: "orders", Resolved: pol}, Prober: prober, Exec: ex, Journal: j, Metrics: metrics.New(),
		Log: zap.NewNop(), Runtime: NewRuntime(rec), Role: acting.NewHA(node, j, zap.NewNop())})
	w.interval = 10 * time.Millisecond
	return w, ex, node
}

// take makes node hold the lease: a missing lease is taken once it has
// stayed missing for a TTL.
func (r *haRig) take(t *testing.T, node *ha.Node) {
	t.Helper()
	for range 3 {
		if st := node.Lease.Step(context.Background()); st.Held {
			return
		}
		r.Add(haTTL)
	}
	t.Fatalf("%s did not take the lease: %+v", node.Identity(), node.Lease.Status())
}

// promotionUnderWay puts a promotion of term 1 under way on w, which holds
// the lease, journals steps for it through the fencing gate, and publishes.
func promotionUnderWay(t *testing.T, w *Watcher, node *ha.Node, steps ...promote.Step) *promote.Promotion {
	t.Helper()
	w.rt.mu.Lock()
	w.rt.rec.State = policy.State{Phase: policy.Promoting, Since: time.Now()}
	p := promote.New("orders", "alice", false, time.Now())
	p.Plan = map[string]string{"orders-1": "orders-1", "orders-2": "orders-2"}
	p.Term = 1
	w.rt.rec.Promotion = p
	w.rt.mu.Unlock()
	if err := w.role.(*acting.HA).Journal(w.journal, w.rt.StepsJournaled).AppendSteps("orders", p, steps...); err != nil {
		t.Fatal(err)
	}
	if err := w.publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *Watcher) phase() policy.Phase {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return w.rt.rec.State.Phase
}

// Two daemons, the leader down, auto mode: only the lease holder decides
// and promotes; the standby's own journal never moves, its executor never
// runs, and it shows the holder's published outcome as the pair's.
func TestOnlyTheLeaseHolderPromotes(t *testing.T) {
	r := newHARig()
	a, exA, nodeA := r.daemon(t, "dr-a", downProber{}, autoPolicy())
	b, exB, nodeB := r.daemon(t, "dr-b", downProber{}, autoPolicy())
	hooksA, hooksB := &recorder{}, &recorder{}
	a.hooks, b.hooks = hooksA, hooksB
	r.take(t, nodeA)
	if st := nodeB.Lease.Step(context.Background()); st.Held || st.Holder != "dr-a" {
		t.Fatalf("b: %+v", st)
	}
	ctx := context.Background()
	for range 5 {
		b.tick(ctx)
	}
	b.promotions.Wait()
	if exB.runs != 0 || b.phase() != policy.Healthy {
		t.Fatalf("the standby decided: %d promotions, phase %s", exB.runs, b.phase())
	}
	if _, err := b.Promote(ctx, false); !errors.Is(err, acting.ErrStandby) {
		t.Fatalf("the standby's Promote: %v", err)
	}
	if got, want := b.Standby(), "this daemon (dr-b) is standby for pair orders: the lease holder (dr-a) runs its drills"; got != want {
		t.Fatalf("the standby says %q, want %q", got, want)
	}
	pctx, stopPublishing := context.WithCancel(ctx)
	defer stopPublishing()
	go a.role.Run(pctx, rolePair{a}) // as Start runs it: publishes the outcome
	for i := 0; i < 100 && a.phase() != policy.Promoted; i++ {
		time.Sleep(2 * time.Millisecond) // past leader_down_after
		a.tick(ctx)
		a.promotions.Wait()
	}
	if exA.runs != 1 || a.phase() != policy.Promoted {
		t.Fatalf("the holder: %d promotions, phase %s", exA.runs, a.phase())
	}
	if got := a.Standby(); got != "" {
		t.Fatalf("the holder says it is standby: %q", got)
	}
	var st report.PairStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b.tick(ctx)
		if st = b.Status(); st.Decision.State == string(policy.Promoted) {
			break
		}
	}
	if exB.runs != 0 || st.HA == nil || st.HA.Role != "standby" || st.HA.Holder != "dr-a" || st.HA.PublishedBy != "dr-a" ||
		st.Decision.State != string(policy.Promoted) {
		t.Fatalf("the standby's status: runs %d, %+v, decision %+v", exB.runs, st.HA, st.Decision)
	}
	if b.phase() != policy.Healthy {
		t.Fatalf("the standby journaled the holder's state as its own: %s", b.phase())
	}
	if hs := a.Status().HA; hs.Role != "holder" || hs.Term != 1 {
		t.Fatalf("the holder's status: %+v", hs)
	}
	// Only the holder pages.
	if got := hooksA.names(); !slices.Contains(got, policy.EvPromotionSucceeded.String()) {
		t.Fatalf("the holder's events: %q", got)
	}
	b.NotifyDrill("drill_failed", "a drill", nil)
	if got := hooksB.names(); len(got) != 0 {
		t.Fatalf("the standby paged: %q", got)
	}
}

// A pause received by the standby's API is passed to the holder, applied
// there before it decides, and answered: the holder does not promote
// while the leader is down, and a refused command is refused at once.
func TestStandbyPassesCommandsToTheHolder(t *testing.T) {
	r := newHARig()
	a, exA, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, _, nodeB := r.daemon(t, "dr-b", staticProber{}, autoPolicy())
	r.take(t, nodeA)
	nodeB.Lease.Step(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.tick(ctx) // takes up its term, publishes
	done := make(chan struct{})
	go func() { // the holder's cycles
		defer close(done)
		for ctx.Err() == nil {
			a.tick(ctx)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	st, err := b.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "maintenance", For: time.Hour})
	if err != nil || st.Phase != policy.Paused {
		t.Fatalf("pause through the standby: %s, %v", st.Phase, err)
	}
	if _, err := b.Command(policy.Command{Action: policy.ActApprove, By: "bob", ID: "nope"}); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("an approve with nothing to approve: %v", err)
	}
	cancel()
	<-done
	a.prober = downProber{}
	for range 3 {
		a.tick(context.Background())
	}
	a.promotions.Wait()
	if exA.runs != 0 || a.phase() != policy.Paused {
		t.Fatalf("the holder after a pause passed on: %d promotions, %s", exA.runs, a.phase())
	}
	if p, _ := nodeA.Shared.Pending(context.Background()); len(p) != 0 {
		t.Fatalf("commands left in the inbox: %+v", p)
	}
}

// The holder's lease runs out (it froze): the standby takes the next
// term, adopts the published state - a pause, and a promotion half done
// with its steps - journals it, and resumes the promotion; the old
// holder, awake, is standby and its promotion is refused. The two
// daemons were given the same identity by mistake: each journal still
// knows the state it did not publish.
func TestTakeoverAdoptsThePublishedState(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, exB, nodeB := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	r.take(t, nodeA)
	ctx := context.Background()
	a.tick(ctx)
	// A promotion under way on a: started and one index stopped.
	p := promotionUnderWay(t, a, nodeA,
		promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted},
		promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepDone})
	// a freezes: b sees the lease unchanged for a TTL and takes term 2.
	nodeB.Lease.Step(ctx)
	r.Add(haTTL)
	if st := nodeB.Lease.Step(ctx); !st.Held || st.Term != 2 {
		t.Fatalf("b: %+v", st)
	}
	b.tick(ctx)
	b.promotions.Wait()
	if exB.runs != 1 || b.phase() != policy.Promoted {
		t.Fatalf("b did not resume the promotion: %d runs, %s", exB.runs, b.phase())
	}
	rec, err := journal.Read(b.journal.Dir(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Promotion == nil || rec.Promotion.ID != p.ID || len(rec.Promotion.Steps) != 2 || rec.Promotion.Steps[1].Term != 1 {
		t.Fatalf("b's journal of the adopted promotion: %+v", rec.Promotion)
	}
	if !slices.ContainsFunc(rec.History, func(tr journal.Transition) bool {
		return slices.Contains(tr.Reasons, "took over the lease in term 2: adopted the state dr-a published in term 1")
	}) {
		t.Fatalf("no history entry for the takeover: %+v", rec.History)
	}
	// a wakes: it may not act, and its promotion step is refused
	// without a request.
	if _, acting := a.acting(); acting {
		t.Fatal("a still acts after its window")
	}
	writes, _ := r.store.Counts()
	err = (ha.Gate{Journal: a.journal, Lease: nodeA.Lease}).AppendSteps("orders", p,
		promote.Step{Name: promote.StepStop, Target: "orders-2", Status: promote.StepStarted})
	if !errors.Is(err, ha.ErrNotHolder) {
		t.Fatalf("a's stop after waking: %v", err)
	}
	if w, _ := r.store.Counts(); w != writes {
		t.Fatal("the woken holder wrote to the cluster")
	}
	var pub struct {
		Term int64 `json:"term"`
	}
	if err := json.Unmarshal(r.store.Docs["orders.state"].Source, &pub); err != nil || pub.Term != 2 {
		t.Fatalf("published term %d (%v), want 2", pub.Term, err)
	}
}
