package watch

// Commands and promotions across a change of lease holder: nothing a
// human was told is applied, or queued, is lost at a takeover, and
// nothing finished is run again.

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/testutil/memdocs"
)

// flaky wraps the shared store for one daemon: writes of the published
// state and/or reads of the inbox fail (a timeout on that daemon's link).
type flaky struct {
	*memdocs.Store
	failStateWrites atomic.Bool
	failInboxReads  atomic.Bool
}

func (f *flaky) PutDoc(ctx context.Context, index, id string, src []byte, prev opensearch.Doc) (opensearch.Doc, error) {
	if f.failStateWrites.Load() && id == "orders.state" {
		return opensearch.Doc{}, errors.New("context deadline exceeded")
	}
	return f.Store.PutDoc(ctx, index, id, src, prev)
}

func (f *flaky) GetDoc(ctx context.Context, index, id string) (opensearch.Doc, error) {
	if f.failInboxReads.Load() && id == "orders.inbox" {
		return opensearch.Doc{}, errors.New("context deadline exceeded")
	}
	return f.Store.GetDoc(ctx, index, id)
}

// jumpOnNextNow makes the watcher's next clock read move the lease clock
// past the holder's window (its renewals failed while it journaled).
func jumpOnNextNow(r *haRig, w *Watcher) *atomic.Bool {
	var armed atomic.Bool
	w.now = func() time.Time {
		if armed.CompareAndSwap(true, false) {
			r.Add(haTTL)
		}
		return time.Now()
	}
	return &armed
}

func tickUntilPromoted(w *Watcher, runs func() int) {
	for i := 0; i < 100 && runs() == 0; i++ {
		time.Sleep(2 * time.Millisecond)
		w.tick(context.Background())
		w.promotions.Wait()
	}
}

// The holder's window ends between applying a human's pause and
// publishing it: the pause is not answered as applied, and it stays in
// the inbox, so the standby that takes over applies it and does not
// promote.
func TestHolderPauseSurvivesATakeoverBeforeItsPublish(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, exB, nodeB := r.daemon(t, "dr-b", downProber{}, autoPolicy())
	r.take(t, nodeA)
	ctx := context.Background()
	a.tick(ctx) // term 1 adopted, Healthy published
	nodeB.Lease.Step(ctx)

	jumpOnNextNow(r, a).Store(true)
	st, err := a.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "maintenance", For: time.Hour})
	if !errors.Is(err, acting.ErrQueued) {
		t.Fatalf("the pause the holder could not publish was answered %v (phase %s), want queued (HTTP 202)", err, st.Phase)
	}

	if s := nodeB.Lease.Step(ctx); !s.Held {
		t.Fatalf("b did not take over: %+v", s)
	}
	tickUntilPromoted(b, func() int { return exB.runs })
	if exB.runs > 0 {
		t.Fatalf("a pause answered 200 by the holder was lost at takeover: the new holder promoted (phase %s)", b.phase())
	}
}

// A queued pause the holder applied but could not publish is not
// acknowledged: after a takeover the new holder applies it from the inbox
// and does not promote.
func TestQueuedPauseKeptUntilPublished(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, exB, nodeB := r.daemon(t, "dr-b", downProber{}, autoPolicy())
	fa := &flaky{Store: r.store}
	nodeA.Shared.Store = fa
	r.take(t, nodeA)
	ctx := context.Background()
	a.tick(ctx) // Healthy published in term 1
	nodeB.Lease.Step(ctx)

	fa.failStateWrites.Store(true) // a's publishes time out from now on
	done := make(chan error, 1)
	go func() {
		_, err := b.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "maintenance", For: time.Hour})
		done <- err
	}()
	var ferr error
	for waiting := true; waiting; {
		select {
		case ferr = <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
			a.tick(ctx)
		}
	}
	t.Logf("the standby's answer to the human: %v (HTTP 202 when ErrQueued: %v)", ferr, errors.Is(ferr, acting.ErrQueued))
	left, _ := nodeB.Shared.Pending(ctx)
	t.Logf("commands left in the inbox: %d; a's own phase: %s", len(left), a.phase())

	// a freezes; b takes over and adopts what was published.
	r.Add(haTTL)
	if s := nodeB.Lease.Step(ctx); !s.Held {
		t.Fatalf("b did not take over: %+v", s)
	}
	tickUntilPromoted(b, func() int { return exB.runs })
	if exB.runs > 0 {
		t.Fatalf("a pause queued (202) was acknowledged without being published, and lost: the new holder promoted (inbox left %d)", len(left))
	}
}

// A command this daemon applied in an earlier term, whose effect was
// never published, is applied again once it adopts another holder's
// state (the answers it keeps are the adopted state's).
func TestCommandReappliedAfterReadoption(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, _, nodeB := r.daemon(t, "dr-b", staticProber{}, autoPolicy())
	fb := &flaky{Store: r.store}
	nodeB.Shared.Store = fb
	r.take(t, nodeA)
	ctx := context.Background()
	a.tick(ctx)
	nodeB.Lease.Step(ctx)

	// A pause forwarded by b's API (the human got 202: queued).
	body, _ := json.Marshal(policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour})
	if err := nodeB.Shared.Send(ctx, ha.Command{ID: "x1", At: time.Now(), Via: "dr-b", Action: policy.ActPause, Body: body}); err != nil {
		t.Fatal(err)
	}
	// a applies it, but its window ends while it journals: not published,
	// not acknowledged (correct so far: it stays queued).
	jumpOnNextNow(r, a).Store(true)
	a.tick(ctx)
	// b takes term 2, adopts a's published (unpaused) state; its inbox
	// read times out, it publishes term 2, then it freezes.
	if s := nodeB.Lease.Step(ctx); !s.Held {
		t.Fatalf("b did not take over: %+v", s)
	}
	fb.failInboxReads.Store(true)
	b.tick(ctx)
	// a takes term 3 and adopts b's state.
	nodeA.Lease.Step(ctx)
	r.Add(haTTL)
	if s := nodeA.Lease.Step(ctx); !s.Held || s.Term != 3 {
		t.Fatalf("a did not take term 3: %+v", s)
	}
	if q, _ := nodeA.Shared.Pending(ctx); len(q) != 1 {
		t.Fatalf("setup: the pause should still be queued: %d", len(q))
	}
	if !a.role.(*acting.HA).Answered("x1") {
		t.Fatal("setup: the pause should be remembered as answered")
	}
	a.tick(ctx)
	left, _ := nodeA.Shared.Pending(ctx)
	if a.phase() != policy.Paused {
		t.Fatalf("the queued pause was acknowledged (inbox left %d) but never applied in the adopted state: phase %s", len(left), a.phase())
	}
}

// At shutdown the promotion in flight ends, its outcome is published and
// only then is the lease released: the standby adopts "promoted" and
// runs nothing again.
func TestShutdownPublishesTheOutcomeBeforeRelease(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", downProber{}, autoPolicy())
	b, exB, nodeB := r.daemon(t, "dr-b", staticProber{}, autoPolicy())
	slow := &slowExecutor{release: make(chan struct{})}
	a.exec = slow
	r.take(t, nodeA)
	nodeB.Lease.Step(context.Background())
	ctx, stop := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() { _ = a.Start(ctx); close(started) }()
	for deadline := time.Now().Add(5 * time.Second); slow.runs.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if slow.runs.Load() == 0 {
		t.Fatal("a did not start promoting")
	}
	time.Sleep(50 * time.Millisecond) // a few cycles publish "promoting"
	// Shutdown as app.Run does it: stopWatchers, promotions.Wait,
	// publishAll, releaseLeases.
	stop()
	<-started
	close(slow.release)
	a.promotions.Wait()
	if err := a.PublishNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := nodeA.Lease.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	pub, _, _ := nodeA.Shared.Read(context.Background())
	var ps policy.State
	_ = json.Unmarshal(pub.State, &ps)
	t.Logf("a's own phase %s; published phase %s", a.phase(), ps.Phase)
	if s := nodeB.Lease.Step(context.Background()); !s.Held {
		t.Fatalf("b did not take the released lease: %+v", s)
	}
	b.tick(context.Background())
	b.promotions.Wait()
	if exB.runs > 0 || ps.Phase != policy.Promoted {
		t.Fatalf("the promotion's outcome (%s) was not published before the release (published %s): the standby ran it again (%d runs)",
			a.phase(), ps.Phase, exB.runs)
	}
}

// A standby takes the lease when nothing was ever published: it goes on
// from its own journal, which it last wrote a day ago, in the middle of
// an outage, with a lag reading taken just before that outage began. A
// day-old observation never satisfies a guard: the gap in observation
// (longer than max_observation_age) starts the outage afresh, the reading
// is a day old at the loss, and nothing is promoted.
func TestTakeoverOnADayOldJournalNeverPromotes(t *testing.T) {
	r := newHARig()
	b, exB, nodeB := r.daemon(t, "dr-b", downProber{}, autoPolicy())
	day := time.Now().Add(-24 * time.Hour)
	b.rt.mu.Lock()
	b.rt.rec.State = policy.State{Phase: policy.Suspect, Since: day, Outage: policy.Outage{OutageStart: day, FailedProbes: 3},
		Tracking: policy.Tracking{ObservedAt: day, LastGoodLag: &policy.LagReading{Indices: 1, At: day.Add(-5 * time.Second), RateKnown: true}},
		Reasons:  []string{"leader unreachable"}}
	b.rt.mu.Unlock()
	r.take(t, nodeB)
	for range 20 {
		b.tick(context.Background())
		b.promotions.Wait()
	}
	if exB.runs != 0 {
		t.Fatalf("promoted %d times on a day-old journal", exB.runs)
	}
	st := b.rt.State()
	if st.Phase == policy.Promoting || st.Phase == policy.Promoted || !st.OutageStart.After(day.Add(time.Hour)) {
		t.Fatalf("state after the takeover: %s, outage from %s: %q", st.Phase, st.OutageStart, st.Reasons)
	}
}

// The two daemons' clocks disagree by ten minutes, either way: a pause
// for an hour that one published still ends an hour after it was asked on
// the other, which adopts it - neither ten minutes early nor late. So do
// an approval request's expiry and the cooldown.
func TestAdoptionKeepsTheTimeLeftWhateverTheClocks(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			r := newHARig()
			a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
			b, _, nodeB := r.daemon(t, "dr-b", staticProber{}, autoPolicy())
			a.now = func() time.Time { return time.Now().Add(skew) }
			r.take(t, nodeA)
			ctx := context.Background()
			a.tick(ctx)
			a.rt.mu.Lock()
			d, err := policy.Pause(a.rt.rec.State, a.now().Add(time.Hour), "carol", "upgrade", a.now())
			if err != nil {
				t.Fatal(err)
			}
			d.State.EpisodeEnd = a.now()
			a.rt.rec.State = d.State
			a.rt.mu.Unlock()
			if err := a.publish(ctx); err != nil {
				t.Fatal(err)
			}
			nodeB.Lease.Step(ctx)
			r.Add(haTTL)
			if st := nodeB.Lease.Step(ctx); !st.Held {
				t.Fatalf("b: %+v", st)
			}
			b.tick(ctx)
			st := b.rt.State()
			if st.Phase != policy.Paused {
				t.Fatalf("b: %s %q", st.Phase, st.Reasons)
			}
			if left := st.PausedUntil.Sub(time.Now()); left < 59*time.Minute || left > time.Hour+time.Second {
				t.Fatalf("the pause ends in %s on b, want an hour (the clocks are %s apart)", left, skew)
			}
			if ago := time.Since(st.EpisodeEnd); ago < 0 || ago > time.Second {
				t.Fatalf("the episode ended %s ago on b, want now", ago)
			}
		})
	}
}

// A holder that took over a promotion (term 2) and journaled steps of its
// own, unpublished, loses the lease for a moment and holds it again in
// the same term: it goes on from its own journal - the publication (the
// previous holder's, of term 1) lags behind it - and no step done in this
// term is lost (a _stop already sent would be sent again).
func TestSameTermReadoptionKeepsThisTermsSteps(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, _, nodeB := r.daemon(t, "dr-b", staticProber{}, autoPolicy())
	ctx := context.Background()
	r.take(t, nodeB)
	b.tick(ctx)
	promotionUnderWay(t, b, nodeB, promote.Step{Name: promote.StepPlan, Status: promote.StepDone})
	// b freezes; a takes term 2 and adopts the promotion.
	nodeA.Lease.Step(ctx)
	r.Add(haTTL)
	if st := nodeA.Lease.Step(ctx); !st.Held || st.Term != 2 {
		t.Fatalf("a: %+v", st)
	}
	if !a.takeHA(ctx) {
		t.Fatal("a does not act after its takeover")
	}
	a.rt.mu.Lock()
	prom := a.rt.rec.Promotion
	prom.Term = 2 // as the resumed promotion's run sets it
	a.rt.mu.Unlock()
	if err := a.role.(*acting.HA).Journal(a.journal, a.rt.StepsJournaled).AppendSteps("orders", prom,
		promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted},
		promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepDone}); err != nil {
		t.Fatal(err)
	}
	// a's window passes unrenewed (a slow round), then it renews: the
	// same term, nobody else took it.
	r.Add(haTTL)
	if a.takeHA(ctx) {
		t.Fatal("a acts past its window")
	}
	if st := nodeA.Lease.Step(ctx); !st.Held || st.Term != 2 {
		t.Fatalf("a renewed: %+v", st)
	}
	if !a.takeHA(ctx) {
		t.Fatal("a does not act again in its term")
	}
	rec, err := journal.Read(a.journal.Dir(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Promotion.Steps); n != 3 {
		t.Fatalf("a's journal holds %d steps after holding the lease again, want 3 (this term's stop kept): %+v", n, rec.Promotion.Steps)
	}
}

// An approve that names no request, queued for the holder and taken from
// the inbox an hour later (longer than approval_timeout): it was meant for
// another moment and is refused, answered as a conflict; taken at once,
// the same approve starts the promotion.
func TestStaleQueuedApproveWithoutAnIDIsRefused(t *testing.T) {
	for _, age := range []time.Duration{time.Hour, time.Second} {
		t.Run(age.String(), func(t *testing.T) {
			ctx := context.Background()
			r := newHARig()
			a, _, nodeA := r.daemon(t, "dr-a", downProber{}, autoPolicy())
			r.take(t, nodeA)
			if !a.takeHA(ctx) {
				t.Fatal("a does not act")
			}
			a.rt.mu.Lock()
			a.rt.rec.State = policy.State{Phase: policy.LeaderDown, Since: time.Now(), Reasons: []string{"down"}}
			a.rt.mu.Unlock()
			body, _ := json.Marshal(policy.Command{Action: policy.ActApprove, By: "alice"})
			if err := nodeA.Shared.Send(ctx, ha.Command{ID: "ap1", At: time.Now().Add(-age), Via: "dr-b", Action: policy.ActApprove, Body: body}); err != nil {
				t.Fatal(err)
			}
			if !a.takeHA(ctx) {
				t.Fatal("a does not act")
			}
			a.promotions.Wait()
			pub, _, err := nodeA.Shared.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(pub.Answers, func(x ha.Answer) bool { return x.ID == "ap1" })
			if i < 0 {
				t.Fatalf("the approve is not answered: %+v", pub.Answers)
			}
			if age > time.Minute {
				if ans := pub.Answers[i]; !ans.Conflict || !strings.Contains(ans.Error, "approval_timeout") || a.phase() != policy.LeaderDown {
					t.Fatalf("a stale approve: answered %+v, phase %s", ans, a.phase())
				}
				return
			}
			if ans := pub.Answers[i]; ans.Error != "" || a.phase() != policy.Promoting && a.phase() != policy.Promoted {
				t.Fatalf("a fresh approve: answered %+v, phase %s", ans, a.phase())
			}
		})
	}
}
