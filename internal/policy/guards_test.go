package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// TestLeaderDownNeedsBothThresholds: leader_down_after and
// min_failed_probes must both be met; either alone is not enough.
func TestLeaderDownNeedsBothThresholds(t *testing.T) {
	promoting := func(after time.Duration) step {
		return step{name: "both met", after: after, obs: gone, phase: policy.Promoting, promote: true,
			events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "duration met, probes not (slow probes)",
			steps: []step{
				stepHealthy,
				{name: "1st failure", after: interval, obs: gone, phase: policy.Suspect, events: []policy.Event{policy.EvLeaderSuspect}},
				{name: "2nd failure, 40s later", after: 40 * time.Second, obs: gone, phase: policy.Suspect,
					reasons: []string{"leader unreachable for 40s (2 failed probes in a row", "not yet down: needs 3 failed probes"},
					check:   notMentioning("needs 3 failed probes, unreachable", "needs unreachable")},
				promoting(time.Second),
			},
		},
		{
			name: "probes met, duration not (fast probes)",
			steps: seq(one(stepHealthy),
				one(step{name: "1st failure", after: interval, obs: gone, phase: policy.Suspect, events: []policy.Event{policy.EvLeaderSuspect}}),
				one(step{name: "2nd failure", after: time.Second, obs: gone, phase: policy.Suspect,
					reasons: []string{"not yet down: needs 3 failed probes, unreachable for 30s"}}),
				repeat(27, step{name: "many failures in 29s", after: time.Second, obs: gone, phase: policy.Suspect,
					reasons: []string{"not yet down: needs unreachable for 30s"}, check: notMentioning("needs 3 failed probes")}),
				one(step{name: "29s, 30 probes", after: time.Second, obs: gone, phase: policy.Suspect,
					reasons: []string{"leader unreachable for 29s (30 failed probes in a row, last: connection_refused)"}}),
				one(promoting(time.Second)),
			),
		},
		{
			name: "one good probe resets both",
			steps: seq(one(stepHealthy), toSuspect(gone),
				one(step{name: "good probe", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered}}),
				toSuspect(gone),
				one(promoting(interval)),
			),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newPair(t, policyFor(config.ModeAuto)).run(tc.steps)
		})
	}
}

func notMentioning(subs ...string) func(*testing.T, policy.Decision) {
	return func(t *testing.T, d policy.Decision) {
		t.Helper()
		all := strings.Join(d.State.Reasons, "; ")
		for _, s := range subs {
			if strings.Contains(all, s) {
				t.Fatalf("reasons %q mention %q", d.State.Reasons, s)
			}
		}
	}
}

// TestFollowerWitness: with require_follower_witness the follower must
// have lost the leader too; a follower that still sees it means drwatch is
// cut off, and a follower drwatch cannot ask cannot confirm anything.
func TestFollowerWitness(t *testing.T) {
	tests := []struct {
		name    string
		witness bool
		obs     func(time.Time) *ob
		phase   policy.Phase // after an hour of 5s cycles
		promote bool         // on the cycle that meets the thresholds
		reasons []string
	}{
		{name: "remote disconnected", witness: true, obs: gone, phase: policy.Promoting, promote: true,
			reasons: []string{`follower lost the leader (remote "leader" disconnected)`}},
		{name: "follower still connected", witness: true, obs: cutOff, phase: policy.Isolated,
			reasons: []string{`follower still sees the leader (follower still connected to "leader")`, "never acting on this"}},
		{name: "follower unreachable", witness: true, phase: policy.Suspect,
			obs:     func(at time.Time) *ob { return gone(at).followerUnreachable() },
			reasons: []string{"not yet down: needs the follower to lose the leader too (follower unreachable: cannot ask it (timeout))"}},
		{name: "follower has no such remote", witness: true, phase: policy.Suspect,
			obs:     func(at time.Time) *ob { return gone(at).unknownAlias() },
			reasons: []string{`needs the follower to lose the leader too (follower has no remote cluster "leader")`}},
		{name: "remote info unreadable", witness: true, phase: policy.Suspect,
			obs:     func(at time.Time) *ob { return gone(at).remoteUnreadable() },
			reasons: []string{"needs the follower to lose the leader too (follower's remote info unreadable (http_5xx))"}},
		{name: "no witness required: connected follower does not matter", witness: false, obs: cutOff, phase: policy.Promoting, promote: true,
			reasons: []string{"leader unreachable for 30s (7 failed probes in a row, last: timeout)", "auto mode: promoting"}},
		{name: "no witness required: unreachable follower does not matter", witness: false, phase: policy.Promoting, promote: true,
			obs:     func(at time.Time) *ob { return cutOff(at).followerUnreachable() },
			reasons: []string{"auto mode: promoting"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, policyFor(config.ModeAuto, withWitness(tc.witness)))
			p.decide(0, up)
			promoted := 0
			var last policy.Decision
			for i := range 720 {
				d := p.decide(interval, tc.obs)
				if d.Promote {
					promoted++
					if i != 6 {
						t.Fatalf("promoted on cycle %d, not when the thresholds were met", i)
					}
					last = d
				}
				if d.State.Phase == policy.Promoting {
					break
				}
				last = d
			}
			if (promoted == 1) != tc.promote || promoted > 1 {
				t.Fatalf("promoted %d times, want promote=%v; reasons %q", promoted, tc.promote, last.State.Reasons)
			}
			if last.State.Phase != tc.phase {
				t.Fatalf("phase %s, want %s; reasons %q", last.State.Phase, tc.phase, last.State.Reasons)
			}
			requireReasons(t, last, tc.reasons...)
			if !tc.witness {
				notMentioning("follower")(t, last)
			}
		})
	}
}

// TestFrozenCheckpointWitness: a follower that still reports its remote
// connected has lost the leader when its leader checkpoint is frozen while
// its failed reads rise - and not when failed reads are flat (an idle
// leader), nor when the checkpoint moves.
func TestFrozenCheckpointWitness(t *testing.T) {
	const cp = 5000
	// Every observation has the follower's remote connected.
	stats := func(leaderCP, failedReads int64, leaderUp bool) func(time.Time) *ob {
		return func(at time.Time) *ob {
			b := healthy(at).stats(leaderCP, failedReads)
			if !leaderUp {
				b.leaderDown(observe.ClassTimeout)
			}
			return b
		}
	}
	// The leader answers for a minute with an idle, frozen checkpoint and
	// no failed reads: the readings are good.
	idle := repeat(12, step{name: "idle leader", after: interval, obs: stats(cp, 10, true), phase: policy.Healthy})

	t.Run("frozen and failed reads rising: lost", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(idle)
		if p.st.LastGoodLag == nil || !p.st.LastGoodLag.At.Equal(p.clk.now()) {
			t.Fatalf("an idle leader's readings are good readings: %+v", p.st.LastGoodLag)
		}
		reads := int64(10)
		for i := range 7 {
			reads += 3
			d := p.decide(interval, stats(cp, reads, false))
			// Reads must fail in FrozenReadRises (3) probes of the outage
			// before the follower counts as having lost the leader; until
			// then it still looks connected: isolated.
			want := policy.Suspect
			switch {
			case i < policy.FrozenReadRises-1:
				want = policy.Isolated
			case i == 6:
				want = policy.Promoting
				requireReasons(t, d, "follower's leader checkpoint frozen since 2025-03-10T12:00:05Z while its reads kept failing (rose in 7 probes, 31 failed reads)")
			}
			if d.State.Phase != want {
				t.Fatalf("cycle %d: %s, want %s: %q", i, d.State.Phase, want, d.State.Reasons)
			}
		}
	})

	// Regression: one failed read at the moment drwatch is cut off (the
	// same fault hit one of the follower's reads), then flat: the follower
	// is still connected and getting nothing new from an idle leader - it
	// has not lost it. Never act.
	t.Run("one failed read at the cut, then flat: isolated", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(idle)
		for i := range 1000 {
			reads := int64(11) // rose once, then flat
			d := p.decide(interval, stats(cp, reads, false))
			if d.State.Phase != policy.Isolated || d.Promote {
				t.Fatalf("cycle %d: one failed read made drwatch act: %s: %q", i, d.State.Phase, d.State.Reasons)
			}
		}
	})

	t.Run("frozen, failed reads flat (idle leader, drwatch cut off): isolated", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(idle)
		for i := range 1000 {
			d := p.decide(interval, stats(cp, 10, false))
			if d.State.Phase != policy.Isolated || d.Promote {
				t.Fatalf("cycle %d: %s: %q", i, d.State.Phase, d.State.Reasons)
			}
		}
	})

	t.Run("checkpoint moving while reads fail: the follower still gets changes", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(idle)
		for i := range 100 {
			d := p.decide(interval, stats(cp+int64(i)+1, 10+int64(i)+1, false))
			if d.State.Phase != policy.Isolated || d.Promote {
				t.Fatalf("cycle %d: %s: %q", i, d.State.Phase, d.State.Reasons)
			}
		}
	})

	t.Run("failed-reads counter reset is not a rise", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(idle)
		for i := range 100 {
			d := p.decide(interval, stats(cp, max(0, 10-int64(i)), false)) // counters restarted, then flat
			if d.State.Phase != policy.Isolated || d.Promote {
				t.Fatalf("cycle %d: %s: %q", i, d.State.Phase, d.State.Reasons)
			}
		}
	})

	// Regression: a single failed read while the leader was up (a blip),
	// with the leader idle afterwards, must not make the follower a witness
	// of an outage that begins later: drwatch cut off from a healthy idle
	// leader would otherwise promote.
	t.Run("a failed read before the outage is not a witness", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(idle)
		p.run([]step{{name: "blip", after: interval, obs: stats(cp, 11, true), phase: policy.Healthy},
			{name: "idle again", after: interval, obs: stats(cp, 11, true), phase: policy.Healthy}})
		for i := range 1000 {
			d := p.decide(interval, stats(cp, 11, false))
			if d.State.Phase != policy.Isolated || d.Promote {
				t.Fatalf("cycle %d: a stale rise of failed reads made drwatch act: %s: %q", i, d.State.Phase, d.State.Reasons)
			}
		}
		// The follower then really loses the leader: its reads start failing.
		reads := int64(11)
		var d policy.Decision
		for range 7 {
			reads++
			d = p.decide(interval, stats(cp, reads, false))
		}
		// It is a witness now, but drwatch's own outage began 83 minutes
		// ago: the last good reading is that old when the follower lost the
		// leader, so the RPO guard fails and a human is asked.
		if d.State.Phase != policy.AwaitingApproval || d.Promote {
			t.Fatalf("%s: %q", d.State.Phase, d.State.Reasons)
		}
		requireReasons(t, d, "while its reads kept failing (rose in 7 probes, 18 failed reads)", "RPO guard fails: last lag reading (0 ops) is 1h23m", "before the leader was lost")
	})
}
