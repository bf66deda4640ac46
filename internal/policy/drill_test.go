package policy_test

import (
	"errors"
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
		var promote bool
		for range 10 {
			promote = promote || p.decide(interval, func(at time.Time) *ob { return healthy(at).leaderDown(observe.ClassConnRefused) }).Promote
		}
		if !promote {
			t.Fatalf("after the drill from %s, a real outage did not promote: %+v", from.Phase, p.st)
		}
	}
}
