package policy_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// TestRPOGuard checks the guard on its own: lag against
// max_lag_operations, age at the moment the leader was lost against
// max_observation_age, and an unknown lag.
func TestRPOGuard(t *testing.T) {
	lost := t0.Add(time.Hour)
	reading := func(total int64, age time.Duration) *policy.LagReading {
		return &policy.LagReading{TotalOperations: total, MaxOperations: total / 2, Indices: 2, At: lost.Add(-age), RateKnown: true}
	}
	rated := func(total int64, age time.Duration, rate float64) *policy.LagReading {
		r := reading(total, age)
		r.WriteRate = rate
		return r
	}
	tests := []struct {
		name    string
		st      policy.State
		now     time.Time
		maxLag  int64
		ok      bool
		reasons []string
	}{
		{name: "no reading", st: policy.State{Outage: policy.Outage{OutageStart: lost}}, now: lost, maxLag: 1000,
			reasons: []string{"RPO guard fails: no complete lag reading (lag unknown)"}},
		{name: "lag equal to the max passes", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(1000, 5*time.Second)}}, now: lost.Add(time.Minute),
			maxLag: 1000, ok: true, reasons: []string{"last lag 1000 ops, read 5s before the leader was lost"}},
		{name: "lag one over fails, with the estimated loss", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(1001, 5*time.Second)}}, now: lost,
			maxLag: 1000, reasons: []string{"RPO guard fails: last lag 1001 ops (max 500, in 2 indices) > max_lag_operations 1000: estimated loss 1001 operations"}},
		{name: "zero tolerance, zero lag", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(0, time.Second)}}, now: lost, maxLag: 0, ok: true},
		{name: "zero tolerance, one op", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(1, time.Second)}}, now: lost, maxLag: 0,
			reasons: []string{"estimated loss 1 operations"}},
		{name: "age equal to max_observation_age passes", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(0, time.Minute)}}, now: lost.Add(time.Hour),
			maxLag: 1000, ok: true, reasons: []string{"read 1m0s before the leader was lost"}},
		{name: "a second older fails", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(0, time.Minute+time.Second)}}, now: lost,
			maxLag: 1000, reasons: []string{"RPO guard fails: last lag reading (0 ops) is 1m1s before the leader was lost, max_observation_age 1m0s"}},
		{name: "measured at the loss, not now: a long outage keeps a fresh reading fresh", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(10, 5*time.Second)}},
			now: lost.Add(10 * time.Hour), maxLag: 1000, ok: true},
		{name: "a stale reading never passes", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(0, 24*time.Hour)}}, now: lost,
			maxLag: 1 << 62, reasons: []string{"is 24h0m0s before the leader was lost"}},
		{name: "no outage: measured now", st: policy.State{Tracking: policy.Tracking{LastGoodLag: reading(0, 0)}}, now: lost.Add(2 * time.Minute),
			maxLag: 1000, reasons: []string{"RPO guard fails: last lag reading (0 ops) is 2m0s old"}},
		{name: "writes at the last rate since the reading count: 0 + 100 ops/s x 5s", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: rated(0, 5*time.Second, 100)}}, now: lost,
			maxLag: 500, ok: true, reasons: []string{"last lag 0 ops + ~500 written in the 5s after it (100 ops/s), read 5s before the leader was lost: estimated loss 500 operations"}},
		{name: "one more op a second fails", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: rated(0, 5*time.Second, 100.2)}}, now: lost, maxLag: 500,
			reasons: []string{"RPO guard fails: last lag 0 ops + ~501 written in the 5s after it (100 ops/s) (max 0, in 2 indices) > max_lag_operations 500: estimated loss 501 operations"}},
		{name: "the measured lag and the writes since add up", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: rated(300, 2*time.Second, 100)}}, now: lost, maxLag: 499,
			reasons: []string{"estimated loss 500 operations"}},
		{name: "an unknown write rate fails: the writes after the reading cannot be estimated", st: policy.State{Outage: policy.Outage{OutageStart: lost},
			Tracking: policy.Tracking{LastGoodLag: &policy.LagReading{TotalOperations: 0, Indices: 2, At: lost.Add(-5 * time.Second)}}}, now: lost, maxLag: 1 << 40,
			reasons: []string{"RPO guard fails: last lag 0 ops, read 5s before the leader was lost, but the leader's write rate is unknown"}},
		{name: "a reading from the future (a clock step back) is no evidence", st: policy.State{Outage: policy.Outage{OutageStart: lost}, Tracking: policy.Tracking{LastGoodLag: reading(0, -5*time.Second)}}, now: lost,
			maxLag: 1000, reasons: []string{"RPO guard fails: last lag reading (0 ops) is dated", "a clock step? not trusted"}},
		{name: "nor while the leader is up", st: policy.State{Tracking: policy.Tracking{LastGoodLag: reading(0, -time.Second)}}, now: lost,
			maxLag: 1000, reasons: []string{"a clock step? not trusted"}},
		{name: "the follower lost the leader after drwatch did: measured then",
			st: policy.State{Outage: policy.Outage{OutageStart: lost}, Witness: policy.Witness{WitnessLostSince: lost.Add(time.Hour)}, Tracking: policy.Tracking{LastGoodLag: reading(0, 5*time.Second)}}, now: lost.Add(time.Hour),
			maxLag: 1000, reasons: []string{"RPO guard fails: last lag reading (0 ops) is 1h0m5s before the leader was lost"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := policyFor(config.ModeAuto, withMaxLag(tc.maxLag))
			before := tc.st
			ok, why := policy.RPOGuard(&tc.st, pol, tc.now)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v: %s", ok, tc.ok, why)
			}
			requireReasons(t, policy.Decision{State: policy.State{Reasons: []string{why}}}, tc.reasons...)
			if !equalState(before, tc.st) {
				t.Fatal("RPOGuard changed the state")
			}
		})
	}
}

func equalState(a, b policy.State) bool {
	return a.OutageStart.Equal(b.OutageStart) && a.LastGoodLag == b.LastGoodLag && a.WitnessLostSince.Equal(b.WitnessLostSince)
}

// TestRPOGuardThroughDecide drives the guard with observations: which
// readings count, and how old they are when the leader is lost.
func TestRPOGuardThroughDecide(t *testing.T) {
	promotes := step{name: "down", after: interval, obs: gone, phase: policy.Promoting, promote: true,
		events: []policy.Event{policy.EvLeaderDown, policy.EvPromotionStarted}}
	asks := func(why ...string) step {
		return step{name: "down", after: interval, obs: gone, phase: policy.AwaitingApproval,
			events: []policy.Event{policy.EvLeaderDown, policy.EvApprovalRequired}, reasons: why}
	}
	noReading := asks("RPO guard fails: no complete lag reading (lag unknown)")
	// upFor: the leader answers for d with the given observation, every 5s.
	upFor := func(d time.Duration, obs func(time.Time) *ob) []step {
		return repeat(int(d/interval), step{name: "leader up", after: interval, obs: obs, phase: policy.Healthy})
	}
	degraded := func(steps []step) []step { return first(steps, policy.EvReplicationDegraded) }
	up2 := func(mod func(*ob) *ob) func(time.Time) *ob {
		return func(at time.Time) *ob { return mod(healthy(at)) }
	}
	tests := []struct {
		name  string
		cold  bool // a pair never observed before the steps
		steps []step
	}{
		{name: "lag at the max passes", steps: seq(one(step{name: "lag", obs: upLag(1000), phase: policy.Healthy}), toSuspect(gone), one(promotes))},
		// The leader's write rate comes from the growth of its max_seq_no
		// between readings; what it took in the 5s between the last
		// reading and the loss is estimated lost too.
		{name: "200 ops/s for the 5s after the last reading: 1000, at the max, passes",
			steps: seq(upFor(time.Minute, up2(func(b *ob) *ob { return b.writing(200) })), toSuspect(gone), one(promotes))},
		{name: "201 ops/s: 1005 over the max asks, with the loss",
			steps: seq(upFor(time.Minute, up2(func(b *ob) *ob { return b.writing(201) })), toSuspect(gone),
				one(asks("last lag 0 ops + ~1005 written in the 5s after it (201 ops/s)", "estimated loss 1005 operations")))},
		// A rollover: the leader's writes move to a new index. Its first
		// reading has no rate of its own (comparing counts of indices
		// would read the new index's writes as none): the rate is
		// unknown, never 0, and a human is asked.
		{name: "a rollover's new index: the rate is unknown, not 0",
			steps: seq(upFor(time.Minute, up2(func(b *ob) *ob { return b.writing(201) })),
				one(step{name: "rolled over", after: interval, phase: policy.Healthy, obs: func(at time.Time) *ob {
					b := healthy(at)
					r := &b.o.Follower.Replication
					r.Indices = append(r.Indices, observe.Index{Name: "logs-2", LeaderIndex: "logs-2", State: observe.StateSyncing,
						LeaderCheckpoint: 1000, FollowerCheckpoint: 1000, LagKnown: true})
					return b
				}}),
				toSuspect(gone), one(asks("the leader's write rate is unknown")))},
		{name: "the rollover's index read twice: its rate is known again",
			steps: seq(upFor(time.Minute, up2(func(b *ob) *ob { return b.writing(201) })),
				upFor(2*interval, func(at time.Time) *ob {
					b := healthy(at)
					r := &b.o.Follower.Replication
					grown := int64(at.Sub(t0).Seconds()) * 201
					r.Indices = append(r.Indices, observe.Index{Name: "logs-2", LeaderIndex: "logs-2", State: observe.StateSyncing,
						LeaderCheckpoint: 1000 + grown, FollowerCheckpoint: 1000 + grown, LagKnown: true})
					return b
				}),
				toSuspect(gone), one(asks("last lag 0 ops + ~1005 written in the 5s after it (201 ops/s)")))},
		{name: "lag one over the max asks, with the loss",
			steps: seq(one(step{name: "lag", obs: upLag(1001), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded}}),
				toSuspect(gone), one(asks("estimated loss 1001 operations", "awaiting approval")))},
		{name: "the last reading counts, not the worst",
			steps: seq(one(step{name: "lag", obs: upLag(50000), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationDegraded}}),
				one(step{name: "caught up", after: interval, obs: upLag(10), phase: policy.Healthy, events: []policy.Event{policy.EvReplicationRecovered}}),
				toSuspect(gone), one(promotes))},
		{name: "reading 60s old when the leader is lost passes",
			steps: seq(one(stepHealthy), degraded(upFor(55*time.Second, up2((*ob).lagUnknown))), toSuspect(gone), one(promotes))},
		{name: "reading 65s old when the leader is lost fails",
			steps: seq(one(stepHealthy), degraded(upFor(60*time.Second, up2((*ob).lagUnknown))), toSuspect(gone),
				one(asks("RPO guard fails: last lag reading (0 ops) is 1m5s before the leader was lost, max_observation_age 1m0s")))},
		{name: "a follower that cannot be asked for 10 minutes: the leader was lost when it could confirm",
			steps: seq(one(stepHealthy),
				first(repeat(120, step{name: "follower unreachable: cannot confirm", after: interval, phase: policy.Suspect,
					obs: func(at time.Time) *ob { return gone(at).followerUnreachable() }}), policy.EvLeaderSuspect),
				one(step{name: "first witness probe", after: interval, obs: gone, phase: policy.Suspect,
					reasons: []string{"the follower without the leader in 2 probes in a row (1 so far)"}}),
				one(asks("RPO guard fails: last lag reading (0 ops) is 10m5s before the leader was lost")))},
		{name: "a stale reading never passes",
			steps: seq(one(stepHealthy), degraded(upFor(2*time.Hour, up2((*ob).replicationUnreadable))), toSuspect(gone),
				one(asks("RPO guard fails: last lag reading (0 ops) is 2h0m5s before the leader was lost")))},
		{name: "lag never complete", cold: true, steps: seq(degraded(upFor(time.Hour, up2((*ob).lagUnknown))), toSuspect(gone), one(noReading))},
		{name: "replication never readable", cold: true, steps: seq(degraded(upFor(time.Hour, up2((*ob).replicationUnreadable))), toSuspect(gone), one(noReading))},
		{name: "no follower index in scope", cold: true, steps: seq(degraded(upFor(time.Hour, up2((*ob).noIndices))), toSuspect(gone), one(noReading))},
		{name: "follower unreachable while the leader was up", cold: true, steps: seq(degraded(upFor(time.Hour, up2((*ob).followerUnreachable))), toSuspect(gone), one(noReading))},
		// A reading is drwatch's own measurement of both clusters: the
		// follower's link or its view of the leader does not make it
		// better or worse.
		{name: "readings measured on both sides count while the follower's link is down",
			steps: seq(upFor(time.Hour, up2((*ob).disconnected)), toSuspect(gone), one(promotes))},
		{name: "readings measured on both sides count while the follower's reads fail",
			steps: seq(upFor(time.Hour, func(at time.Time) *ob { return healthy(at).stats(5000, at.Unix()) }), toSuspect(gone), one(promotes))},
		// A leader index autofollow failed to replicate is on no
		// follower: no reading covers it, however recent.
		{name: "an index autofollow failed to replicate fails the guard, and the readings before it",
			steps: seq(upFor(time.Minute, up), degraded(upFor(10*time.Second, up2(func(b *ob) *ob { return b.unreplicated("logs-2") }))), toSuspect(gone),
				one(asks("RPO guard fails: 1 leader indices in scope were never replicated (autofollow failed): logs-2: their writes would be lost")))},
		{name: "once replicated, a fresh reading is needed",
			steps: seq(degraded(upFor(10*time.Second, up2(func(b *ob) *ob { return b.unreplicated("logs-2") }))),
				one(step{name: "replicated now", after: interval, obs: up, phase: policy.Healthy, events: []policy.Event{policy.EvReplicationRecovered}}),
				one(step{name: "read again: its rate is measured", after: interval, obs: up, phase: policy.Healthy}),
				toSuspect(gone), one(promotes))},
		{name: "without the leader's own checkpoints there is no reading", cold: true,
			steps: seq(degraded(upFor(time.Hour, up2((*ob).leaderCheckpointsUnread))), toSuspect(gone), one(noReading))},
		{name: "the last reading with the leader's checkpoints counts, however recent the others",
			steps: seq(one(stepHealthy), degraded(upFor(2*time.Hour, up2((*ob).leaderCheckpointsUnread))), toSuspect(gone),
				one(asks("RPO guard fails: last lag reading (0 ops) is 2h0m5s before the leader was lost")))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cold {
				newColdPairAt(t, policyFor(config.ModeAuto), t0).run(tc.steps)
				return
			}
			newPair(t, policyFor(config.ModeAuto)).run(tc.steps)
		})
	}

	t.Run("readings while the leader was unreachable are not good", func(t *testing.T) {
		p := newPair(t, policyFor(config.ModeAuto))
		p.decide(0, up)
		good := *p.st.LastGoodLag
		for range 100 {
			for _, o := range []func(time.Time) *ob{cutOff, gone, func(at time.Time) *ob { return healthy(at).lag(7).leaderCheckpointsUnread() },
				func(at time.Time) *ob { return healthy(at).leaderDown(observe.ClassHTTP5xx) }} {
				p.decide(interval, o)
				if !reflect.DeepEqual(*p.st.LastGoodLag, good) {
					t.Fatalf("reading replaced by %+v in %s", *p.st.LastGoodLag, p.st.Phase)
				}
			}
		}
	})
}
