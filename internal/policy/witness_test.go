package policy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// A hung leader (SIGSTOP, a paused VM): its sockets stay open, so the
// follower's remote connection reads connected for as long as it hangs,
// and only the active witness - a request crossing the link now - says
// the follower has lost it. It is agreed on once drwatch's probes and the
// follower's request have both failed for leader_down_after, and auto mode
// promotes.
func TestHungLeaderIsAgreedOnWithinLeaderDownAfter(t *testing.T) {
	p := newPair(t, policyFor("auto"))
	p.decide(0, up)
	start := p.clk.now().Add(interval)
	var d policy.Decision
	for i := range 20 {
		d = p.decide(interval, hung)
		if d.State.Phase == policy.Isolated {
			t.Fatalf("cycle %d: a hung leader taken for drwatch being cut off: %q", i, d.State.Reasons)
		}
		if d.Promote {
			break
		}
	}
	if !d.Promote {
		t.Fatalf("never promoted a hung leader: %s %q", d.State.Phase, d.State.Reasons)
	}
	took := p.clk.now().Sub(start)
	if lda := p.pol.LeaderDownAfter.D(); took < lda || took > lda+2*interval {
		t.Fatalf("promoted %s after the first failed probe, want within [%s, %s]", took, lda, lda+2*interval)
	}
	requireReasons(t, d, "the follower's request to the leader has had no answer for 3s", "still reads connected")
}

// The same with the follower's request failing at once (a transport error
// the follower reports), and the remote connection already down.
func TestWitnessFailureTypeIsNamed(t *testing.T) {
	p := newPair(t, policyFor("manual"))
	p.decide(0, up)
	var d policy.Decision
	for range 8 {
		d = p.decide(interval, func(at time.Time) *ob {
			return gone(at).witness(observe.WitnessUnreached, 0, "connect_transport_exception")
		})
	}
	if d.State.Phase != policy.LeaderDown {
		t.Fatalf("phase %s: %q", d.State.Phase, d.State.Reasons)
	}
	requireReasons(t, d, "remote \"leader\" disconnected", "the follower's request to the leader failed (connect_transport_exception)")
}

// A leader frozen for less than leader_down_after, again and again: the
// witness agrees each time, and nothing is ever promoted.
func TestShortHangsNeverPromote(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode, withOnTimeout("promote")))
			p.decide(0, up)
			for round := range 100 {
				for i := range 5 { // 25 s < leader_down_after 30 s
					d := p.decide(interval, hung)
					if d.Promote || d.WouldPromote || d.State.Phase != policy.Suspect {
						t.Fatalf("round %d probe %d: %s %q", round, i, d.State.Phase, d.State.Reasons)
					}
				}
				if d := p.decide(interval, up); d.State.Phase != policy.Healthy {
					t.Fatalf("round %d: %s %q", round, d.State.Phase, d.State.Reasons)
				}
			}
		})
	}
}

// A leader that answers, but slower than probe_timeout: drwatch's own
// probes time out all along (past leader_down_after), and the follower's
// request is answered late - every third cycle - never unanswered for
// leader_down_after. Never down.
func TestSlowLeaderNeverPromotes(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode, withOnTimeout("promote")))
			p.decide(0, up)
			for i := range 200 {
				build := hung
				if i%3 == 2 {
					build = func(at time.Time) *ob { return hung(at).witness(observe.WitnessReached, 0, "") }
				}
				d := p.decide(interval, build)
				if d.Promote || d.WouldPromote || d.State.Phase == policy.LeaderDown || d.State.Phase == policy.AwaitingApproval {
					t.Fatalf("cycle %d: %s %q", i, d.State.Phase, d.State.Reasons)
				}
			}
		})
	}
}

// drwatch cut off from the leader while the follower's request reaches it
// now: isolated, whatever the passive signals say (even a follower whose
// remote connection reads disconnected for a moment).
func TestWitnessReachedIsIsolated(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode))
			p.decide(0, up)
			for i := range 100 {
				build := func(at time.Time) *ob { return cutOff(at).witness(observe.WitnessReached, 0, "") }
				if i%7 == 3 {
					build = func(at time.Time) *ob { return gone(at).witness(observe.WitnessReached, 0, "") }
				}
				d := p.decide(interval, build)
				if d.Promote || d.WouldPromote || d.State.Phase != policy.Isolated {
					t.Fatalf("cycle %d: %s %q", i, d.State.Phase, d.State.Reasons)
				}
				requireReasons(t, d, "the follower reached the leader now", "drwatch itself is cut off")
			}
		})
	}
}

// No witness (the follower refuses drwatch's cross-cluster request, e.g.
// a missing permission): the passive signals decide, as before - a
// connected remote is isolated; the request's failure is named.
func TestWitnessNoneFallsBackToTheRemoteConnection(t *testing.T) {
	p := newPair(t, policyFor("auto"))
	p.decide(0, up)
	for i := range 20 {
		d := p.decide(interval, func(at time.Time) *ob {
			return cutOff(at).witness(observe.WitnessNone, 0, "")
		})
		if d.Promote || d.State.Phase != policy.Isolated {
			t.Fatalf("cycle %d: %s %q", i, d.State.Phase, d.State.Reasons)
		}
		requireReasons(t, d, "no witness: the follower did not answer drwatch's request to the leader (no permission)")
	}
}

// drwatch reaches the leader, the follower does not (their link is cut or
// hangs): healthy, never a failover, and from the second such cycle
// replication is degraded with the reason; it recovers with the link.
func TestFollowerLinkCutIsDegradedNotDown(t *testing.T) {
	p := newPair(t, policyFor("auto"))
	p.decide(0, up)
	linkCut := func(at time.Time) *ob { return up(at).witness(observe.WitnessUnreached, 3*time.Second, "") }
	p.run([]step{
		{name: "first", after: interval, obs: linkCut, phase: policy.Healthy},
		{name: "second", after: interval, obs: linkCut, phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded},
			reasons: []string{"the follower cannot reach the leader", "the link between them is cut or hangs"}},
		{name: "still", after: interval, obs: linkCut, phase: policy.Healthy},
		{name: "back", after: interval, obs: func(at time.Time) *ob { return up(at).witness(observe.WitnessReached, 0, "") },
			phase: policy.Healthy, events: []policy.Event{policy.EvReplicationRecovered}, reasons: []string{"the follower reached the leader now"}},
	})
}

// drwatch frozen (or stopped) in the middle of an outage wakes a day
// later: a gap in observation longer than max_observation_age ends what
// the readings before it proved. The outage is counted afresh, and the
// lag reading - a day old when the leader is now seen lost - never passes
// the RPO guard: a human is asked, nothing is promoted.
func TestGapInObservationEndsWhatOldReadingsProve(t *testing.T) {
	p := newPair(t, policyFor("auto"))
	p.decide(0, up)
	for range 4 {
		if d := p.decide(interval, gone); d.State.Phase != policy.Suspect {
			t.Fatalf("%s %q", d.State.Phase, d.State.Reasons)
		}
	}
	d := p.decide(24*time.Hour, gone)
	if d.Promote || d.State.Phase != policy.Suspect || d.State.FailedProbes != 1 {
		t.Fatalf("after a day's gap: %s, %d failed probes, promote %v: %q", d.State.Phase, d.State.FailedProbes, d.Promote, d.State.Reasons)
	}
	requireReasons(t, d, "counted afresh after a gap of 24h0m0s in observation (more than max_observation_age 1m0s)")
	for i := range 20 {
		d = p.decide(interval, gone)
		if d.Promote {
			t.Fatalf("cycle %d: promoted on a day-old reading: %q", i, d.State.Reasons)
		}
	}
	if d.State.Phase != policy.AwaitingApproval {
		t.Fatalf("%s %q", d.State.Phase, d.State.Reasons)
	}
	requireReasons(t, d, "RPO guard fails: last lag reading (0 ops) is 24h0m")
}

// A leader that answers but refuses writes (a disk watermark): alive -
// healthy, never a failover, in any mode - and paged as degraded with the
// blocks named; the page resolves when it takes writes again. A reading
// of the blocks that failed changes nothing.
func TestLeaderRefusingWritesIsDegradedNotDown(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t, policyFor(mode, withOnTimeout("promote")))
			p.decide(0, up)
			blocked := func(at time.Time) *ob {
				b := up(at)
				b.o.Leader.WriteBlocks = []string{"orders: 12: disk usage exceeded flood-stage watermark, index has read-only-allow-delete block"}
				return b
			}
			unread := func(at time.Time) *ob {
				b := up(at)
				b.o.Leader.BlocksFailure = &observe.Failure{Class: observe.ClassTimeout}
				return b
			}
			p.run([]step{
				{name: "blocked", after: interval, obs: blocked, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderDegraded},
					reasons: []string{"leader degraded: it answers but refuses writes: orders: 12: disk usage exceeded flood-stage watermark"}},
				{name: "still", after: interval, obs: blocked, phase: policy.Healthy},
				{name: "unread", after: interval, obs: unread, phase: policy.Healthy},
				{name: "writable", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvLeaderWritable}},
			})
		})
	}
}

// A paused follower index: the follower's retention lease on the leader is
// not renewed. With the leader's period of 1h read from it, it is paged at
// half the period and again at 90 %, the reasons say how long is left, and
// the page resolves once every index syncs again. Nothing is failed over.
func TestRetentionLeaseRunsDownWhileReplicationStalls(t *testing.T) {
	p := newPair(t, policyFor("auto"))
	withPeriod := func(b *ob) *ob { b.o.Leader.RetentionLeasePeriod = time.Hour; return b }
	p.decide(0, func(at time.Time) *ob { return withPeriod(up(at)) })
	paused := func(at time.Time) *ob { return withPeriod(up(at).lagUnknown()) }
	var warned []time.Duration
	start := p.clk.now().Add(interval)
	for range 12*60 + 1 { // an hour of 5s probes, and one
		d := p.decide(interval, paused)
		if d.Promote || d.State.Phase != policy.Healthy {
			t.Fatalf("%s %q", d.State.Phase, d.State.Reasons)
		}
		if slices.Contains(d.Events, policy.EvLeaseExpiring) {
			warned = append(warned, p.clk.now().Sub(start))
		}
	}
	if len(warned) != 2 || warned[0] != 30*time.Minute || warned[1] != 54*time.Minute {
		t.Fatalf("retention_lease_expiring at %v, want at 30m and 54m", warned)
	}
	if left, period := p.st.LeaseLeft(p.clk.now()); period != time.Hour || left > 0 {
		t.Fatalf("left %s of %s after an hour", left, period)
	}
	requireReasons(t, policy.Decision{State: p.st}, "its retention lease on the leader has expired", "index.soft_deletes.retention_lease.period 1h0m0s")
	d := p.decide(interval, func(at time.Time) *ob { return withPeriod(up(at)) })
	if !slices.Contains(d.Events, policy.EvLeaseRenewed) || !d.State.StalledSince.IsZero() {
		t.Fatalf("syncing again: events %q, stalled since %s", d.Events, d.State.StalledSince)
	}
}

// Paused with the lease running down: its reason is given once, not once
// more every cycle.
func TestPausedLeaseReasonIsGivenOnce(t *testing.T) {
	p := newPair(t, policyFor("auto"))
	p.decide(0, up)
	if _, err := p.command(interval, pauseFor(0)); err != nil {
		t.Fatal(err)
	}
	paused := func(at time.Time) *ob {
		b := up(at).lagUnknown()
		b.o.Leader.RetentionLeasePeriod = time.Minute
		return b
	}
	for range 50 {
		p.decide(interval, paused)
	}
	n := 0
	for _, r := range p.st.Reasons {
		if strings.Contains(r, "retention lease") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d retention lease reasons after 50 paused cycles: %q", n, p.st.Reasons)
	}
}

// Cycles that land a little late (probe_interval plus jitter, with
// max_observation_age as short as the interval) are no gap: a dead leader
// is still declared down.
func TestJitterIsNoGap(t *testing.T) {
	p := newPair(t, policyFor("manual", func(pol *config.Policy) {
		pol.MaxObservationAge = pol.ProbeInterval
	}))
	p.decide(0, up)
	var d policy.Decision
	for range 20 {
		d = p.decide(interval+50*time.Millisecond, gone)
	}
	if d.State.Phase != policy.LeaderDown {
		t.Fatalf("%s %q", d.State.Phase, d.State.Reasons)
	}
}
