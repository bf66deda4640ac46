package drill

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// simulation is what the pure decision core does when the leader dies
// right after the drill's observation.
type simulation struct {
	decided   bool // reached leader_down, awaiting_approval or promoting
	state     policy.State
	probes    int           // failed probes until the decision
	detection time.Duration // from the leader's death to the decision
	guardOK   bool
	guard     string
}

// leaderLost is obs as the next probe would see it after the leader died:
// drwatch's health call refused, the follower's remote disconnected (the
// kernel closes the sockets of a dead process: the witness), and no lag
// measurable any more (the leader's checkpoints cannot be read).
func leaderLost(obs observe.Observation, at time.Time) observe.Observation {
	down := obs
	down.Time = at
	down.Leader = observe.Leader{Failure: &observe.Failure{Class: observe.ClassConnRefused, Message: "leader unreachable (simulated by the readiness drill)"}}
	down.Follower.Remote.Connected = false
	down.Follower.Remote.NodesConnected, down.Follower.Remote.ProxySocketsConnected = 0, 0
	// The follower's own request to a dead leader fails at once (as the
	// lab answers a SIGKILLed leader).
	down.Follower.Witness = observe.Witness{Verdict: observe.WitnessUnreached, SentAt: at, Type: "connect_transport_exception"}
	r := &down.Follower.Replication
	r.Indices = slices.Clone(r.Indices)
	for i := range r.Indices {
		ix := &r.Indices[i]
		ix.Lag, ix.LagKnown, ix.LeaderCheckpoint, ix.FollowerCheckpoint = 0, false, 0, 0
	}
	r.TotalLag, r.MaxLag, r.LagComplete, r.LeaderSeqNoSum, r.LeaderCheckpointsRead = 0, 0, false, 0, false
	r.CheckpointsFailure = &observe.Failure{Class: observe.ClassConnRefused, Message: "leader's checkpoints not read: leader unreachable"}
	r.CheckpointsSide = observe.SideLeader
	return down
}

// simulateLeaderLoss runs the decision core as the daemon would from a
// fresh start: the drill's observation, then, every probe_interval, the
// leader lost, until a decision about the outage is made (or it is clear
// none will be).
func simulateLeaderLoss(obs observe.Observation, pol *config.Policy) simulation {
	// Two readings of the same observation, a probe_interval apart: the
	// drill reads the pair once, so the leader's write rate it stands for
	// is 0 (the daemon measures the real one between its readings; an
	// unknown rate would fail the guard by itself).
	before := obs
	before.Time = obs.Time.Add(-pol.ProbeInterval.D())
	st := policy.Decide(policy.Initial(before.Time), before, pol, before.Time).State
	st = policy.Decide(st, obs, pol, obs.Time).State
	step := pol.ProbeInterval.D()
	limit := int(pol.LeaderDownAfter.D()/step) + pol.MinFailedProbes + policy.WitnessProbes + 5
	limit = min(limit, 10000)
	var sim simulation
	for k := 1; k <= limit; k++ {
		now := obs.Time.Add(time.Duration(k) * step)
		st = policy.Decide(st, leaderLost(obs, now), pol, now).State
		sim.state, sim.probes, sim.detection = st, k, now.Sub(obs.Time)
		switch st.Phase {
		case policy.LeaderDown, policy.AwaitingApproval, policy.Promoting:
			sim.decided = true
			sim.guardOK, sim.guard = policy.RPOGuard(&st, pol, now)
			return sim
		}
	}
	return sim
}

func policyUsable(pol *config.Policy) bool {
	return pol != nil && pol.RequireFollowerWitness != nil && pol.MaxLagOperations != nil && pol.FenceLeader != nil &&
		pol.Cooldown != nil && pol.ProbeInterval > 0
}

// judgeVerdict says what the policy engine would decide if the leader
// died now. Only auto mode is meant to promote by itself: an auto pair
// that would not is a warning; every other mode doing what it says passes.
func judgeVerdict(obs observe.Observation, pol *config.Policy) (Check, simulation) {
	const name = CheckVerdict
	if !policyUsable(pol) {
		return check(name, Fail, "the pair's policy is not resolved: nothing to simulate"), simulation{}
	}
	sim := simulateLeaderLoss(obs, pol)
	st := sim.state
	when := fmt.Sprintf("after %s (%d failed probes every %s)", sim.detection, sim.probes, pol.ProbeInterval)
	rest := ""
	if len(st.Reasons) > 1 {
		rest = strings.Join(st.Reasons[1:], "; ")
	}
	if !sim.decided {
		return check(name, Warn, fmt.Sprintf("%s mode: would not declare the leader down within %d probes: %s", pol.Mode, sim.probes, strings.Join(st.Reasons, "; "))), sim
	}
	switch {
	case st.Phase == policy.Promoting:
		return check(name, Pass, fmt.Sprintf("would promote automatically %s (RPO guard passes: %s)", when, sim.guard)), sim
	case st.Phase == policy.AwaitingApproval && pol.Mode == config.ModeSemiAuto:
		return check(name, Pass, fmt.Sprintf("semi-auto mode: would ask for approval %s: %s", when, rest)), sim
	case st.Phase == policy.AwaitingApproval:
		return check(name, Warn, fmt.Sprintf("auto mode, but would ask for approval %s instead of promoting: %s", when, rest)), sim
	case pol.Mode == config.ModeManual:
		return check(name, Pass, fmt.Sprintf("manual mode: would page only (leader_down %s); promote with drwatch promote; %s", when, sim.guard)), sim
	case pol.Mode == config.ModeDryRun:
		return check(name, Pass, fmt.Sprintf("dry-run mode: would log and page %s, changing nothing: %s", when, rest)), sim
	}
	return check(name, Warn, fmt.Sprintf("%s mode: would hold in %s %s: %s", pol.Mode, st.Phase, when, rest)), sim
}

// assumedStop is the time per index assumed when no stop was measured:
// docs/replication.md, "Promotion: what _stop does".
const assumedStop = 250 * time.Millisecond

// judgeETA estimates how long a promotion would take from the leader's
// death: detection (from the simulation), the stops (in batches of
// promote_concurrency, at the median measured stop time), and the
// requests around them.
func judgeETA(obs observe.Observation, pol *config.Policy, sim simulation, stops []time.Duration, rules int) Check {
	const name = CheckPromotionETA
	if !policyUsable(pol) {
		return check(name, Fail, "the pair's policy is not resolved: no estimate")
	}
	n := len(obs.Follower.Replication.Indices)
	conc := max(pol.PromoteConcurrency, 1)
	batches := (n + conc - 1) / conc

	detect := sim.detection
	detectWhy := fmt.Sprintf("detection %s (the simulated outage of %s)", detect, CheckVerdict)
	if !sim.decided {
		detect = max(pol.LeaderDownAfter.D(), time.Duration(pol.MinFailedProbes)*pol.ProbeInterval.D())
		detectWhy = fmt.Sprintf("detection at least %s (leader_down_after, min_failed_probes x probe_interval; the simulation reached no decision)", detect)
	}

	var stopTotal time.Duration
	var stopWhy string
	if len(stops) == 0 {
		stopTotal = time.Duration(n) * assumedStop
		stopWhy = fmt.Sprintf("stops %s: no stop was measured yet, assuming %s per index (the cluster manager applies stops one at a time; measured on the lab, docs/replication.md) for %s", stopTotal, assumedStop, count(n, "index", "indices"))
	} else {
		med := median(stops)
		stopTotal = time.Duration(batches) * med
		stopWhy = fmt.Sprintf("stops %s: %d batches of up to %d (promote_concurrency) x %s, the median time per batch of the pair's %d failover drills (a graceful promotion's catch-up included: it errs long)", stopTotal, batches, conc, med.Round(time.Millisecond), len(stops))
	}

	// Around the stops the executor plans (1 request), lists and deletes
	// the autofollow rules (1 + rules), extends the plan (1), checks that
	// no index is restoring (2) and verifies (2): follower requests at the
	// latency the observation measured.
	lat := max(obs.Follower.Latency, time.Millisecond)
	reqs := 7 + rules
	around := time.Duration(reqs) * lat
	total := detect + stopTotal + around
	detail := fmt.Sprintf("about %s from the leader's death to every index writable: %s + %s + plan, autofollow and verify %s (%d follower requests at the %s measured)",
		total.Round(100*time.Millisecond), detectWhy, stopWhy, around.Round(time.Millisecond), reqs, lat.Round(time.Millisecond))
	if pol.Mode != config.ModeAuto {
		detail += "; in " + pol.Mode + " mode, plus the time a human takes to decide"
	}
	return check(name, Pass, detail)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
