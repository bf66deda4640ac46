package watch

// The inbox, the publish and adoption under lost answers, late writes,
// an unwritable journal and restarts.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/testutil/memdocs"
)

// hooked wraps the shared store for one daemon: a hook runs once before a
// write of the published state, or before a read of the inbox, or a
// write of the inbox lands and then answers an error (a timeout after
// the server applied it).
type hooked struct {
	*memdocs.Store
	mu            sync.Mutex
	beforeState   func()
	beforeInbox   func()
	inboxLostResp bool
}

func (h *hooked) take(f *func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := *f
	*f = nil
	return g
}

func (h *hooked) PutDoc(ctx context.Context, index, id string, src []byte, prev opensearch.Doc) (opensearch.Doc, error) {
	if id == "orders.state" {
		if f := h.take(&h.beforeState); f != nil {
			f()
		}
	}
	d, err := h.Store.PutDoc(ctx, index, id, src, prev)
	h.mu.Lock()
	lost := h.inboxLostResp && id == "orders.inbox"
	if lost {
		h.inboxLostResp = false
	}
	h.mu.Unlock()
	if lost && err == nil {
		return opensearch.Doc{}, context.DeadlineExceeded
	}
	return d, err
}

func (h *hooked) GetDoc(ctx context.Context, index, id string) (opensearch.Doc, error) {
	if id == "orders.inbox" {
		if f := h.take(&h.beforeInbox); f != nil {
			f()
		}
	}
	return h.Store.GetDoc(ctx, index, id)
}

// The holder's publish passes its acting check, then its write is slow
// (or the process freezes) past its window, and the standby takes over.
// A write confirmed after the window counts for nothing: the command is
// not acknowledged, the human is not told 200, and the new holder applies
// the pause from the inbox and does not promote.
func TestLatePublishDoesNotAcknowledge(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, exB, nodeB := r.daemon(t, "dr-b", downProber{}, autoPolicy())
	fa, fb := &hooked{Store: r.store}, &hooked{Store: r.store}
	nodeA.Shared.Store, nodeB.Shared.Store = fa, fb
	r.take(t, nodeA)
	ctx := context.Background()
	a.tick(ctx) // term 1 adopted, Healthy published
	nodeB.Lease.Step(ctx)

	atPut, goPut := make(chan struct{}), make(chan struct{})
	fa.beforeState = func() { close(atPut); <-goPut }
	answered := make(chan error, 1)
	go func() {
		_, err := a.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "maintenance", For: time.Hour})
		answered <- err
	}()
	<-atPut // a passed its acting check; its write is on the way

	r.Add(haTTL) // a's window is over; b has waited a TTL
	if s := nodeB.Lease.Step(ctx); !s.Held {
		t.Fatalf("b did not take over: %+v", s)
	}
	var aErr error
	fb.beforeInbox = func() { // between b's adoption and b's inbox read
		close(goPut)
		aErr = <-answered
	}
	if !b.takeHA(ctx) {
		t.Fatal("b does not act")
	}
	if aErr != nil {
		t.Logf("a answered %v: the test shows nothing", aErr)
		return
	}
	t.Logf("a answered the human 200 (nil error)")
	left, _ := nodeB.Shared.Pending(ctx)
	t.Logf("inbox left: %d; b's phase %s", len(left), b.phase())
	tickUntilPromoted(b, func() int { return exB.runs })
	if exB.runs > 0 || b.phase() != policy.Paused {
		t.Fatalf("a pause answered 200 was lost across the takeover: the new holder is %s after %d promotions", b.phase(), exB.runs)
	}
}

// The holder records a command in the inbox; the write lands but its
// answer is lost (a timeout). The holder finds its command in the inbox,
// applies it and answers so: never a 503 "nothing was applied" for a
// command that is then applied.
func TestLostInboxAnswerStillApplied(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	fa := &hooked{Store: r.store}
	nodeA.Shared.Store = fa
	r.take(t, nodeA)
	ctx := context.Background()
	a.tick(ctx)
	fa.inboxLostResp = true
	st, err := a.Command(policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour})
	if err != nil || st.Phase != policy.Paused {
		t.Fatalf("the pause recorded with its answer lost: %s, %v", st.Phase, err)
	}
	a.tick(ctx)
	if a.phase() != policy.Paused {
		t.Fatalf("phase %s after the next cycle", a.phase())
	}
}

// A holder whose journal is unwritable applies a pause in memory only: it
// does not publish it (nor anything) and answers 202, the pause left in
// the inbox. It restarts (the journal writable again, without the pause)
// and takes its released lease back, keeps its own journal - and applies
// the pause from the inbox: it does not promote.
func TestUnwritableJournalKeepsThePauseQueued(t *testing.T) {
	r := newHARig()
	ctx := context.Background()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	r.take(t, nodeA)
	a.tick(ctx)
	dir := a.journal.Dir()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Command(policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour}); !errors.Is(err, acting.ErrQueued) {
		t.Fatalf("a pause with the journal unwritable: %v, want queued (202)", err)
	}
	pub, _, _ := nodeA.Shared.Read(ctx)
	var ps policy.State
	_ = json.Unmarshal(pub.State, &ps)
	if ps.Phase == policy.Paused {
		t.Fatal("a pause kept in memory only was published")
	}
	// Shutdown: publish, release. The disk is fixed; the daemon restarts.
	_ = a.PublishNow(ctx)
	if err := nodeA.Lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	rt2, err := Load(a.journal, "orders", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	node2 := ha.NewNode(r.store, ".drwatch-ha", "orders", "dr-a", haTTL)
	node2.Lease.Now, node2.Instance = r.Now, nodeA.Instance
	ex2 := &hookExecutor{hook: func(int) {}}
	a2 := New(Config{Pair: a.pair, Prober: downProber{}, Exec: ex2, Journal: a.journal, Metrics: a.metrics,
		Log: a.log, Runtime: rt2, Role: acting.NewHA(node2, a.journal, zap.NewNop())})
	a2.interval = 10 * time.Millisecond
	if s := node2.Lease.Step(ctx); !s.Held {
		t.Fatalf("the restarted daemon did not take its released lease: %+v", s)
	}
	tickUntilPromoted(a2, func() int { return ex2.runs })
	if ex2.runs > 0 || a2.phase() != policy.Paused {
		t.Fatalf("the pause answered 202 is gone after the restart: phase %s, %d promotions", a2.phase(), ex2.runs)
	}
}

// Adoption of a promotion this daemon also ran in an earlier term, whose
// own record went another way (it failed a stop while the other holder
// did it): the published steps, of the later term, replace its own.
func TestAdoptedStepsReplaceADivergedRecord(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	ctx := context.Background()
	now := time.Now()
	p := promote.New("orders", "drwatch", false, now)
	p.Plan = map[string]string{"orders-1": "orders-1", "orders-2": "orders-2"}
	// a's own record of term 1: the fence done, the stop of orders-1
	// started and then failed (a froze, its call's window was over).
	a.rt.rec.State.Phase = policy.Promoting
	a.rt.rec.Promotion = p
	mine := []promote.Step{
		{Name: promote.StepFence, Status: promote.StepDone, At: now, Term: 1},
		{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted, At: now, Term: 1},
		{Name: promote.StepStop, Target: "orders-1", Status: promote.StepFailed, At: now, Term: 1},
	}
	if err := a.journal.Save(a.rt.rec); err != nil {
		t.Fatal(err)
	}
	if err := a.journal.AppendSteps("orders", p, mine...); err != nil {
		t.Fatal(err)
	}
	// b, holder of term 2, adopted the fence (published) and stopped both
	// indices; it published its steps, and died.
	theirs := []promote.Step{
		mine[0],
		{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted, At: now, Term: 2},
		{Name: promote.StepStop, Target: "orders-1", Status: promote.StepDone, At: now, Term: 2},
		{Name: promote.StepStop, Target: "orders-2", Status: promote.StepStarted, At: now, Term: 2},
		{Name: promote.StepStop, Target: "orders-2", Status: promote.StepDone, At: now, Term: 2},
	}
	cp := *p
	cp.Steps = nil
	st := a.rt.rec.State
	stb, _ := json.Marshal(st)
	prb, _ := json.Marshal(acting.PublishedPromotion{Promotion: &cp, Steps: theirs})
	if err := nodeA.Shared.Publish(ctx, ha.Published{Holder: "dr-b", Instance: "b-instance", Term: 2, At: now, State: stb, Promotion: prb}); err != nil {
		t.Fatal(err)
	}
	if err := a.adopt(ctx, 3); err != nil {
		t.Fatal(err)
	}
	rec, err := journal.Read(a.journal.Dir(), "orders") // as a restart reads it
	if err != nil {
		t.Fatal(err)
	}
	got := rec.Promotion.Steps
	if len(a.rt.rec.Promotion.Steps) != len(theirs) {
		t.Fatalf("in memory: %d steps, published %d", len(a.rt.rec.Promotion.Steps), len(theirs))
	}
	if len(got) != len(theirs) {
		t.Fatalf("adopted steps %d, published %d", len(got), len(theirs))
	}
	for i := range theirs {
		if got[i].Target != theirs[i].Target || got[i].Status != theirs[i].Status || got[i].Term != theirs[i].Term {
			t.Fatalf("adopted step %d is %+v, the holder of term 2 published %+v", i, got[i], theirs[i])
		}
	}
}

// A holder applies a pause (journaled) but cannot publish it: 202, kept
// in the inbox. It restarts 30 minutes later and takes its lease back:
// the pause is applied again from the inbox, and still ends when it was
// asked to (its time counts from when it was asked).
func TestPauseAppliedAgainEndsAtTheSameTime(t *testing.T) {
	r := newHARig()
	ctx := context.Background()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	fa := &flaky{Store: r.store}
	nodeA.Shared.Store = fa
	r.take(t, nodeA)
	a.tick(ctx)
	fa.failStateWrites.Store(true)
	if _, err := a.Command(policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour}); !errors.Is(err, acting.ErrQueued) {
		t.Fatalf("want 202, got %v", err)
	}
	first := a.rt.rec.State.PausedUntil
	if err := nodeA.Lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// The restart, 30 minutes later.
	later := time.Now().Add(30 * time.Minute)
	rt2, err := Load(a.journal, "orders", later)
	if err != nil {
		t.Fatal(err)
	}
	node2 := ha.NewNode(r.store, ".drwatch-ha", "orders", "dr-a", haTTL)
	node2.Lease.Now, node2.Instance = r.Now, nodeA.Instance
	a2 := New(Config{Pair: a.pair, Prober: staticProber{}, Exec: &hookExecutor{hook: func(int) {}}, Journal: a.journal, Metrics: a.metrics,
		Log: a.log, Runtime: rt2, Role: acting.NewHA(node2, a.journal, zap.NewNop()), Now: func() time.Time { return later }})
	if s := node2.Lease.Step(ctx); !s.Held {
		t.Fatalf("%+v", s)
	}
	a2.tick(ctx)
	// Wall clock, as journaled.
	if got := a2.rt.rec.State.PausedUntil; !got.Round(0).Equal(first.Round(0)) {
		t.Fatalf("the pause (until %s, journaled before the restart) was applied again: now until %s", first.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
	}
}
