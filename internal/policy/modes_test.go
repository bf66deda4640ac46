package policy_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// TestModes: the same outage (leader down, follower lost it too) in every
// mode, once with the RPO guard passing (lag 0) and once failing (lag
// 5000 > 1000).
func TestModes(t *testing.T) {
	ask := []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}
	tests := []struct {
		mode    string
		lag     int64
		phase   policy.Phase
		events  []policy.Event
		promote bool
		would   bool
		reasons []string
	}{
		{mode: config.ModeAuto, lag: 0, phase: policy.Promoting, events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}, promote: true,
			reasons: []string{"last lag 0 ops", "auto mode: promoting"}},
		{mode: config.ModeAuto, lag: 5000, phase: policy.AwaitingApproval, events: ask,
			reasons: []string{"RPO guard fails: last lag 5000 ops", "estimated loss 5000 operations", "awaiting approval (expires in 15m0s)"}},
		{mode: config.ModeSemiAuto, lag: 0, phase: policy.AwaitingApproval, events: ask,
			reasons: []string{"last lag 0 ops, read 5s before the leader was lost", "awaiting approval"}},
		{mode: config.ModeSemiAuto, lag: 5000, phase: policy.AwaitingApproval, events: ask,
			reasons: []string{"estimated loss 5000 operations", "awaiting approval"}},
		{mode: config.ModeManual, lag: 0, phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown},
			reasons: []string{"last lag 0 ops", "manual mode: paging only; promote with `drwatch promote`"}},
		{mode: config.ModeManual, lag: 5000, phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown},
			reasons: []string{"estimated loss 5000 operations", "manual mode: paging only"}},
		{mode: config.ModeDryRun, lag: 0, phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown}, would: true,
			reasons: []string{"last lag 0 ops", "dry-run: would promote now; doing nothing"}},
		{mode: config.ModeDryRun, lag: 5000, phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown},
			reasons: []string{"estimated loss 5000 operations", "dry-run: would ask for approval; doing nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode+"/lag "+strconv.FormatInt(tc.lag, 10), func(t *testing.T) {
			p := newPair(t, policyFor(tc.mode))
			var ev []policy.Event
			if tc.lag > 1000 {
				ev = []policy.Event{policy.EvReplicationDegraded}
			}
			p.run(seq(one(step{name: "before", obs: upLag(tc.lag), phase: policy.Healthy, events: ev}), toSuspect(gone),
				one(step{name: "down", after: interval, obs: gone, phase: tc.phase, events: tc.events, promote: tc.promote, would: tc.would, reasons: tc.reasons})))
			if tc.phase == policy.Promoting {
				return
			}
			// An hour more of the same outage: no mode but auto ever
			// promotes by itself, and a leader_down is not repeated.
			for i := range 720 {
				d := p.decide(interval, gone)
				if d.Promote {
					t.Fatalf("cycle %d: %s promoted by itself: %q", i, tc.mode, d.State.Reasons)
				}
				if d.WouldPromote {
					t.Fatalf("cycle %d: WouldPromote counted again in the same episode", i)
				}
				for _, e := range d.Events {
					if e != policy.EvApprovalExpired {
						t.Fatalf("cycle %d: event %s", i, e)
					}
				}
				if tc.mode == config.ModeManual || tc.mode == config.ModeDryRun {
					if d.State.Phase != policy.LeaderDown {
						t.Fatalf("cycle %d: %s", i, d.State.Phase)
					}
				}
			}
			if tc.mode == config.ModeDryRun {
				return
			}
			// A human may promote in every mode that asks or pages.
			d, err := p.command(time.Second, approve("alice"))
			if err != nil || !d.Promote {
				t.Fatalf("approve in %s: %v %+v", tc.mode, err, d)
			}
		})
	}
}
