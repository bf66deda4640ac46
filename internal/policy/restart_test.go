package policy_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// roundTrip stores and reloads a state as the journal does.
func roundTrip(t *testing.T, st policy.State) policy.State {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out policy.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// midOutage returns a semi-auto pair awaiting approval: the leader has
// been down for 30s over 7 probes with the follower's witness, and the
// guard passes. Switched to auto, the next cycle would promote.
func midOutage(t *testing.T) *pair {
	p := newPair(t, policyFor(config.ModeSemiAuto))
	p.run(seq(one(stepHealthy), toSuspect(gone),
		one(step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}})))
	return p
}

func TestRestartedMidOutage(t *testing.T) {
	t.Run("control: without a restart the saved state promotes at once", func(t *testing.T) {
		p := midOutage(t)
		p.pol = policyFor(config.ModeAuto)
		if d := p.decide(interval, gone); !d.Promote {
			t.Fatalf("control did not promote: %q", d.State.Reasons)
		}
	})

	t.Run("thresholds are met afresh", func(t *testing.T) {
		p := midOutage(t)
		p.pol = policyFor(config.ModeAuto)
		saved := roundTrip(t, p.st)
		p.st = policy.Restarted(saved)
		if p.st.FailedProbes != 0 || !p.st.OutageStart.IsZero() || !p.st.WitnessLostSince.IsZero() || !p.st.ApprovalRequested.IsZero() {
			t.Fatalf("progress kept across the restart: %+v", p.st)
		}
		if p.st.LastGoodLag == nil || !reflect.DeepEqual(p.st.LastGoodLag, saved.LastGoodLag) {
			t.Fatal("the last good reading is data, not progress: it must be kept")
		}
		p.run(seq(
			repeat(6, step{name: "after restart", after: interval, obs: gone, phase: policy.Suspect}),
			one(step{name: "met again", after: interval, obs: gone, phase: policy.Promoting, promote: true,
				events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}}),
		))
	})

	t.Run("saved counters far past the thresholds", func(t *testing.T) {
		st := policy.State{
			Phase: policy.Suspect, Since: t0, Outage: policy.Outage{OutageStart: t0.Add(-10 * time.Hour), FailedProbes: 100000},
			Witness:     policy.Witness{WitnessLostSince: t0.Add(-10 * time.Hour)},
			Checkpoints: policy.Checkpoints{CheckpointFrozenSince: t0.Add(-11 * time.Hour), FailedReadRises: 5},
			Tracking:    policy.Tracking{LastGoodLag: &policy.LagReading{At: t0.Add(-time.Second)}}, Reasons: []string{"saved"},
		}
		for _, mode := range allModes {
			p := newPair(t, policyFor(mode))
			p.st = policy.Restarted(st)
			if p.st.CheckpointFrozenSince != (time.Time{}) || p.st.FailedReadRises != 0 {
				t.Fatalf("frozen-checkpoint progress kept: %+v", p.st)
			}
			d := p.decide(time.Second, gone)
			if d.Promote || d.WouldPromote || d.State.Phase != policy.Suspect {
				t.Fatalf("%s: first cycle after restart: %s promote=%v: %q", mode, d.State.Phase, d.Promote, d.State.Reasons)
			}
			requireReasons(t, d, "1 failed probe", "not yet down")
		}
	})

	t.Run("a long downtime makes the reading stale", func(t *testing.T) {
		p := midOutage(t)
		p.pol = policyFor(config.ModeAuto)
		p.st = policy.Restarted(p.st)
		p.clk.advance(time.Hour)
		var d policy.Decision
		for range 7 {
			d = p.decide(interval, gone)
		}
		if d.Promote || d.State.Phase != policy.AwaitingApproval {
			t.Fatalf("%s: %q", d.State.Phase, d.State.Reasons)
		}
		requireReasons(t, d, "RPO guard fails: last lag reading (0 ops) is 1h0m")
	})

	t.Run("a denial survives a restart", func(t *testing.T) {
		p := midOutage(t)
		p.pol = policyFor(config.ModeSemiAuto, withOnTimeout("promote"))
		p.run(one(step{name: "deny", cmd: deny("bob"), phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalDenied}}))
		p.st = policy.Restarted(roundTrip(t, p.st))
		for i := range 720 {
			if d := p.decide(interval, gone); d.Promote {
				t.Fatalf("cycle %d after restart: promoted against a denial: %q", i, d.State.Reasons)
			}
		}
		requireReasons(t, policy.Decision{State: p.st}, "promotion denied by bob")
	})

	t.Run("cooldown survives a restart", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(episode())
		p.st = policy.Restarted(roundTrip(t, p.st))
		before, _ := outageAt(time.Minute)
		p.run(seq(before, one(step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval,
			events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}, reasons: []string{"in cooldown"}})))
	})
}

// TestRestartedKeeps: promoting, promoted, failed and paused carry on as
// they were.
func TestRestartedKeeps(t *testing.T) {
	p := midOutage(t)
	promoting, _ := policy.Approve(p.st, p.st.ApprovalID, "alice", "", p.clk.now())
	failed := policy.PromotionFailed(promoting.State, "boom", true, p.clk.now())
	promoted := policy.PromotionSucceeded(promoting.State, "ok", p.clk.now())
	paused, _ := policy.Pause(p.st, p.clk.now().Add(time.Hour), "carol", "", p.clk.now())
	pausedForever, _ := policy.Pause(p.st, time.Time{}, "carol", "", p.clk.now())
	for _, st := range []policy.State{promoting.State, failed.State, promoted.State, paused.State, pausedForever.State} {
		saved := roundTrip(t, st)
		if got := policy.Restarted(saved); !reflect.DeepEqual(got, saved) {
			t.Errorf("%s changed across a restart:\n got %+v\nwant %+v", st.Phase, got, saved)
		}
	}
	// Restarted does not touch its argument's shared parts.
	st := p.st
	reading := *st.LastGoodLag
	_ = policy.Restarted(st)
	if !reflect.DeepEqual(*p.st.LastGoodLag, reading) || p.st.FailedProbes == 0 {
		t.Fatal("Restarted modified its argument")
	}
}
