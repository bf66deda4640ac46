package policy_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// A witness blip inside an outage (leader_down -> suspect -> leader_down)
// is the same episode: leader_down is paged once, and the cooldown starts
// only when the leader answers again, whatever phase it answers in.
func TestEpisodeSpansWitnessBlips(t *testing.T) {
	p := newPair(t, policyFor(config.ModeManual, withCooldown(time.Hour)))
	p.decide(0, up)
	downs := 0
	var last policy.Decision
	for i := range 40 {
		o := gone
		if i%10 == 5 {
			o = cutOff // the follower sees the leader for one probe
		}
		last = p.decide(interval, o)
		if slices.Contains(last.Events, policy.EvLeaderDown) {
			downs++
		}
	}
	if downs != 1 {
		t.Fatalf("leader_down paged %d times in one episode", downs)
	}
	if last.State.Phase != policy.LeaderDown {
		t.Fatalf("phase %s", last.State.Phase)
	}
	// The leader answers from suspect: the episode still ends, cooldown on.
	p.decide(interval, gone)
	p.decide(interval, cutOff) // isolated for one probe
	d := p.decide(interval, up)
	if d.State.EpisodeEnd.IsZero() || d.State.Episode {
		t.Fatalf("episode not ended: %+v", d.State)
	}
	// A new outage inside the cooldown: auto would hold.
	p.pol = policyFor(config.ModeAuto, withCooldown(time.Hour))
	p.decide(interval, gone)
	for range 10 {
		d = p.decide(interval, gone)
	}
	if d.Promote || d.State.Phase != policy.AwaitingApproval {
		t.Fatalf("auto in cooldown: %s promote=%v %q", d.State.Phase, d.Promote, d.State.Reasons)
	}
	requireReasons(t, d, "in cooldown until")
}

// A dry-run counts its "would promote" once per episode.
func TestDryRunWouldPromoteOncePerEpisode(t *testing.T) {
	p := newPair(t, policyFor(config.ModeDryRun))
	p.decide(0, up)
	would := 0
	for range 100 {
		if p.decide(interval, gone).WouldPromote {
			would++
		}
	}
	if would != 1 {
		t.Fatalf("WouldPromote %d times, want 1", would)
	}
}

// Pausing a failed promotion stops its retries; resuming (or the pause
// expiring) brings it back to failed and retries at once - never to
// healthy, which would forget a half-done promotion.
func TestPauseFailedPromotion(t *testing.T) {
	pol := policyFor(config.ModeAuto)
	st := policy.PromotionFailed(policy.State{Phase: policy.Promoting}, "boom", true, t0).State
	d, err := policy.Pause(st, t0.Add(time.Hour), "alice", "investigating", t0)
	if err != nil || d.State.Phase != policy.Paused {
		t.Fatalf("Pause from failed: %+v %v", d.State, err)
	}
	// Long past the retry time: paused, no retry.
	if d2 := policy.Decide(d.State, healthy(t0.Add(30*time.Minute)).get(), pol, t0.Add(30*time.Minute)); d2.Promote || d2.State.Phase != policy.Paused {
		t.Fatalf("retried while paused: %+v", d2.State)
	}
	r, err := policy.Resume(d.State, "alice", t0.Add(40*time.Minute))
	if err != nil || r.State.Phase != policy.Failed {
		t.Fatalf("Resume: %+v %v", r.State, err)
	}
	if d3 := policy.Decide(r.State, healthy(t0.Add(40*time.Minute)).get(), pol, t0.Add(40*time.Minute)); !d3.Promote || d3.State.Phase != policy.Promoting {
		t.Fatalf("not retried after resume: %+v", d3.State)
	}
	// Expiry works the same way.
	if d4 := policy.Decide(d.State, healthy(t0.Add(2*time.Hour)).get(), pol, t0.Add(2*time.Hour)); d4.State.Phase != policy.Failed {
		t.Fatalf("expired pause: %+v", d4.State)
	}
	// In dry-run, a failed promotion is not retried.
	if d5 := policy.Decide(st, healthy(t0.Add(time.Hour)).get(), policyFor(config.ModeDryRun), t0.Add(time.Hour)); d5.Promote || d5.State.Phase != policy.Failed {
		t.Fatalf("dry-run retried: %+v", d5.State)
	}
	// Pausing again extends the pause and still returns to failed.
	e, err := policy.Pause(d.State, t0.Add(3*time.Hour), "bob", "", t0.Add(time.Minute))
	if err != nil || e.State.PausedFrom != policy.Failed {
		t.Fatalf("extending: %+v %v", e.State, err)
	}
	if _, err := policy.Pause(policy.State{Phase: policy.Promoted}, t0, "bob", "", t0); !errors.Is(err, policy.ErrConflict) {
		t.Fatalf("pausing a promoted pair: %v", err)
	}
}

// A leader that answers its health with a 4xx (a rotated password) or with
// a body drwatch cannot read is alive: an observation error, never outage
// progress - even with the follower's witness gone and no witness required.
func TestLeaderAnsweringWithAnErrorIsNotAnOutage(t *testing.T) {
	for _, f := range []observe.Failure{
		{Class: observe.ClassAuth, Status: 401, Message: "auth"},
		{Class: observe.ClassAuth, Status: 403, Message: "forbidden"},
		{Class: observe.ClassHTTP4xx, Status: 429, Type: "circuit_breaking_exception", Message: "too many requests"},
		{Class: observe.ClassMalformed, Message: "not JSON"},
	} {
		t.Run(string(f.Class)+" "+strconv.Itoa(f.Status), func(t *testing.T) {
			p := newPair(t, policyFor(config.ModeAuto, withWitness(false)))
			p.decide(0, up)
			for i := range 100 {
				d := p.decide(interval, func(at time.Time) *ob {
					b := gone(at)
					b.o.Leader = observe.Leader{Failure: &f}
					return b
				})
				if d.State.Phase != policy.Healthy || d.Promote || d.State.FailedProbes != 0 {
					t.Fatalf("cycle %d: %s (failed probes %d): %q", i, d.State.Phase, d.State.FailedProbes, d.State.Reasons)
				}
			}
		})
	}
	// A 404 that is not OpenSearch's (an ingress whose backend is gone) and
	// a 5xx are outage evidence.
	for _, f := range []observe.Failure{
		{Class: observe.ClassHTTP4xx, Status: 404, Message: "default backend - 404"},
		{Class: observe.ClassHTTP5xx, Status: 502, Message: "bad gateway"},
	} {
		p := newPair(t, policyFor(config.ModeAuto, withWitness(false)))
		p.decide(0, up)
		d := p.decide(interval, func(at time.Time) *ob {
			b := gone(at)
			b.o.Leader = observe.Leader{Failure: &f}
			return b
		})
		if d.State.Phase != policy.Suspect || d.State.FailedProbes != 1 {
			t.Fatalf("%d: %s %d", f.Status, d.State.Phase, d.State.FailedProbes)
		}
	}
	// A 503 from OpenSearch itself too.
	p := newPair(t, policyFor(config.ModeAuto, withWitness(false)))
	p.decide(0, up)
	d := p.decide(interval, func(at time.Time) *ob {
		b := gone(at)
		b.o.Leader = observe.Leader{Failure: &observe.Failure{Class: observe.ClassHTTP5xx, Status: 503, Message: "no cluster manager"}}
		return b
	})
	if d.State.Phase != policy.Suspect || d.State.FailedProbes != 1 {
		t.Fatalf("503: %s %d", d.State.Phase, d.State.FailedProbes)
	}
}

// One failed read during a rolling restart, then an idle leader: the next
// probe with no new failed read makes readings good again, so a real
// outage later is judged on a fresh reading.
func TestStaleReadingsRecoverOnAnIdleLeader(t *testing.T) {
	p := newPair(t, policyFor(config.ModeAuto))
	p.decide(0, func(at time.Time) *ob { return healthy(at).stats(100, 10) })
	p.decide(interval, func(at time.Time) *ob { return healthy(at).stats(100, 11) }) // one failed read
	before := p.st.LastGoodLag.At
	d := p.decide(interval, func(at time.Time) *ob { return healthy(at).stats(100, 11) }) // flat again
	if !d.State.LastGoodLag.At.After(before) {
		t.Fatalf("readings stayed stale after the failed reads stopped: %v vs %v", d.State.LastGoodLag.At, before)
	}
}

// An outage a pause interrupted is closed when the leader answers after
// the resume: leader_recovered, once, so that the page it opened resolves.
func TestPauseDuringOutageThenRecoveryClosesIt(t *testing.T) {
	pol := policyFor(config.ModeSemiAuto)
	st := policy.Initial(t0)
	st = policy.Decide(st, healthy(t0).get(), pol, t0).State
	at := t0.Add(time.Second)
	d := policy.Decide(st, healthy(at).leaderDown(observe.ClassConnRefused).get(), pol, at)
	if !slices.Contains(d.Events, policy.EvWatcherIsolated) || !d.State.OutageRaised {
		t.Fatalf("no outage raised: %v %+v", d.Events, d.State)
	}
	p, err := policy.Pause(d.State, time.Time{}, "alice", "leader maintenance", at)
	if err != nil {
		t.Fatal(err)
	}
	r, err := policy.Resume(p.State, "alice", at.Add(time.Hour))
	if err != nil || r.State.Phase != policy.Healthy {
		t.Fatalf("resume: %+v %v", r.State, err)
	}
	at = at.Add(time.Hour + time.Second)
	d = policy.Decide(r.State, healthy(at).get(), pol, at)
	if !slices.Contains(d.Events, policy.EvLeaderRecovered) || d.State.OutageRaised {
		t.Fatalf("the leader answers after the resume: events %v, outage raised %v", d.Events, d.State.OutageRaised)
	}
	if again := policy.Decide(d.State, healthy(at.Add(time.Second)).get(), pol, at.Add(time.Second)); slices.Contains(again.Events, policy.EvLeaderRecovered) {
		t.Fatalf("leader_recovered raised twice: %v", again.Events)
	}
}
