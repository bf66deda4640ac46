package policy_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// episode is a first outage that ends with the leader back: the guard
// fails (lag 5000), so even auto only asks; the leader then recovers at
// t0+40s, which starts the cooldown.
func episode() []step {
	return seq(
		one(step{name: "lagging", obs: upLag(5000), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded}}),
		toSuspect(gone),
		one(step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}}),
		one(step{name: "back", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered, policy.EvReplicationRecovered},
			check: func(t *testing.T, d policy.Decision) {
				if !d.State.EpisodeEnd.Equal(t0.Add(40 * time.Second)) {
					t.Fatalf("episode end %v", d.State.EpisodeEnd)
				}
			}}),
	)
}

// outageAt: the leader answers after `after`, then fails for 30s; the
// last step is the one that meets the thresholds (returned separately).
func outageAt(after time.Duration) ([]step, func(s step) step) {
	steps := seq(one(step{name: "healthy", after: after, obs: up, phase: policy.Healthy}), toSuspect(gone))
	return steps, func(s step) step { s.after, s.obs = interval, gone; return s }
}

func TestCooldown(t *testing.T) {
	held := step{name: "down in cooldown", phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired},
		reasons: []string{"last lag 0 ops", "in cooldown until 2025-03-10T13:00:40Z", "no automatic action"}}
	promotes := step{name: "down after cooldown", phase: policy.Promoting, promote: true, events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}}

	t.Run("auto: no automatic promotion within cooldown; approval still works", func(t *testing.T) {
		before, down := outageAt(10 * time.Minute)
		s := down(held)
		s.reasons = append(s.reasons, "last episode ended 10m35s ago")
		newPair(t, policyFor(config.ModeAuto)).run(seq(episode(), before, one(s),
			repeat(10, step{name: "still held", after: interval, obs: gone, phase: policy.AwaitingApproval, reasons: []string{"in cooldown"}}),
			one(step{name: "approve", cmd: approve("alice"), phase: policy.Promoting, promote: true,
				events: []policy.Event{policy.EvApprovalGranted, policy.EvPromotionStarted}})))
	})

	t.Run("auto: a decision 1s before the end of cooldown holds, at the end promotes", func(t *testing.T) {
		before, down := outageAt(59*time.Minute + 24*time.Second)
		s := down(held)
		s.reasons = []string{"in cooldown until 2025-03-10T13:00:40Z (last episode ended 59m59s ago)"}
		newPair(t, policyFor(config.ModeAuto)).run(seq(episode(), before, one(s),
			one(step{name: "cooldown over", after: time.Second, obs: gone, phase: policy.Promoting, promote: true,
				events: []policy.Event{policy.EvPromotionStarted}, reasons: []string{"auto mode: promoting"}})))
	})

	t.Run("auto: after cooldown", func(t *testing.T) {
		before, down := outageAt(59*time.Minute + 25*time.Second)
		newPair(t, policyFor(config.ModeAuto)).run(seq(episode(), before, one(down(promotes))))
	})

	t.Run("no cooldown configured", func(t *testing.T) {
		before, down := outageAt(interval)
		newPair(t, policyFor(config.ModeAuto, withCooldown(0))).run(seq(episode(), before, one(down(promotes))))
	})

	t.Run("on_approval_timeout promote does not override cooldown", func(t *testing.T) {
		before, down := outageAt(time.Minute)
		newPair(t, policyFor(config.ModeSemiAuto, withOnTimeout("promote"))).run(seq(episode(), before,
			one(down(step{phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}})),
			one(step{name: "timeout in cooldown", after: 15 * time.Minute, obs: gone, phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalExpired},
				reasons: []string{"in cooldown until", "approval timed out; on_approval_timeout is promote but automatic action is held: holding"},
				check:   notMentioning("RPO guard does not pass", "RPO guard fails")})))
	})

	t.Run("dry-run in cooldown would not promote", func(t *testing.T) {
		before, down := outageAt(time.Minute)
		newPair(t, policyFor(config.ModeDryRun)).run(seq(
			one(step{name: "lagging", obs: upLag(5000), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded}}),
			toSuspect(gone),
			one(step{name: "down", after: interval, obs: gone, phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown}}),
			one(step{name: "back", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered, policy.EvReplicationRecovered}}),
			before,
			one(down(step{phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown}, reasons: []string{"in cooldown", "dry-run: would ask for approval"}}))))
	})
}

func TestMaintenanceWindows(t *testing.T) {
	window := func(spec string, d time.Duration) func(*config.Policy) {
		sched, err := cron.ParseStandard(spec)
		if err != nil {
			t.Fatal(err)
		}
		return func(p *config.Policy) {
			p.MaintenanceWindows = append(p.MaintenanceWindows, config.MaintenanceWindow{
				Schedule: config.Schedule{Spec: spec, Sched: sched}, Duration: config.Duration(d)})
		}
	}
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		name     string
		windows  []func(*config.Policy)
		decideAt time.Duration // time of day of the cycle that meets the thresholds
		held     string        // "" = promotes
	}{
		{name: "inside", windows: []func(*config.Policy){window("0 2 * * *", time.Hour)}, decideAt: 2*time.Hour + 10*time.Minute,
			held: `in maintenance window "0 2 * * *" until 2025-03-10T03:00:00Z: no automatic action`},
		{name: "at its start", windows: []func(*config.Policy){window("0 2 * * *", time.Hour)}, decideAt: 2 * time.Hour, held: "in maintenance window"},
		{name: "its last second", windows: []func(*config.Policy){window("0 2 * * *", time.Hour)}, decideAt: 3*time.Hour - time.Second, held: "in maintenance window"},
		{name: "a second before it", windows: []func(*config.Policy){window("0 2 * * *", time.Hour)}, decideAt: 2*time.Hour - time.Second},
		{name: "at its end", windows: []func(*config.Policy){window("0 2 * * *", time.Hour)}, decideAt: 3 * time.Hour},
		{name: "outside", windows: []func(*config.Policy){window("0 2 * * *", time.Hour)}, decideAt: 15 * time.Hour},
		{name: "second of two windows", windows: []func(*config.Policy){window("0 2 * * *", time.Hour), window("30 14 * * 1-5", 30*time.Minute)},
			decideAt: 14*time.Hour + 45*time.Minute, held: `in maintenance window "30 14 * * 1-5" until 2025-03-10T15:00:00Z`},
		{name: "weekday window on a Monday, from Sunday", windows: []func(*config.Policy){window("0 23 * * 0", 2*time.Hour)},
			decideAt: 30 * time.Minute, held: `"0 23 * * 0" until 2025-03-10T01:00:00Z`},
		{name: "weekend-only window on a Monday", windows: []func(*config.Policy){window("0 14 * * 6,0", 2*time.Hour)}, decideAt: 14*time.Hour + time.Minute},
		{name: "descriptor", windows: []func(*config.Policy){window("@daily", 30*time.Minute)}, decideAt: 10 * time.Minute, held: `"@daily"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := policyFor(config.ModeAuto, tc.windows...)
			// The leader answers 35s before the decision, then fails
			// every 5s from 30s before it.
			p := newPairAt(t, pol, day.Add(tc.decideAt-35*time.Second))
			p.run(seq(one(stepHealthy), toSuspect(gone)))
			d := p.decide(interval, gone)
			if !p.clk.now().Equal(day.Add(tc.decideAt)) {
				t.Fatalf("clock %v", p.clk.now())
			}
			if tc.held == "" {
				if d.State.Phase != policy.Promoting || !d.Promote {
					t.Fatalf("not promoted outside the window: %s %q", d.State.Phase, d.State.Reasons)
				}
				notMentioning("maintenance")(t, d)
				return
			}
			if d.State.Phase != policy.AwaitingApproval || d.Promote {
				t.Fatalf("promoted inside the window: %s %q", d.State.Phase, d.State.Reasons)
			}
			requireReasons(t, d, tc.held, "last lag 0 ops")
			// A human may still promote.
			if d, err := p.command(time.Second, approve("alice")); err != nil || !d.Promote {
				t.Fatalf("approve in a window: %v", err)
			}
		})
	}
}
