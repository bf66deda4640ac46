package policy_test

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

var (
	stepHealthy = step{name: "healthy", obs: up, phase: policy.Healthy,
		reasons: []string{"leader answers (health green)", "follower connected to the leader", "lag 0 ops over 2 indices (max_lag_operations 1000)"}}
	leaderDownReasons = []string{
		"leader unreachable for 30s (7 failed probes in a row, last: connection_refused)",
		`follower lost the leader (remote "leader" disconnected) since 2025-03-10T12:00:05Z`,
		"last lag 0 ops, read 5s before the leader was lost",
	}
)

// TestTransitions walks every edge of the state machine as a sequence of
// cycles, each fed the state the previous one returned.
func TestTransitions(t *testing.T) {
	tests := []struct {
		name  string
		pol   *config.Policy
		steps []step
	}{
		{
			name: "healthy -> suspect -> promoting -> promoted (auto)",
			pol:  policyFor(config.ModeAuto),
			steps: seq(one(stepHealthy), toSuspect(gone),
				one(step{name: "down", after: interval, obs: gone, phase: policy.Promoting, promote: true,
					events:  []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted},
					reasons: append(leaderDownReasons, "auto mode: promoting")}),
				one(step{name: "promoting is the executor's", after: interval, obs: gone, phase: policy.Promoting,
					reasons: []string{"auto mode: promoting"}}),
				one(step{name: "leader back while promoting: still promoting", after: interval, obs: up, phase: policy.Promoting}),
				one(step{name: "succeeded", cmd: succeeded, phase: policy.Promoted,
					events: []policy.Event{policy.EvPromotionSucceeded}, reasons: []string{"promoted: 3 indices writable"}}),
			),
		},
		{
			name: "suspect -> healthy (leader_recovered)",
			pol:  policyFor(config.ModeAuto),
			steps: seq(one(stepHealthy), toSuspect(gone),
				one(step{name: "back", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered},
					check: func(t *testing.T, d policy.Decision) {
						if !d.State.OutageStart.IsZero() || d.State.FailedProbes != 0 || !d.State.WitnessLostSince.IsZero() {
							t.Fatalf("outage not reset: %+v", d.State)
						}
						if !d.State.EpisodeEnd.IsZero() {
							t.Fatalf("a suspicion is not an episode (no cooldown): %v", d.State.EpisodeEnd)
						}
					}}),
			),
		},
		{
			name: "isolated and back, isolated -> suspect -> isolated",
			pol:  policyFor(config.ModeAuto),
			steps: []step{
				stepHealthy,
				{name: "cut off", after: interval, obs: cutOff, phase: policy.Isolated, events: []policy.Event{policy.EvWatcherIsolated},
					reasons: []string{"leader unreachable for 0s (1 failed probe in a row, last: timeout)",
						`but the follower still sees the leader (follower still connected to "leader")`, "drwatch itself is cut off; never acting on this"}},
				{name: "still cut off", after: interval, obs: cutOff, phase: policy.Isolated},
				{name: "follower loses it too", after: interval, obs: gone, phase: policy.Suspect, events: []policy.Event{policy.EvLeaderSuspect},
					reasons: []string{"leader unreachable for 10s (3 failed probes", "not yet down: needs unreachable for 30s"}},
				{name: "follower sees it again", after: interval, obs: cutOff, phase: policy.Isolated, events: []policy.Event{policy.EvWatcherIsolated}},
				{name: "back", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered}},
			},
		},
		{
			name: "semi-auto: awaiting_approval -> promoting (Approve)",
			pol:  policyFor(config.ModeSemiAuto),
			steps: seq(one(stepHealthy), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval,
					events:  []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired},
					reasons: append(leaderDownReasons, "awaiting approval (expires in 15m0s)")},
				{name: "waiting", after: interval, obs: gone, phase: policy.AwaitingApproval, reasons: []string{"awaiting approval (expires in 14m55s)"}},
				{name: "approve", cmd: approve("alice"), phase: policy.Promoting, promote: true,
					events:  []policy.Event{policy.EvApprovalGranted, policy.EvPromotionStarted},
					reasons: []string{"promotion approved by alice (checked the leader)"}},
			}),
		},
		{
			name: "semi-auto: Deny -> leader_down, held until the leader recovers; a later approval still works",
			pol:  policyFor(config.ModeSemiAuto, withOnTimeout("promote")),
			steps: seq(one(stepHealthy), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}},
				{name: "deny", cmd: deny("bob"), phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalDenied},
					reasons: []string{"promotion denied by bob (leader is being restarted); holding until the leader recovers"}},
				{name: "held", after: interval, obs: gone, phase: policy.LeaderDown, reasons: []string{"promotion denied by bob at 2025-03-10T12:00:35Z"}},
				{name: "held past the approval timeout", after: time.Hour, obs: gone, phase: policy.LeaderDown, reasons: []string{"denied by bob"}},
				{name: "deny again is a conflict", cmd: deny("bob"), err: policy.ErrConflict},
				{name: "approve after all", cmd: approve("alice"), phase: policy.Promoting, promote: true,
					events: []policy.Event{policy.EvApprovalGranted, policy.EvPromotionStarted}},
			}),
		},
		{
			// A denial is a human's "no" for the episode: a pause and a
			// resume in the middle of it do not wipe it (before, they did,
			// and on_approval_timeout: promote then promoted unattended).
			name: "auto: Deny, pause, resume while the leader stays down: still denied",
			pol:  policyFor(config.ModeAuto, withMaxLag(0), withOnTimeout("promote")),
			steps: seq(one(step{name: "lag", obs: upLag(5), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded}}), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}},
				{name: "deny", cmd: deny("bob"), phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalDenied}},
				{name: "pause", cmd: pauseFor(time.Hour), phase: policy.Paused},
				{name: "resume", after: time.Minute, cmd: resume, phase: policy.Healthy},
			}, toSuspect(gone), []step{
				{name: "down again", after: interval, obs: gone, phase: policy.LeaderDown, events: []policy.Event{policy.EvLeaderDown},
					reasons: []string{"promotion denied by bob at"}},
				{name: "held past the approval timeout", after: time.Hour, obs: gone, phase: policy.LeaderDown, reasons: []string{"denied by bob"}},
			}),
		},
		{
			name: "semi-auto: Deny, then the leader recovers: the episode ends",
			pol:  policyFor(config.ModeSemiAuto),
			steps: seq(one(stepHealthy), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}},
				{name: "deny", cmd: deny("bob"), phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalDenied}},
				{name: "back", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderRecovered},
					check: func(t *testing.T, d policy.Decision) {
						if d.State.Denial != nil || d.State.EpisodeEnd.IsZero() {
							t.Fatalf("denial kept or episode end missing: %+v", d.State)
						}
					}},
			}),
		},
		{
			name: "approval timeout, on_approval_timeout hold",
			pol:  policyFor(config.ModeSemiAuto),
			steps: seq(one(stepHealthy), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}},
				{name: "almost", after: 15*time.Minute - time.Second, obs: gone, phase: policy.AwaitingApproval, reasons: []string{"expires in 1s"}},
				{name: "expired", after: time.Second, obs: gone, phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalExpired},
					reasons: []string{"approval timed out; on_approval_timeout: hold"}},
				{name: "held", after: time.Hour, obs: gone, phase: policy.LeaderDown, reasons: []string{"approval expired; holding (approve or promote by hand)"}},
				{name: "a human may still approve", cmd: approve("alice"), phase: policy.Promoting, promote: true,
					events: []policy.Event{policy.EvApprovalGranted, policy.EvPromotionStarted}},
			}),
		},
		{
			name: "approval timeout, on_approval_timeout promote, guard passes",
			pol:  policyFor(config.ModeSemiAuto, withOnTimeout("promote")),
			steps: seq(one(stepHealthy), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}},
				{name: "expired", after: 15 * time.Minute, obs: gone, phase: policy.Promoting, promote: true,
					events: []policy.Event{policy.EvApprovalExpired, policy.EvPromotionStarted},
					reasons: []string{"approval timed out; on_approval_timeout: promote and the RPO guard passes: promoting",
						"last lag 0 ops, read 5s before the leader was lost"}},
			}),
		},
		{
			name: "approval timeout, on_approval_timeout promote, guard fails: hold",
			pol:  policyFor(config.ModeSemiAuto, withOnTimeout("promote")),
			steps: seq(one(step{name: "lagging", obs: upLag(5000), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded},
				reasons: []string{"replication degraded: lag 5000 ops > max_lag_operations 1000"}}),
				toSuspect(gone), []step{
					{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired},
						reasons: []string{"estimated loss 5000 operations"}},
					{name: "expired", after: 15 * time.Minute, obs: gone, phase: policy.LeaderDown, events: []policy.Event{policy.EvApprovalExpired},
						reasons: []string{"on_approval_timeout is promote but the RPO guard does not pass: holding", "estimated loss 5000 operations"}},
					{name: "held", after: time.Hour, obs: gone, phase: policy.LeaderDown},
				}),
		},
		{
			name: "paused without expiry, resume",
			pol:  policyFor(config.ModeAuto),
			steps: seq(one(stepHealthy), []step{
				{name: "pause", cmd: pauseFor(0), phase: policy.Paused, reasons: []string{"paused by carol (upgrade)"}},
			}, repeat(100, step{name: "leader gone for hours", after: 5 * time.Minute, obs: gone, phase: policy.Paused}), []step{
				{name: "pause again (extends)", cmd: pauseFor(0), phase: policy.Paused},
				{name: "resume", cmd: resume, phase: policy.Healthy, reasons: []string{"resumed by carol"},
					check: func(t *testing.T, d policy.Decision) {
						if d.State.PausedBy != "" || !d.State.PausedUntil.IsZero() {
							t.Fatalf("pause not cleared: %+v", d.State)
						}
						// A pause stops acting, not watching: the outage
						// that began during it was tracked all along.
						if d.State.FailedProbes != 6000 || !d.State.OutageStart.Equal(t0.Add(5*time.Second)) {
							t.Fatalf("the pause's observations were not tracked: %+v", d.State.Outage)
						}
					}},
				{name: "resume twice", cmd: resume, err: policy.ErrConflict},
				{name: "decided at once on what the pause watched", after: interval, obs: gone, phase: policy.Promoting, promote: true,
					events:  []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted},
					reasons: []string{"6001 failed probes", "last lag 0 ops, read 5s before the leader was lost", "auto mode: promoting"}},
			}),
		},
		{
			name: "paused with expiry",
			pol:  policyFor(config.ModeAuto),
			steps: seq(one(stepHealthy), []step{
				{name: "pause 1h", cmd: pauseFor(time.Hour), phase: policy.Paused, reasons: []string{"paused by carol (upgrade) until 2025-03-10T13:00:00Z"}},
				{name: "leader gone", after: 30 * time.Minute, obs: gone, phase: policy.Paused},
				{name: "just before expiry", after: 30*time.Minute - time.Second, obs: gone, phase: policy.Paused},
				{name: "expired: decided on what the pause watched", after: time.Second, obs: gone, phase: policy.Promoting, promote: true,
					events:  []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted},
					reasons: []string{"leader unreachable for 59m55s", "auto mode: promoting"}},
			}),
		},
		{
			name: "pause mid-outage, resume",
			pol:  policyFor(config.ModeSemiAuto),
			steps: seq(one(stepHealthy), toSuspect(gone), []step{
				{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}},
				{name: "pause", cmd: pauseFor(0), phase: policy.Paused},
				{name: "approve is a conflict while paused", cmd: approve("alice"), err: policy.ErrConflict},
				{name: "resume", cmd: resume, phase: policy.Healthy},
				{name: "asked again at once, under a new request", after: interval, obs: gone, phase: policy.AwaitingApproval, events: []policy.Event{policy.EvApprovalRequired}},
			}),
		},
		{
			name: "manual promote from healthy, conflicts while promoting",
			pol:  policyFor(config.ModeManual),
			steps: []step{
				stepHealthy,
				{name: "manual promote", cmd: manualPromote, phase: policy.Promoting, promote: true,
					events: []policy.Event{policy.EvPromotionStarted}, reasons: []string{"manual promotion by dave (region lost)"}},
				{name: "promote twice", cmd: manualPromote, err: policy.ErrConflict},
				{name: "pause while promoting", cmd: pauseFor(0), err: policy.ErrConflict},
				{name: "approve while promoting", cmd: approve("alice"), err: policy.ErrConflict},
			},
		},
		{
			name: "conflicts from healthy",
			pol:  policyFor(config.ModeSemiAuto),
			steps: []step{
				stepHealthy,
				{name: "approve", cmd: approve("alice"), err: policy.ErrConflict},
				{name: "deny", cmd: deny("bob"), err: policy.ErrConflict},
				{name: "resume", cmd: resume, err: policy.ErrConflict},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newPair(t, tc.pol).run(tc.steps)
		})
	}
}

// TestPromotionRetryBackoff: promoting -> failed -> promoting after a
// backoff that doubles from 30s and is capped at 10m; never on a cycle
// before it.
func TestPromotionRetryBackoff(t *testing.T) {
	p := newPair(t, policyFor(config.ModeAuto))
	p.run(seq(one(stepHealthy), toSuspect(gone), one(step{name: "down", after: interval, obs: gone, phase: policy.Promoting, promote: true,
		events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}})))

	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i, backoff := range want {
		attempt := i + 1
		d, _ := p.command(0, failed("stop replication on orders: timeout"))
		if d.State.Phase != policy.Failed || !equalEvents(d.Events, policy.EvPromotionFailed) {
			t.Fatalf("attempt %d: %s %q", attempt, d.State.Phase, d.Events)
		}
		if got := d.State.RetryAt.Sub(p.clk.now()); got != backoff {
			t.Fatalf("attempt %d: backoff %s, want %s", attempt, got, backoff)
		}
		requireReasons(t, d, "promotion attempt "+strconv.Itoa(attempt)+" failed: stop replication on orders: timeout; retrying at "+d.State.RetryAt.Format(time.RFC3339))
		// Cycles before RetryAt wait, whatever they see.
		for _, o := range []func(time.Time) *ob{gone, up, cutOff} {
			d = p.decide(backoff/4, o)
			if d.State.Phase != policy.Failed || d.Promote || len(d.Events) != 0 {
				t.Fatalf("attempt %d: retried early: %+v", attempt, d)
			}
		}
		d = p.decide(backoff-3*(backoff/4)-time.Second, gone)
		if d.State.Phase != policy.Failed || d.Promote {
			t.Fatalf("attempt %d: retried 1s early", attempt)
		}
		d = p.decide(time.Second, gone)
		if d.State.Phase != policy.Promoting || !d.Promote || !equalEvents(d.Events, policy.EvPromotionStarted) {
			t.Fatalf("attempt %d: not retried at RetryAt: %+v", attempt, d)
		}
		requireReasons(t, d, "retrying the promotion (attempt "+strconv.Itoa(attempt+1)+") after: stop replication on orders: timeout")
	}
	d, _ := p.command(0, succeeded)
	if d.State.Phase != policy.Promoted || d.State.LastError != "" || !d.State.PromotedAt.Equal(p.clk.now()) {
		t.Fatalf("succeeded: %+v", d.State)
	}
}

// TestPromotedIsTerminal: whatever the mode and the observations, for
// hours, a promoted pair stays promoted and is never promoted again; every
// command is refused.
func TestPromotedIsTerminal(t *testing.T) {
	for _, mode := range []string{config.ModeAuto, config.ModeSemiAuto, config.ModeManual, config.ModeDryRun} {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode))
			p.run([]step{
				stepHealthy,
				{name: "manual promote", cmd: manualPromote, phase: policy.Promoting, promote: true, events: []policy.Event{policy.EvPromotionStarted}},
				{name: "succeeded", after: time.Minute, cmd: succeeded, phase: policy.Promoted, events: []policy.Event{policy.EvPromotionSucceeded}},
			})
			promoted := p.st
			obs := []func(time.Time) *ob{gone, gone, gone, cutOff, up, upLag(1 << 40),
				func(at time.Time) *ob { return healthy(at).leaderDown(observe.ClassDNS).followerUnreachable() }}
			returned := 0
			for i := range 10 * 3600 / 5 { // ten hours of 5s cycles
				d := p.decide(interval, obs[i%len(obs)])
				for _, ev := range d.Events {
					if ev != policy.EvOldLeaderReturned {
						t.Fatalf("cycle %d: event %s on a promoted pair", i, ev)
					}
					returned++
				}
				// Only the old leader's return is tracked (and fenced):
				// the pair stays promoted and never promotes again.
				st := d.State
				st.Reasons, st.OldLeaderReturned = promoted.Reasons, false
				st.UnfencedNote, st.LeaseNote = promoted.UnfencedNote, promoted.LeaseNote // the reasons' own
				if d.Promote || d.WouldPromote || !reflect.DeepEqual(st, promoted) {
					t.Fatalf("cycle %d: a promoted pair moved: %+v", i, d)
				}
			}
			if returned != 1 {
				t.Fatalf("old_leader_returned emitted %d times, want once", returned)
			}
			for name, cmd := range map[string]func(policy.State, time.Time) (policy.Decision, error){
				"approve": approve("alice"), "deny": deny("bob"), "pause": pauseFor(time.Hour), "pause forever": pauseFor(0),
				"resume": resume, "manual promote": manualPromote,
			} {
				if _, err := p.command(time.Second, cmd); !errors.Is(err, policy.ErrConflict) {
					t.Fatalf("%s on promoted: err = %v, want ErrConflict", name, err)
				}
			}
			// A late report from the executor does not reopen the pair.
			d, _ := p.command(time.Second, failed("late error from a verify step"))
			if d.State.Phase != policy.Promoted || d.Promote {
				t.Fatalf("PromotionFailed on a promoted pair: %+v", d)
			}
			for range 100 {
				if d := p.decide(time.Hour, gone); d.Promote || d.State.Phase != policy.Promoted {
					t.Fatalf("promoted again after a late failure report: %+v", d)
				}
			}
			if got := policy.Restarted(p.st); !reflect.DeepEqual(got, p.st) {
				t.Fatalf("Restarted changed a promoted state")
			}
			if !policy.Promoted.Terminal() {
				t.Fatal("promoted is not terminal")
			}
		})
	}
}

func equalEvents(got []policy.Event, want ...policy.Event) bool { return reflect.DeepEqual(got, want) }

// A failed promotion that changed nothing (no fence, no stop sent) is
// abandoned when the leader answers again: retrying it would fail over a
// healthy leader. One that changed something goes on (the pair may be
// split); one a human started by hand goes on too.
func TestFailedPromotionAbandonedWhenNothingChanged(t *testing.T) {
	down := func(p *pair) {
		p.run(seq(one(stepHealthy), toSuspect(gone), one(step{name: "down", after: interval, obs: gone, phase: policy.Promoting, promote: true,
			events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}})))
	}
	failedWith := func(changed bool) func(policy.State, time.Time) (policy.Decision, error) {
		return func(st policy.State, now time.Time) (policy.Decision, error) {
			return policy.PromotionFailed(st, "plan: list follower indices: timeout", changed, now), nil
		}
	}
	t.Run("nothing changed, the leader answers: abandoned", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		down(p)
		if d, _ := p.command(0, failedWith(false)); d.State.Phase != policy.Failed {
			t.Fatalf("phase %s", d.State.Phase)
		}
		d := p.decide(time.Second, up)
		if d.State.Phase != policy.Healthy || !d.Abandon || d.Promote || !equalEvents(d.Events, policy.EvLeaderRecovered) {
			t.Fatalf("decision %+v", d)
		}
		requireReasons(t, d, "the failed promotion changed nothing (1 attempts, last: plan: list follower indices: timeout) and the leader answers again: abandoned")
		if d.State.PromotionAttempts != 0 || d.State.LastError != "" || d.State.EpisodeEnd.IsZero() {
			t.Fatalf("state %+v", d.State)
		}
		// Long after, still healthy: nothing retries it.
		if d := p.decide(time.Hour, up); d.State.Phase != policy.Healthy || d.Promote {
			t.Fatalf("later: %+v", d)
		}
	})
	t.Run("nothing changed, the leader still down: retried", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		down(p)
		p.command(0, failedWith(false))
		if d := p.decide(policy.RetryInitial, gone); d.State.Phase != policy.Promoting || !d.Promote {
			t.Fatalf("decision %+v", d)
		}
	})
	t.Run("something changed: goes on when the leader answers", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		down(p)
		p.command(0, failedWith(true))
		if d := p.decide(time.Second, up); d.State.Phase != policy.Failed || d.Abandon {
			t.Fatalf("decision %+v", d)
		}
		if d := p.decide(policy.RetryInitial, up); d.State.Phase != policy.Promoting || !d.Promote {
			t.Fatalf("not retried: %+v", d)
		}
		// A later attempt that changes nothing does not undo that the
		// first one did.
		if d, _ := p.command(0, failedWith(false)); !d.State.PromotionChanged {
			t.Fatal("PromotionChanged forgotten")
		}
	})
	t.Run("started by hand: goes on", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.run(one(stepHealthy))
		if d, err := p.command(0, manualPromote); err != nil || d.State.Phase != policy.Promoting {
			t.Fatalf("manual promote: %+v %v", d, err)
		}
		p.command(0, failedWith(false))
		if d := p.decide(time.Second, up); d.State.Phase != policy.Failed || d.Abandon {
			t.Fatalf("decision %+v", d)
		}
	})
}

// After the promotion, an old leader that answers again can take writes
// the promoted follower never sees: it is reported once
// (old_leader_returned), fenced when fence_leader is on (FenceOldLeader
// until OldLeaderFenced records it), and shown until then.
func TestOldLeaderReturnsAfterPromotion(t *testing.T) {
	promoted := func(p *pair) {
		p.run(seq(one(stepHealthy), toSuspect(gone), one(step{name: "down", after: interval, obs: gone, phase: policy.Promoting, promote: true,
			events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}})))
		if d, _ := p.command(0, succeeded); d.State.Phase != policy.Promoted {
			t.Fatalf("not promoted: %+v", d)
		}
	}
	t.Run("fence_leader: fenced, then quiet", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		promoted(p)
		if d := p.decide(interval, gone); d.FenceOldLeader || len(d.Events) != 0 || d.State.OldLeaderUnfenced() {
			t.Fatalf("still gone: %+v", d)
		}
		d := p.decide(interval, up)
		if d.State.Phase != policy.Promoted || !d.FenceOldLeader || !equalEvents(d.Events, policy.EvOldLeaderReturned) || !d.State.OldLeaderUnfenced() || d.Promote {
			t.Fatalf("returned: %+v", d)
		}
		requireReasons(t, d, "the old leader answers again and is not fenced: write-blocking its copies of the promoted indices")
		// The fence failed (the caller reports nothing): asked again, the
		// event not repeated, the reason not piled up.
		d = p.decide(interval, up)
		if !d.FenceOldLeader || len(d.Events) != 0 || len(d.State.Reasons) != 2 {
			t.Fatalf("again: %+v", d)
		}
		p.st = policy.OldLeaderFenced(p.st, "write-blocked 3 leader indices", p.clk.now()).State
		if p.st.OldLeaderUnfenced() || !p.st.OldLeaderFenced {
			t.Fatalf("fenced: %+v", p.st)
		}
		if d := p.decide(interval, up); d.FenceOldLeader || len(d.Events) != 0 || d.Promote || d.State.Phase != policy.Promoted {
			t.Fatalf("after the fence: %+v", d)
		}
	})
	t.Run("fence_leader false: reported, not fenced", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto, func(c *config.Policy) { f := false; c.FenceLeader = &f }))
		promoted(p)
		d := p.decide(interval, up)
		if d.FenceOldLeader || !equalEvents(d.Events, policy.EvOldLeaderReturned) || !d.State.OldLeaderUnfenced() {
			t.Fatalf("returned: %+v", d)
		}
		requireReasons(t, d, "fence_leader is false): both sides may take writes")
	})
}

// An approval is bound to the request it answers: a late, replayed or
// missing request id is refused; when the situation changes materially
// under a pending request (the RPO guard's verdict flips), drwatch asks
// again under a new id, and an approve of the old one is refused.
func TestApprovalNamesItsRequest(t *testing.T) {
	p := newPair(t, policyFor(config.ModeSemiAuto))
	p.run(seq(one(stepHealthy), toSuspect(gone), one(step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval,
		events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}})))
	first := p.st.ApprovalID
	if first == "" || !p.st.ApprovalGuardOK {
		t.Fatalf("request %q, guard %v", first, p.st.ApprovalGuardOK)
	}
	requireReasons(t, policy.Decision{State: p.st}, "awaiting approval (expires in 15m0s): request "+first)
	for _, id := range []string{"", "req-0"} {
		if _, err := policy.Approve(p.st, id, "alice", "", p.clk.now()); !errors.Is(err, policy.ErrStaleApproval) || !errors.Is(err, policy.ErrConflict) {
			t.Fatalf("approve %q: %v, want a stale approval conflict", id, err)
		}
	}
	// Still the same situation: the same request.
	if d := p.decide(interval, gone); d.State.ApprovalID != first || len(d.Events) != 0 {
		t.Fatalf("the request changed without a change: %+v", d)
	}
	// The follower now says an autofollow rule failed to replicate a
	// leader index: the guard fails. A new request, a new id.
	d := p.decide(interval, func(at time.Time) *ob { return gone(at).unreplicated("logs-2") })
	second := d.State.ApprovalID
	if d.State.Phase != policy.AwaitingApproval || second == first || second == "" || d.State.ApprovalGuardOK || !equalEvents(d.Events, policy.EvApprovalRequired) {
		t.Fatalf("after the guard flipped: %+v", d)
	}
	requireReasons(t, d, "the RPO guard's verdict changed since the last request: asking again", "RPO guard fails: 1 leader indices in scope were never replicated")
	if _, err := policy.Approve(p.st, first, "alice", "", p.clk.now()); !errors.Is(err, policy.ErrStaleApproval) {
		t.Fatalf("the old request approved: %v", err)
	}
	d, err := policy.Approve(p.st, second, "alice", "accepting the loss", p.clk.now())
	if err != nil || d.State.Phase != policy.Promoting || !d.Promote {
		t.Fatalf("approve the pending request: %+v, %v", d, err)
	}
}
