package policy_test

import (
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

var allModes = []string{config.ModeAuto, config.ModeSemiAuto, config.ModeManual, config.ModeDryRun}

// drwatch is cut off from the leader while the follower still replicates
// from it: isolated, and no promotion ever.
func TestScenarioWatcherCutOff(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode))
			p.decide(0, up)
			classes := []observe.Class{observe.ClassTimeout, observe.ClassConnRefused, observe.ClassNetwork, observe.ClassDNS, observe.ClassTLS}
			for i := range 1000 {
				c := classes[i%len(classes)]
				d := p.decide(interval, func(at time.Time) *ob { return healthy(at).leaderDown(c) })
				if d.Promote || d.WouldPromote || d.State.Phase != policy.Isolated {
					t.Fatalf("cycle %d: %s promote=%v would=%v: %q", i, d.State.Phase, d.Promote, d.WouldPromote, d.State.Reasons)
				}
				if (i == 0 && !equalEvents(d.Events, policy.EvWatcherIsolated)) || (i > 0 && len(d.Events) != 0) {
					t.Fatalf("cycle %d: events %q", i, d.Events)
				}
				requireReasons(t, d, "last: "+string(c), "drwatch itself is cut off")
			}
		})
	}
}

// Isolated for an hour, then the follower's remote flaps once: drwatch's
// own thresholds were met long ago and the follower now agrees, but the
// last good reading is an hour old at the moment the follower lost the
// leader (the leader took writes all along), so no mode promotes by
// itself.
func TestScenarioIsolatedThenWitnessBlip(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode, withOnTimeout("promote")))
			p.decide(0, up)
			for range 720 {
				p.decide(interval, cutOff)
			}
			d := p.decide(interval, gone)
			if d.Promote || d.WouldPromote || d.State.Phase != policy.Suspect {
				t.Fatalf("acted on a one-cycle witness after an hour isolated: %s %q", d.State.Phase, d.State.Reasons)
			}
			requireReasons(t, d, "the follower without the leader in 2 probes in a row (1 so far)")
			// Confirmed on the next probe: down, but the reading is an
			// hour old at the moment the follower lost the leader.
			d = p.decide(interval, gone)
			if d.Promote || d.WouldPromote {
				t.Fatalf("promoted after an hour isolated: %q", d.State.Reasons)
			}
			requireReasons(t, d, "RPO guard fails: last lag reading (0 ops) is 1h0m5s before the leader was lost")
			for i := range 360 {
				if d := p.decide(interval, gone); d.Promote || d.WouldPromote {
					t.Fatalf("cycle %d: promoted: %q", i, d.State.Reasons)
				}
			}
		})
	}
}

// The leader freezes for less than leader_down_after, then answers: no
// promotion, and each freeze starts the clock afresh.
func TestScenarioShortFreeze(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode))
			p.decide(0, up)
			frozen := func(at time.Time) *ob { return gone(at).leaderDown(observe.ClassTimeout) }
			for round := range 100 {
				p.run(seq(toSuspect(frozen), // 25s, 6 probes
					one(step{name: "back", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered}})))
				if p.st.FailedProbes != 0 || !p.st.OutageStart.IsZero() {
					t.Fatalf("round %d: clock not reset: %+v", round, p.st)
				}
			}
		})
	}
}

// A flapping leader: repeated outages, each shorter than the threshold
// (but with many more failed probes than min_failed_probes), one good
// probe between them: never down, never promoted, and the clock resets on
// every good probe.
func TestScenarioFlappingLeader(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode, withOnTimeout("promote")))
			p.decide(0, up)
			for round := range 300 {
				down := 29 - round%5 // 25..29 failed probes, one a second
				for i := range down {
					d := p.decide(time.Second, gone)
					if d.Promote || d.WouldPromote || d.State.Phase != policy.Suspect {
						t.Fatalf("round %d probe %d: %s: %q", round, i, d.State.Phase, d.State.Reasons)
					}
					if i == 0 {
						requireReasons(t, d, "leader unreachable for 0s (1 failed probe in a row")
					}
				}
				d := p.decide(time.Second, up)
				if d.State.Phase != policy.Healthy || d.State.FailedProbes != 0 || !d.State.OutageStart.IsZero() {
					t.Fatalf("round %d: good probe did not reset: %+v", round, d.State)
				}
			}
		})
	}
}

// Lag above max_lag_operations when the leader dies, in auto: ask with the
// estimated loss; a human approves.
func TestScenarioLagTooHighInAuto(t *testing.T) {
	newPair(t, policyFor(config.ModeAuto)).run(seq(
		one(step{name: "lagging", obs: upLag(250000), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded},
			reasons: []string{"replication degraded: lag 250000 ops > max_lag_operations 1000"}}),
		toSuspect(gone),
		one(step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired},
			reasons: []string{"RPO guard fails: last lag 250000 ops (max 125000, in 2 indices) > max_lag_operations 1000: estimated loss 250000 operations",
				"awaiting approval (expires in 15m0s)"}}),
		repeat(10, step{name: "waiting", after: interval, obs: gone, phase: policy.AwaitingApproval, reasons: []string{"estimated loss 250000 operations"}}),
		one(step{name: "approve", cmd: approve("alice"), phase: policy.Promoting, promote: true,
			events: []policy.Event{policy.EvApprovalGranted, policy.EvPromotionStarted}, reasons: []string{"promotion approved by alice"}}),
	))
}

// A human's denial holds for the whole outage: a one-cycle flap of the
// follower's witness (drwatch briefly isolated, or the follower briefly
// unreachable) must not drop it, or on_approval_timeout: promote (or auto,
// once a hold ends) would promote against it.
func TestScenarioDenialSurvivesWitnessFlap(t *testing.T) {
	flaps := map[string]func(time.Time) *ob{
		"follower sees the leader for a cycle": cutOff,
		"follower unreachable for a cycle":     func(at time.Time) *ob { return gone(at).followerUnreachable() },
		"follower's remote unreadable":         func(at time.Time) *ob { return gone(at).remoteUnreadable() },
	}
	for name, flap := range flaps {
		t.Run("semi-auto, on_approval_timeout promote: "+name, func(t *testing.T) {
			p := newPair(t, policyFor(config.ModeSemiAuto, withOnTimeout("promote")))
			p.run(seq(one(stepHealthy), toSuspect(gone),
				one(step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}}),
				one(step{name: "deny", cmd: deny("bob"), phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalDenied}})))
			for i := range 720 {
				o := gone
				if i%100 == 3 {
					o = flap
				}
				d := p.decide(interval, o)
				if d.Promote {
					t.Fatalf("cycle %d: promoted against a denial: %q", i, d.State.Reasons)
				}
				// The flap cycle, and the next (the witness must hold for
				// two probes again), are not leader_down.
				if i%100 != 3 && i%100 != 4 {
					if d.State.Phase != policy.LeaderDown {
						t.Fatalf("cycle %d: %s: %q", i, d.State.Phase, d.State.Reasons)
					}
					requireReasons(t, d, "promotion denied by bob")
				}
			}
			// The leader answering ends the episode and the denial.
			if d := p.decide(interval, up); d.State.Denial != nil {
				t.Fatal("denial survived the leader's recovery")
			}
		})
		t.Run("auto, denied in cooldown, cooldown ends: "+name, func(t *testing.T) {
			p := newPair(t, policyFor(config.ModeAuto))
			before, _ := outageAt(time.Minute)
			p.run(seq(episode(), before,
				one(step{name: "down in cooldown", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}}),
				one(step{name: "deny", cmd: deny("bob"), phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalDenied}})))
			for i := range 2 * 720 { // two hours: the cooldown ends after one
				o := gone
				if i%50 == 7 {
					o = flap
				}
				if d := p.decide(interval, o); d.Promote {
					t.Fatalf("cycle %d: promoted against a denial: %q", i, d.State.Reasons)
				}
			}
		})
	}
}
