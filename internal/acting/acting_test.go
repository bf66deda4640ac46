package acting

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/testutil/memdocs"
)

// fakePair is a watcher as a Role sees it: a record, a clock, commands
// applied through the decision core.
type fakePair struct {
	mu      sync.Mutex
	cfg     *config.Pair
	now     time.Time
	rec     journal.Record
	jerr    error // the journal's last write failure
	saveErr error // Take's journal write fails
	shown   []policy.Phase
}

func newFakePair(st policy.State) *fakePair {
	pol := config.DefaultPolicy()
	pol.Mode = config.ModeManual
	return &fakePair{cfg: &config.Pair{Name: "orders", Resolved: pol}, now: time.Unix(1_000_000, 0), rec: journal.Record{Pair: "orders", State: st}}
}

func (p *fakePair) Config() *config.Pair    { return p.cfg }
func (p *fakePair) Now() time.Time          { return p.now }
func (p *fakePair) Interval() time.Duration { return 10 * time.Millisecond }

func (p *fakePair) Show(st *policy.State) {
	p.mu.Lock()
	p.shown = append(p.shown, st.Phase)
	p.mu.Unlock()
}

func (p *fakePair) Shared() (policy.State, *promote.Promotion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var prom *promote.Promotion
	if p.rec.Promotion != nil {
		c := *p.rec.Promotion
		c.Steps = slices.Clone(c.Steps)
		prom = &c
	}
	return p.rec.State, prom, p.jerr
}

func (p *fakePair) Take(f func(*journal.Record) (*journal.Record, error)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := f(&p.rec)
	if err != nil || next == nil {
		return err
	}
	if p.saveErr != nil {
		return p.saveErr
	}
	p.rec = *next
	return nil
}

func (p *fakePair) Apply(c policy.Command, now time.Time) (policy.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.IsZero() {
		now = p.now
	}
	d, err := c.Apply(p.rec.State, now)
	if err != nil {
		return p.rec.State, err
	}
	p.rec.State = d.State
	return p.rec.State, nil
}

type nopSteps struct{}

func (nopSteps) AppendSteps(string, *promote.Promotion, ...promote.Step) error  { return nil }
func (nopSteps) ReplaceSteps(string, *promote.Promotion, ...promote.Step) error { return nil }

// rig is one lease store and one clock for the daemons of a test.
type rig struct {
	store *memdocs.Store
	*memdocs.Clock
}

const ttl = 3 * time.Second

func newRig() *rig { return &rig{store: memdocs.New(), Clock: memdocs.NewClock()} }

func (r *rig) node(id, instance string) *ha.Node {
	n := ha.NewNode(r.store, ".drwatch-ha", "orders", id, ttl)
	n.Lease.Now, n.Instance = r.Now, instance
	return n
}

// take makes n hold the lease (a missing lease is taken once it has
// stayed missing for a TTL).
func (r *rig) take(t *testing.T, n *ha.Node) {
	t.Helper()
	for range 3 {
		if st := n.Lease.Step(context.Background()); st.Held {
			return
		}
		r.Add(ttl)
	}
	t.Fatalf("%s did not take the lease: %+v", n.Identity(), n.Lease.Status())
}

// Alone, a daemon always acts, under term 0, and a command is applied at
// once through the pair.
func TestSingleActsAlone(t *testing.T) {
	var r Role = Single{}
	p := newFakePair(policy.State{Phase: policy.Healthy})
	if term, err := r.Acting(); term != 0 || err != nil {
		t.Fatalf("Acting: %d, %v", term, err)
	}
	if !r.Begin(context.Background(), p) || r.Confirm(context.Background()) != nil || r.Shown() != nil {
		t.Fatal("a single daemon does not act")
	}
	if h, problems := r.Report(); h != nil || problems != nil {
		t.Fatalf("a single daemon reports a lease: %+v %v", h, problems)
	}
	st, err := r.Command(p, policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour})
	if err != nil || st.Phase != policy.Paused {
		t.Fatalf("pause: %s, %v", st.Phase, err)
	}
}

// A standby does not act, and says who does; once it holds the lease it
// acts only after it took the shared state up in that term.
func TestStandbyNamesTheHolder(t *testing.T) {
	r := newRig()
	na, nb := r.node("dr-a", "a"), r.node("dr-b", "b")
	r.take(t, na)
	b := NewHA(nb, nopSteps{}, zap.NewNop())
	pb := newFakePair(policy.State{Phase: policy.Healthy})
	if _, err := b.Acting(); !errors.Is(err, ErrStandby) || !strings.Contains(err.Error(), "no daemon is known") {
		t.Fatalf("b's refusal before its first round: %v", err)
	}
	nb.Lease.Step(context.Background())
	if b.Begin(context.Background(), pb) {
		t.Fatal("b decides while a holds the lease")
	}
	_, err := b.Acting()
	if !errors.Is(err, ErrStandby) || !strings.Contains(err.Error(), "dr-a holds the lease") {
		t.Fatalf("b's refusal: %v", err)
	}
	if b.Confirm(context.Background()) == nil {
		t.Fatal("a standby's fencing check passed")
	}
	a := NewHA(na, nopSteps{}, zap.NewNop())
	if _, err := a.Acting(); !errors.Is(err, ErrStandby) {
		t.Fatalf("a acts before it took the shared state up: %v", err)
	}
	if !a.Begin(context.Background(), newFakePair(policy.State{Phase: policy.Healthy})) {
		t.Fatal("the holder does not decide")
	}
	if term, err := a.Acting(); err != nil || term != 1 {
		t.Fatalf("the holder: term %d, %v", term, err)
	}
}

// A holder whose journal cannot take the adopted state up does not act
// in that term, and publishes nothing: the state it would share is not
// the one the term started from.
func TestAdoptionNotJournaledIsNotActing(t *testing.T) {
	r := newRig()
	na, nb := r.node("dr-a", "a"), r.node("dr-b", "b")
	r.take(t, na)
	a := NewHA(na, nopSteps{}, zap.NewNop())
	pa := newFakePair(policy.State{Phase: policy.Healthy})
	if !a.Begin(context.Background(), pa) {
		t.Fatal("a does not act")
	}
	if _, err := pa.Apply(policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(context.Background(), pa); err != nil {
		t.Fatal(err)
	}
	// a releases; b takes over but cannot journal what a published.
	if err := na.Lease.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.take(t, nb)
	b := NewHA(nb, nopSteps{}, zap.NewNop())
	pb := newFakePair(policy.State{Phase: policy.Healthy})
	pb.saveErr = errors.New("disk full")
	if b.Begin(context.Background(), pb) {
		t.Fatal("b decides without the adopted state")
	}
	b.Follow(context.Background(), pb)
	if sh := b.Shown(); sh == nil || sh.Phase != policy.Paused {
		t.Fatalf("b, not acting, shows %+v; a published paused", sh)
	}
	if _, err := b.Acting(); !errors.Is(err, ErrStandby) {
		t.Fatalf("b acts: %v", err)
	}
	if err := b.Publish(context.Background(), pb); !errors.Is(err, ErrStandby) {
		t.Fatalf("b published its own state over a's: %v", err)
	}
	pub, _, err := na.Shared.Read(context.Background())
	if err != nil || pub.Holder != "dr-a" {
		t.Fatalf("published: %+v, %v", pub, err)
	}
	// Once it can journal, it takes a's paused state up.
	pb.saveErr = nil
	if !b.Begin(context.Background(), pb) {
		t.Fatal("b does not act once its journal is writable")
	}
	if st, _, _ := pb.Shared(); st.Phase != policy.Paused {
		t.Fatalf("b adopted %s, a published paused", st.Phase)
	}
}

// An approve that names no request, queued for the holder and applied an
// hour later (longer than approval_timeout): it was meant for another
// moment and is refused; applied at once, the same approve promotes.
func TestStaleQueuedApproveWithoutAnIDIsRefused(t *testing.T) {
	for _, age := range []time.Duration{time.Hour, time.Second} {
		t.Run(age.String(), func(t *testing.T) {
			p := newFakePair(policy.State{Phase: policy.LeaderDown, Reasons: []string{"down"}})
			p.rec.State.Since = p.now
			err := applyForwarded(p, policy.Command{Action: policy.ActApprove, By: "alice"}, p.now.Add(-age))
			st, _, _ := p.Shared()
			if age > time.Minute {
				if !errors.Is(err, policy.ErrConflict) || st.Phase != policy.LeaderDown {
					t.Fatalf("a stale approve: %v, phase %s", err, st.Phase)
				}
				return
			}
			if err != nil || st.Phase != policy.Promoting {
				t.Fatalf("a fresh approve: %v, phase %s", err, st.Phase)
			}
		})
	}
}

// A pause for an hour, asked 40 minutes before the holder applies it,
// ends when it was meant to; one that ran out before is refused.
func TestQueuedPauseEndsWhenAsked(t *testing.T) {
	p := newFakePair(policy.State{Phase: policy.Healthy})
	if err := applyForwarded(p, policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour}, p.now.Add(-40*time.Minute)); err != nil {
		t.Fatal(err)
	}
	st, _, _ := p.Shared()
	if want := p.now.Add(20 * time.Minute); st.Phase != policy.Paused || !st.PausedUntil.Equal(want) {
		t.Fatalf("paused until %s (%s), want %s", st.PausedUntil, st.Phase, want)
	}
	q := newFakePair(policy.State{Phase: policy.Healthy})
	err := applyForwarded(q, policy.Command{Action: policy.ActPause, By: "alice", For: time.Hour}, q.now.Add(-2*time.Hour))
	if st, _, _ := q.Shared(); !errors.Is(err, policy.ErrConflict) || st.Phase != policy.Healthy {
		t.Fatalf("a pause that ran out: %v, %s", err, st.Phase)
	}
}

// A published promotion carries its steps; what is published is what an
// adopting daemon reads back.
func TestPublishedPromotionCarriesItsSteps(t *testing.T) {
	p := promote.New("orders", "alice", false, time.Unix(1_000_000, 0))
	p.Steps = []promote.Step{{Name: promote.StepStop, Target: "orders-1", Status: promote.StepDone, Term: 1}}
	b, err := json.Marshal(PublishedPromotion{Promotion: p, Steps: p.Steps})
	if err != nil {
		t.Fatal(err)
	}
	var back PublishedPromotion
	if err := json.Unmarshal(b, &back); err != nil || back.Promotion == nil || back.ID != p.ID || len(back.Steps) != 1 || back.Steps[0].Target != "orders-1" {
		t.Fatalf("%s -> %+v, %v", b, back, err)
	}
}

// A holder that cannot act (its journal unwritable, or the shared state
// not taken up) for MaxStuck cycles in a row gives the lease up; a cycle
// in which it can act starts the count again.
func TestHolderThatCannotActGivesTheLeaseUp(t *testing.T) {
	r := newRig()
	na := r.node("dr-a", "a")
	r.take(t, na)
	a := NewHA(na, nopSteps{}, zap.NewNop())
	p := newFakePair(policy.State{Phase: policy.Healthy})
	if !a.Begin(context.Background(), p) {
		t.Fatal("a does not act")
	}
	p.jerr = errors.New("state_dir read-only")
	for i := range MaxStuck - 1 {
		a.Begin(context.Background(), p)
		if _, held := na.Lease.Held(); !held {
			t.Fatalf("gave the lease up after %d cycles, want %d", i+1, MaxStuck)
		}
	}
	p.jerr = nil
	a.Begin(context.Background(), p) // it can act: the count starts again
	p.jerr = errors.New("state_dir read-only")
	for i := range MaxStuck - 1 {
		a.Begin(context.Background(), p)
		if _, held := na.Lease.Held(); !held {
			t.Fatalf("a cycle that could act did not reset the count: gave up after %d more", i+1)
		}
	}
	a.Begin(context.Background(), p)
	if _, held := na.Lease.Held(); held {
		t.Fatalf("still holds the lease after %d cycles that could not act", MaxStuck)
	}
	if _, err := a.Acting(); !errors.Is(err, ErrStandby) {
		t.Fatalf("acts after giving the lease up: %v", err)
	}
}

// The executors' step journal with HA: every step with the promotion's
// term, the watcher told of each promotion journaled (it keeps the copy
// it publishes), and a publish asked for.
func TestJournalTermsStepsAndAsksForAPublish(t *testing.T) {
	r := newRig()
	na := r.node("dr-a", "a")
	a := NewHA(na, nopSteps{}, zap.NewNop())
	var rec recSteps
	var copied []string
	j := a.Journal(&rec, func(p *promote.Promotion) { copied = append(copied, p.ID) })
	p := promote.New("orders", "alice", false, time.Unix(1_000_000, 0))
	p.Term = 4
	if err := j.AppendSteps("orders", p, promote.Step{Name: promote.StepPlan, Status: promote.StepDone}); err != nil {
		t.Fatal(err)
	}
	if len(rec.steps) != 1 || rec.steps[0].Term != 4 {
		t.Fatalf("journaled %+v, want one step of term 4", rec.steps)
	}
	if len(copied) != 1 || copied[0] != p.ID {
		t.Fatalf("the watcher was told of %v", copied)
	}
	select {
	case <-a.kick:
	default:
		t.Fatal("no publish asked for after a step")
	}
	// A started step is refused without the lease: nothing journaled.
	err := j.AppendSteps("orders", p, promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted})
	if err == nil || len(rec.steps) != 1 {
		t.Fatalf("a started step without the lease: %v, %d journaled", err, len(rec.steps))
	}
}

type recSteps struct{ steps []promote.Step }

func (r *recSteps) AppendSteps(_ string, _ *promote.Promotion, steps ...promote.Step) error {
	r.steps = append(r.steps, steps...)
	return nil
}
