package watch

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// recorder is a Notifier that records events and answers vetoes.
type recorder struct {
	mu     sync.Mutex
	events []hooks.Event
	vetoes int
	veto   error // nil: no veto hook says no
	hasVet bool
}

func (r *recorder) Notify(ev hooks.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) Veto(context.Context, hooks.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vetoes++
	return r.veto
}

func (r *recorder) HasVeto(string) bool { return r.hasVet }

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Event)
	}
	return out
}

func watcherWith(t *testing.T, st policy.State, n *recorder, pol *config.Policy) (*Watcher, *hookExecutor) {
	t.Helper()
	_, j := openJournal(t)
	rec := &journal.Record{Pair: "orders", State: st}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	ex := &hookExecutor{hook: func(int) {}}
	w := New(Config{Pair: &config.Pair{Name: "orders", Resolved: pol}, Exec: ex, Journal: j, Metrics: metrics.New(),
		Log: zap.NewNop(), Runtime: NewRuntime(rec), Hooks: n, URL: "http://drwatch.example:9464"})
	return w, ex
}

func TestVetoStopsOnlyUnattendedPromotions(t *testing.T) {
	freeze := &hooks.VetoError{Hook: "gate", Reason: "change freeze until 06:00 (exit status 3)"}
	cases := []struct {
		name    string
		state   policy.State
		record  *promote.Promotion
		veto    error
		runs    int
		phase   policy.Phase
		vetoes  int
		emitted []policy.Event
	}{
		{"auto promotion vetoed", policy.State{Phase: policy.Promoting}, nil, freeze, 0, policy.LeaderDown, 1, []policy.Event{policy.EvPromotionVetoed}},
		{"auto promotion allowed", policy.State{Phase: policy.Promoting}, nil, nil, 1, policy.Promoted, 1, []policy.Event{policy.EvPromotionStarted, policy.EvPromotionSucceeded}},
		{"the retry of an automatic attempt that changed nothing is vetted again", policy.State{Phase: policy.Promoting, Attempt: policy.Attempt{PromotionAttempts: 1, LastError: "timeout"}},
			&promote.Promotion{ID: "orders-1", By: "drwatch (auto mode)", Steps: []promote.Step{{Name: promote.StepPlan, Status: promote.StepDone}, {Name: promote.StepFence, Target: "orders-1", Status: promote.StepFailed}}},
			freeze, 0, policy.LeaderDown, 1, []policy.Event{policy.EvPromotionVetoed}},
		{"approved by a human: not asked", policy.State{Phase: policy.Promoting, ApprovalRequest: policy.ApprovalRequest{Approval: &policy.Answer{By: "alice"}}}, nil, freeze, 1, policy.Promoted, 0, []policy.Event{policy.EvPromotionSucceeded}},
		{"promoted by hand: not asked", policy.State{Phase: policy.Promoting, Attempt: policy.Attempt{PromotionByHand: true}}, nil, freeze, 1, policy.Promoted, 0, []policy.Event{policy.EvPromotionSucceeded}},
		{"a half-done promotion finishes: not asked", policy.State{Phase: policy.Promoting, Attempt: policy.Attempt{PromotionChanged: true, PromotionAttempts: 1}}, nil, freeze, 1, policy.Promoted, 0, []policy.Event{policy.EvPromotionSucceeded}},
		{"a promotion resumed after a crash with a stop sent finishes: not asked", policy.State{Phase: policy.Promoting},
			&promote.Promotion{ID: "orders-1", By: "drwatch (auto mode)", Steps: []promote.Step{{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted}}},
			freeze, 1, policy.Promoted, 0, []policy.Event{policy.EvPromotionSucceeded}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := &recorder{veto: c.veto, hasVet: true}
			c.state.Since = time.Now()
			w, ex := watcherWith(t, c.state, n, config.DefaultPolicy())
			w.rt.rec.Promotion = c.record
			_, err := w.Promote(context.Background(), false)
			if ex.runs != c.runs || n.vetoes != c.vetoes {
				t.Fatalf("executor ran %d times (want %d), veto asked %d times (want %d)", ex.runs, c.runs, n.vetoes, c.vetoes)
			}
			if got := w.Phase(); got != c.phase {
				t.Fatalf("phase %s, want %s (err %v)", got, c.phase, err)
			}
			if !slices.Equal(n.names(), policy.EventNames(c.emitted)) {
				t.Fatalf("events %v, want %v", n.names(), c.emitted)
			}
			if c.runs > 0 {
				return
			}
			if !errors.Is(err, ErrNotStarted) {
				t.Fatalf("err = %v, want ErrNotStarted", err)
			}
			st := w.rt.State()
			if st.Denial == nil || st.Denial.By != "veto hook gate" || w.rt.rec.Promotion != nil {
				t.Fatalf("after the veto: denial %+v, promotion record %+v", st.Denial, w.rt.rec.Promotion)
			}
			// The veto's reason is journaled and in the page.
			saved, _ := w.journal.Load("orders")
			last := saved.History[len(saved.History)-1]
			if !slices.Contains(last.Events, policy.EvPromotionVetoed) || !strings.Contains(strings.Join(last.Reasons, " "), "change freeze until 06:00") {
				t.Fatalf("journal's last transition %+v", last)
			}
			if ev := n.events[0]; !strings.Contains(strings.Join(ev.Reasons, " "), "change freeze") || ev.Approval == nil ||
				ev.Approval.ApproveCommand != "drwatch approve --server http://drwatch.example:9464 --pair orders" {
				t.Fatalf("vetoed event %+v approval %+v", ev, ev.Approval)
			}
			// A human can still approve (and is not vetoed).
			if _, err := w.Command(policy.Command{Action: policy.ActApprove, By: "alice", Reason: "leader is gone for good"}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Promote(context.Background(), false); err != nil || ex.runs != 1 || n.vetoes != 1 {
				t.Fatalf("approved after a veto: err %v, runs %d, vetoes %d", err, ex.runs, n.vetoes)
			}
		})
	}
}

// promotion_started reaches the hooks only once the veto hooks allow the
// promotion: nobody acts on a promotion a veto then stops.
func TestPromotionStartedWaitsForTheVeto(t *testing.T) {
	for _, veto := range []error{nil, &hooks.VetoError{Hook: "gate", Reason: "no"}} {
		n := &recorder{veto: veto, hasVet: true}
		w, _ := watcherWith(t, policy.State{Phase: policy.LeaderDown, Since: time.Now()}, n, config.DefaultPolicy())
		if _, err := w.command(func(s policy.State, now time.Time) (policy.Decision, error) {
			d := policy.Decision{State: s, Events: []policy.Event{policy.EvPromotionStarted}, Promote: true, By: "drwatch (auto mode)"}
			d.State.Phase, d.State.Since = policy.Promoting, now
			return d, nil
		}, "", nil); err != nil {
			t.Fatal(err)
		}
		if got := n.names(); len(got) != 0 {
			t.Fatalf("before the veto, the hooks heard %v", got)
		}
		_, _ = w.Promote(context.Background(), false)
		want := []policy.Event{policy.EvPromotionStarted, policy.EvPromotionSucceeded}
		if veto != nil {
			want = []policy.Event{policy.EvPromotionVetoed}
		}
		if got := n.names(); !slices.Equal(got, policy.EventNames(want)) {
			t.Fatalf("veto %v: events %v, want %v", veto, got, want)
		}
	}
}

func TestApprovalRequiredSaysHowToAnswer(t *testing.T) {
	pol := config.DefaultPolicy()
	pol.OnApprovalTimeout = "promote"
	asked := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	st := policy.State{Phase: policy.AwaitingApproval, Since: asked, Reasons: []string{"leader unreachable for 31s"},
		ApprovalRequest: policy.ApprovalRequest{ApprovalID: "orders-q1", ApprovalRequested: asked}}
	n := &recorder{}
	w, _ := watcherWith(t, st, n, pol)
	w.rt.mu.Lock()
	ev := w.eventLocked(policy.EvApprovalRequired, policy.LeaderDown, "")
	w.rt.mu.Unlock()
	a := ev.Approval
	if a == nil || a.ID != "orders-q1" || !a.ExpiresAt.Equal(asked.Add(15*time.Minute)) {
		t.Fatalf("approval %+v", a)
	}
	for got, want := range map[string]string{
		a.ApproveCommand:  "drwatch approve --server http://drwatch.example:9464 --pair orders --id orders-q1",
		a.DenyCommand:     "drwatch deny --server http://drwatch.example:9464 --pair orders",
		a.ApproveAPI:      `curl -X POST -H "Authorization: Bearer $DRWATCH_API_TOKEN" -d '{"id":"orders-q1"}' http://drwatch.example:9464/api/v1/pairs/orders/approve`,
		a.OnExpiry:        "drwatch promotes if the RPO guard passes then, and holds otherwise",
		ev.IncidentKey:    "drwatch/orders/outage",
		string(ev.Action): "trigger",
		ev.Next:           "drwatch waits for a human to approve or deny until 2026-12-01T03:15:00Z",
		ev.StatusURL:      "http://drwatch.example:9464/",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if ev.Lag == nil || ev.Lag.RPOGuardPasses || ev.Lag.RPOGuard == "" {
		t.Errorf("lag %+v: no reading, so the guard fails and says why", ev.Lag)
	}
	if !strings.Contains(ev.Text(), a.ApproveCommand) || !strings.Contains(ev.Text(), "leader unreachable for 31s") {
		t.Errorf("text lacks the command or the reason:\n%s", ev.Text())
	}
}

// Human commands raise their events to the hooks, with who did it.
func TestCommandsNotifyHooks(t *testing.T) {
	st := policy.State{Phase: policy.AwaitingApproval, Since: time.Now(),
		ApprovalRequest: policy.ApprovalRequest{ApprovalID: "orders-q1", ApprovalRequested: time.Now()}}
	n := &recorder{}
	w, _ := watcherWith(t, st, n, config.DefaultPolicy())
	if _, err := w.Command(policy.Command{Action: policy.ActDeny, By: "bob", Reason: "the leader's site is coming back"}); err != nil {
		t.Fatal(err)
	}
	if len(n.events) != 1 || n.events[0].Event != policy.EvApprovalDenied.String() || n.events[0].By != "bob" ||
		n.events[0].Approval == nil || n.events[0].Approval.Reason != "the leader's site is coming back" {
		t.Fatalf("events %+v", n.events)
	}
}

// drwatch promote is a human's command: resuming an unattended promotion
// the daemon left half-started, it does not ask the veto hooks.
func TestPromoteByHandIsNeverVetoed(t *testing.T) {
	n := &recorder{veto: &hooks.VetoError{Hook: "gate", Reason: "no"}, hasVet: true}
	w, ex := watcherWith(t, policy.State{Phase: policy.Promoting, Since: time.Now()}, n, config.DefaultPolicy())
	if _, err := w.PromoteByHand(context.Background(), "alice", "", false); err != nil || ex.runs != 1 || n.vetoes != 0 {
		t.Fatalf("err %v, runs %d, vetoes asked %d", err, ex.runs, n.vetoes)
	}
}

// A promotion that left indices without an active primary says so in the
// page that closes the outage, and in the metric.
func TestPromotionSucceededNamesIndicesNotWritable(t *testing.T) {
	n := &recorder{}
	w, ex := watcherWith(t, policy.State{Phase: policy.Promoting, Since: time.Now()}, n, config.DefaultPolicy())
	ex.res = &promote.Result{Promoted: []string{"orders-1"}, Unassigned: map[string]string{"orders-2": "1 of 1 primaries not active (health red)"},
		Detail: "1 of 2 indices writable, 1 standalone but not yet writable (orders-2: 1 of 1 primaries not active (health red))"}
	if _, err := w.Promote(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	var got *hooks.Event
	for i := range n.events {
		if n.events[i].Event == policy.EvPromotionSucceeded.String() {
			got = &n.events[i]
		}
	}
	if got == nil || !strings.Contains(got.Summary, "1 of the follower indices take no writes yet") {
		t.Fatalf("promotion_succeeded = %+v", got)
	}
	if v := testutil.ToFloat64(w.metrics.PromotionIndices.WithLabelValues("orders", "unassigned")); v != 1 {
		t.Errorf(`drwatch_promotion_indices{outcome="unassigned"} = %v, want 1`, v)
	}
}
