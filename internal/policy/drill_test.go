package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// A failover drill starts only on a healthy pair no other drill owns.
func TestDrillStartOnlyWhenHealthy(t *testing.T) {
	for _, st := range []policy.State{
		{Phase: policy.Suspect}, {Phase: policy.Isolated}, {Phase: policy.LeaderDown},
		{Phase: policy.AwaitingApproval}, {Phase: policy.Promoting}, {Phase: policy.Promoted},
		{Phase: policy.Failed}, {Phase: policy.Paused},
		{Phase: policy.Healthy, Drill: "other/1"},
	} {
		d, err := policy.DrillStart(st, "weekly/1", "drill weekly", t0)
		if !errors.Is(err, policy.ErrConflict) || d.Promote || len(d.Events) > 0 || d.State.Drill != st.Drill {
			t.Errorf("DrillStart from %s (degraded %v, drill %q): %v, %+v", st.Phase, st.Degraded, st.Drill, err, d)
		}
	}
	busy := policy.Initial(t0)
	busy.Degraded = true // lag over the guard under writes: a graceful promotion waits for it
	d, err := policy.DrillStart(busy, "weekly/1", "drill weekly", t0)
	if err != nil || !d.Promote || d.State.Phase != policy.Promoting || d.State.Drill != "weekly/1" || !d.State.PromotionByHand {
		t.Fatalf("DrillStart on a healthy pair: %v %+v", err, d.State)
	}
}

// While a drill owns a promoted or failed pair, nothing is decided: the
// old leader answering (write-blocked by the drill) is neither reported
// nor fenced, a failed drill promotion is never retried - and once the
// drill ends, the pair is watched afresh and a real outage promotes it.
func TestDrillOwnsThePairUntilItEnds(t *testing.T) {
	pol := policyFor(config.ModeAuto, withWitness(false))
	st, err := policy.DrillStart(policy.Initial(t0), "weekly/1", "drill weekly", t0)
	if err != nil {
		t.Fatal(err)
	}
	promoted := policy.PromotionSucceeded(st.State, "2 indices writable", t0.Add(time.Second)).State
	for i := range 20 {
		now := t0.Add(time.Duration(i) * time.Minute)
		for _, o := range []observe.Observation{healthy(now).get(), healthy(now).leaderDown(observe.ClassConnRefused).get()} {
			if d := policy.Decide(promoted, o, pol, now); d.FenceOldLeader || d.Promote || len(d.Events) > 0 || d.State.Phase != policy.Promoted {
				t.Fatalf("a drill's promoted pair decided something: %+v", d)
			}
		}
	}
	failed := policy.PromotionFailed(st.State, "boom", true, t0.Add(time.Second)).State
	if d := policy.Decide(failed, healthy(t0.Add(time.Hour)).get(), pol, t0.Add(time.Hour)); d.Promote || d.State.Phase != policy.Failed {
		t.Fatalf("a drill's failed promotion was retried: %+v", d)
	}

	if _, err := policy.DrillEnded(promoted, "other/2", "", t0); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("another drill ended this one: %v", err)
	}
	if _, err := policy.DrillEnded(st.State, "weekly/1", "", t0); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("a drill ended while promoting: %v", err)
	}
	if _, err := policy.DrillEnded(policy.State{Phase: policy.Promoted}, "weekly/1", "", t0); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("a drill ended a real promotion: %v", err)
	}
	for _, from := range []policy.State{promoted, failed} {
		end, err := policy.DrillEnded(from, "weekly/1", "2 indices syncing, lag 0", t0.Add(2*time.Minute))
		if err != nil || end.State.Phase != policy.Healthy || end.State.Drill != "" || !end.Abandon || !end.State.PromotedAt.IsZero() {
			t.Fatalf("DrillEnded from %s: %v %+v", from.Phase, err, end)
		}
		// Watched afresh: a real outage promotes.
		p := newPairAt(t, pol, t0.Add(2*time.Minute))
		p.st = end.State
		p.decide(interval, func(at time.Time) *ob { return healthy(at) })
		p.decide(interval, func(at time.Time) *ob { return healthy(at) }) // a second reading: the write rate
		var promote bool
		for range 10 {
			promote = promote || p.decide(interval, func(at time.Time) *ob { return healthy(at).leaderDown(observe.ClassConnRefused) }).Promote
		}
		if !promote {
			t.Fatalf("after the drill from %s, a real outage did not promote: %+v", from.Phase, p.st)
		}
	}
}

// While a drill owns the pair, a human's command is refused (the drill's
// restore would undo it: a promotion's writes deleted with the drill's
// copies) - all but release, which takes the pair back: a promoted pair
// stays promoted for good, a failed drill promotion is paused, not
// retried, and resuming it retries the promotion.
func TestDrillOwnedPairRefusesCommandsUntilReleased(t *testing.T) {
	st, err := policy.DrillStart(policy.Initial(t0), "monthly/1", "drill monthly", t0)
	if err != nil {
		t.Fatal(err)
	}
	promoted := policy.PromotionSucceeded(st.State, "1 index writable", t0.Add(time.Second)).State
	failed := policy.PromotionFailed(st.State, "boom", true, t0.Add(time.Second)).State
	for _, s := range []policy.State{promoted, failed, st.State} {
		for _, a := range []string{policy.ActApprove, policy.ActDeny, policy.ActPause, policy.ActResume, policy.ActPromote} {
			d, err := policy.Command{Action: a, By: "alice"}.Apply(s, t0.Add(time.Minute))
			if !errors.Is(err, policy.ErrConflict) || !strings.Contains(err.Error(), "release it from the drill") || d.Promote || len(d.Events) > 0 {
				t.Errorf("%s on a drill's %s pair: %v %+v", a, s.Phase, err, d)
			}
		}
	}
	if _, err := (policy.Command{Action: policy.ActRelease, By: "alice"}).Apply(st.State, t0); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("released while the drill's promotion runs: %v", err)
	}
	if _, err := (policy.Command{Action: policy.ActRelease, By: "alice"}).Apply(policy.Initial(t0), t0); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("released a pair no drill owns: %v", err)
	}
	r, err := policy.Command{Action: policy.ActRelease, By: "alice", Reason: "report lost"}.Apply(promoted, t0.Add(time.Minute))
	if err != nil || r.State.Drill != "" || r.State.Phase != policy.Promoted {
		t.Fatalf("release of a promoted drill pair: %v %+v", err, r.State)
	}
	if _, err := (policy.Command{Action: policy.ActPromote, By: "alice"}).Apply(r.State, t0.Add(2*time.Minute)); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("a released promoted pair was promoted again: %v", err)
	}
	r, err = policy.Command{Action: policy.ActRelease, By: "alice"}.Apply(failed, t0.Add(time.Minute))
	if err != nil || r.State.Drill != "" || r.State.Phase != policy.Paused || r.State.PausedFrom != policy.Failed || !r.State.PausedUntil.IsZero() {
		t.Fatalf("release of a failed drill promotion: %v %+v", err, r.State)
	}
	pol := policyFor(config.ModeAuto)
	if d := policy.Decide(r.State, healthy(t0.Add(time.Hour)).get(), pol, t0.Add(time.Hour)); d.Promote || d.State.Phase != policy.Paused {
		t.Fatalf("a released failed drill promotion was retried unasked: %+v", d.State)
	}
	res, err := policy.Command{Action: policy.ActResume, By: "alice"}.Apply(r.State, t0.Add(time.Hour))
	if err != nil || res.State.Phase != policy.Failed {
		t.Fatalf("resume after release: %v %+v", err, res.State)
	}
}
