package policy_test

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

const aivenInterval = 15 * time.Second // the default aiven.probe_interval

// svc is a service as Aiven reports it: state, then node states.
func svc(name, state string, nodes ...string) *observe.AivenService {
	s := &observe.AivenService{Name: name, State: state, NodesTotal: len(nodes)}
	for i, n := range nodes {
		if n == observe.NodeRunning {
			s.NodesRunning++
			continue
		}
		s.NotRunning = append(s.NotRunning, observe.AivenNode{Name: fmt.Sprintf("%s-%d", name, i+1), State: n})
	}
	return s
}

func running(name string) *observe.AivenService {
	return svc(name, observe.AivenRunning, "running", "running", "running")
}

// reading is a successful Aiven reading taken at readAt.
func reading(readAt time.Time, leader, follower *observe.AivenService) *observe.Aiven {
	return &observe.Aiven{ReadAt: readAt, Interval: aivenInterval, Leader: leader, Follower: follower,
		Integration: &observe.AivenIntegration{Found: true, ID: "ccr-1", Active: true, Status: observe.IntegrationRunning}}
}

// failing is a reading whose calls failed.
func failing(readAt time.Time, c observe.Class) *observe.Aiven {
	return &observe.Aiven{ReadAt: readAt, Interval: aivenInterval, Failure: &observe.Failure{Class: c, Message: "aiven: get service acme/os-prod: " + string(c)}}
}

// outage is the standard outage of these tests: 60 s of a healthy leader
// (lag 0, the RPO guard's reading), then the leader gone and the follower
// without it, observed every 5 s for 3 minutes. aiven gives the Aiven
// reading of each cycle (nil: an OpenSearch-only pair), as the probe
// would: refreshed every 15 s from the cycle at 0.
type outageRun struct {
	phases    []policy.Phase
	events    [][]policy.Event
	reasons   [][]string
	promote   []bool
	downAt    time.Duration // since the leader was lost; -1: never
	promoteAt time.Duration
}

var outageStart = t0.Add(60 * time.Second)

func runOutage(t *testing.T, pol *config.Policy, aiven func(at, refreshed time.Time) *observe.Aiven) outageRun {
	t.Helper()
	p := newPair(t, pol)
	run := outageRun{downAt: -1, promoteAt: -1}
	for i := 1; i <= 48; i++ {
		at := t0.Add(time.Duration(i) * interval)
		refreshed := t0.Add(at.Sub(t0).Truncate(aivenInterval))
		d := p.decide(interval, func(at time.Time) *ob {
			b := healthy(at)
			if !at.Before(outageStart) {
				b = gone(at)
			}
			if aiven != nil {
				b.o.Aiven = aiven(at, refreshed)
			}
			return b
		})
		run.phases = append(run.phases, d.State.Phase)
		run.events = append(run.events, d.Events)
		run.reasons = append(run.reasons, d.State.Reasons)
		run.promote = append(run.promote, d.Promote)
		if slices.Contains(d.Events, policy.EvLeaderDown) && run.downAt < 0 {
			run.downAt = at.Sub(outageStart)
		}
		if d.Promote && run.promoteAt < 0 {
			run.promoteAt = at.Sub(outageStart)
		}
		if d.Promote {
			break
		}
	}
	return run
}

// Aiven reports the leader service RUNNING with every node running while
// OpenSearch does not answer: the leader is declared down at exactly
// 2 x leader_down_after instead of leader_down_after, the reasons say so
// in words, and then the usual rules apply (an auto promotion).
func TestAivenRunningDelaysLeaderDownToTwice(t *testing.T) {
	pol := policyFor(config.ModeAuto)
	none := runOutage(t, pol, nil)
	if none.downAt != 30*time.Second || none.promoteAt != 30*time.Second {
		t.Fatalf("without Aiven: down at %s, promoted at %s; want 30s, 30s", none.downAt, none.promoteAt)
	}
	up := runOutage(t, pol, func(_, refreshed time.Time) *observe.Aiven {
		return reading(refreshed, running("os-prod"), running("os-dr"))
	})
	if up.downAt != 60*time.Second || up.promoteAt != 60*time.Second {
		t.Fatalf("with Aiven RUNNING: down at %s, promoted at %s; want 2 x leader_down_after = 1m0s", up.downAt, up.promoteAt)
	}
	const wait = "Aiven reports leader service os-prod RUNNING, 3/3 nodes running, while OpenSearch does not answer: waiting 2 x leader_down_after (1m0s) before declaring it down"
	at30 := 12 + 6 // the 18th cycle: 30 s into the outage
	if none.phases[at30-1] != policy.Promoting || up.phases[at30-1] != policy.Suspect || !slices.Contains(up.reasons[at30-1], wait) {
		t.Fatalf("at 30s: without Aiven %s, with %s %q; want promoting, and suspect with %q", none.phases[at30-1], up.phases[at30-1], up.reasons[at30-1], wait)
	}
	if up.events[at30-1] != nil {
		t.Fatalf("at 30s with Aiven: events %q, want none (still suspect)", up.events[at30-1])
	}
	last := up.reasons[len(up.reasons)-1]
	if !strings.Contains(strings.Join(last, "; "), "OpenSearch has not answered for 2 x leader_down_after (1m0s): the usual rules apply") {
		t.Fatalf("at 1m0s the reasons %q do not say why Aiven's view no longer holds", last)
	}
}

// A node recycle (REBALANCING, or nodes leaving, being set up, syncing
// data) is Aiven moving the service, not losing it: it delays as RUNNING
// does. Nodes timing out, POWEROFF and REBUILDING are only reasons.
func TestAivenLeaderStatesAndTheDelay(t *testing.T) {
	pol := policyFor(config.ModeAuto)
	for _, tc := range []struct {
		name   string
		leader *observe.AivenService
		downAt time.Duration
		reason string
	}{
		{"REBALANCING", svc("os-prod", observe.AivenRebalancing, "running", "running", "running"), time.Minute,
			"Aiven reports leader service os-prod REBALANCING, 3/3 nodes running, while OpenSearch does not answer: waiting"},
		{"node leaving", svc("os-prod", observe.AivenRunning, "running", "running", "leaving", "setting_up_vm"), time.Minute,
			"Aiven reports leader service os-prod RUNNING, 2/4 nodes running (os-prod-3 leaving, os-prod-4 setting_up_vm), while OpenSearch does not answer: waiting"},
		{"node syncing", svc("os-prod", observe.AivenRunning, "syncing_data", "running", "running"), time.Minute, "a node recycle"},
		{"node timing out", svc("os-prod", observe.AivenRunning, "running", "timing_out", "running"), 30 * time.Second,
			"Aiven reports leader service os-prod RUNNING, 2/3 nodes running (os-prod-2 timing_out)"},
		{"recycle and a node timing out", svc("os-prod", observe.AivenRunning, "leaving", "timing_out", "running"), 30 * time.Second,
			"Aiven reports leader service os-prod RUNNING, 1/3 nodes running (os-prod-1 leaving, os-prod-2 timing_out): a node recycle"},
		{"no node", svc("os-prod", observe.AivenRunning), 30 * time.Second, "Aiven reports leader service os-prod RUNNING, 0/0 nodes running"},
		{"POWEROFF", svc("os-prod", observe.AivenPoweroff), 30 * time.Second, "Aiven reports leader service os-prod POWEROFF, 0/0 nodes running"},
		{"REBUILDING", svc("os-prod", observe.AivenRebuilding, "setting_up_vm", "unknown"), 30 * time.Second,
			"Aiven reports leader service os-prod REBUILDING, 0/2 nodes running (os-prod-1 setting_up_vm, os-prod-2 unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := runOutage(t, pol, func(_, refreshed time.Time) *observe.Aiven {
				return reading(refreshed, tc.leader, running("os-dr"))
			})
			if run.downAt != tc.downAt || run.promoteAt != tc.downAt {
				t.Fatalf("down at %s, promoted at %s; want %s", run.downAt, run.promoteAt, tc.downAt)
			}
			if all := strings.Join(slices.Concat(run.reasons[12:]...), "; "); !strings.Contains(all, tc.reason) {
				t.Fatalf("the outage's reasons never say %q: %s", tc.reason, all)
			}
		})
	}
}

// An Aiven reading that failed, is stale, is dated after the observation,
// or was taken before the outage began is no evidence about it: the
// decision is exactly the one without Aiven - the same phases, events and
// promotion at the same cycle - plus, for the first three, one reason
// saying the view is not used.
func TestAivenUnusableChangesNothing(t *testing.T) {
	for _, mode := range []string{config.ModeAuto, config.ModeSemiAuto, config.ModeManual} {
		pol := policyFor(mode)
		none := runOutage(t, pol, nil)
		for _, tc := range []struct {
			name  string
			aiven func(at, refreshed time.Time) *observe.Aiven
			note  string
		}{
			{"timeout", func(_, refreshed time.Time) *observe.Aiven { return failing(refreshed, observe.ClassTimeout) },
				"Aiven API unreachable (timeout): its view is not used"},
			{"5xx", func(_, refreshed time.Time) *observe.Aiven { return failing(refreshed, observe.ClassHTTP5xx) },
				"Aiven API failing (http_5xx): its view is not used"},
			{"token refused", func(_, refreshed time.Time) *observe.Aiven { return failing(refreshed, observe.ClassAuth) },
				"Aiven API refuses drwatch's token (auth): its view is not used"},
			{"stale", func(at, _ time.Time) *observe.Aiven {
				return reading(at.Add(-3*aivenInterval-time.Second), running("os-prod"), running("os-dr"))
			}, "Aiven reading is 46s old (more than 3 x aiven.probe_interval 15s): its view is not used"},
			{"from the future", func(at, _ time.Time) *observe.Aiven {
				return reading(at.Add(time.Second), running("os-prod"), running("os-dr"))
			}, "after the observation (a clock step?): its view is not used"},
			{"before the outage", func(at, _ time.Time) *observe.Aiven {
				readAt := at
				if !at.Before(outageStart) {
					readAt = outageStart.Add(-time.Second)
				}
				r := reading(readAt, running("os-prod"), running("os-dr"))
				r.Interval = time.Hour
				return r
			}, ""},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				got := runOutage(t, pol, tc.aiven)
				if got.downAt != none.downAt || got.promoteAt != none.promoteAt {
					t.Fatalf("down at %s, promoted at %s; without Aiven %s, %s", got.downAt, got.promoteAt, none.downAt, none.promoteAt)
				}
				if !slices.Equal(got.phases, none.phases) || !slices.Equal(got.promote, none.promote) {
					t.Fatalf("phases %v, want %v", got.phases, none.phases)
				}
				for i := range none.events {
					if !slices.Equal(got.events[i], none.events[i]) {
						t.Fatalf("cycle %d: events %q, want %q", i+1, got.events[i], none.events[i])
					}
					var want []string
					if tc.note == "" {
						want = none.reasons[i]
					} else {
						want = append(slices.Clone(none.reasons[i]), tc.note)
					}
					rest := slices.DeleteFunc(slices.Clone(got.reasons[i]), func(r string) bool { return tc.note != "" && strings.Contains(r, tc.note) })
					if len(rest) != len(none.reasons[i]) || len(got.reasons[i]) != len(want) || !sameSet(rest, none.reasons[i]) {
						t.Fatalf("cycle %d: reasons %q, want %q", i+1, got.reasons[i], want)
					}
				}
			})
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Replication pauses during an Aiven node recycle: with the leader up it
// is degraded replication with a reason saying why, never an outage; with
// drwatch cut off from the leader and the follower still seeing it, it
// stays isolated.
func TestAivenPausedReplicationDuringRecycle(t *testing.T) {
	p := newPair(t, policyFor(config.ModeAuto))
	recycle := func(at time.Time) *observe.Aiven {
		return reading(at, running("os-prod"), svc("os-dr", observe.AivenRunning, "running", "syncing_data", "setting_up_vm"))
	}
	paused := func(at time.Time) *ob {
		b := healthy(at).lagUnknown()
		b.o.Aiven = recycle(at)
		return b
	}
	const why = "1 follower index(es) not syncing while Aiven recycles nodes of os-dr: replication pauses during an Aiven node recycle; this is not a leader failure"
	p.run(seq(
		one(step{name: "paused during the recycle", after: interval, obs: paused, phase: policy.Healthy,
			events: []policy.Event{policy.EvReplicationDegraded}, reasons: []string{"replication degraded", why,
				"Aiven reports follower service os-dr RUNNING, 1/3 nodes running (os-dr-2 syncing_data, os-dr-3 setting_up_vm): a node recycle"}}),
		repeat(20, step{name: "still paused", after: interval, obs: paused, phase: policy.Healthy, reasons: []string{why}}),
		first(repeat(20, step{name: "drwatch cut off, the follower still sees the leader", after: interval, obs: func(at time.Time) *ob {
			return paused(at).leaderDown(observe.ClassTimeout)
		}, phase: policy.Isolated, reasons: []string{"drwatch itself is cut off", why}}), policy.EvWatcherIsolated),
	))
	// Without the recycle, the same pause has no such reason.
	q := newPair(t, policyFor(config.ModeAuto))
	d := q.decide(interval, func(at time.Time) *ob { return healthy(at).lagUnknown() })
	if strings.Contains(strings.Join(d.State.Reasons, "; "), "node recycle") {
		t.Fatalf("a pause without a recycle blamed one: %q", d.State.Reasons)
	}
}

// The CCR integration missing (the follower made standalone outside
// drwatch), failed, or inactive: a reason, whatever the phase.
func TestAivenIntegrationReasons(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   observe.AivenIntegration
		want string
	}{
		{"missing", observe.AivenIntegration{}, "Aiven lists no cross-cluster replication integration from os-prod to os-dr: the follower service is standalone"},
		{"failed", observe.AivenIntegration{Found: true, ID: "ccr-9", Active: true, Status: observe.IntegrationFailed}, "Aiven reports the cross-cluster replication integration ccr-9 failed"},
		{"inactive", observe.AivenIntegration{Found: true, ID: "ccr-9", Status: observe.IntegrationStarting}, "integration ccr-9 not active (status starting)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, policyFor(config.ModeManual))
			with := func(b *ob) *ob {
				r := reading(b.o.Time, running("os-prod"), running("os-dr"))
				r.Integration = &tc.in
				b.o.Aiven = r
				return b
			}
			p.run([]step{
				{name: "healthy", after: interval, obs: func(at time.Time) *ob { return with(healthy(at)) }, phase: policy.Healthy, reasons: []string{tc.want}},
				{name: "suspect", after: interval, obs: func(at time.Time) *ob { return with(gone(at)) }, phase: policy.Suspect,
					events: []policy.Event{policy.EvLeaderSuspect}, reasons: []string{tc.want}},
			})
		})
	}
	// A running integration adds nothing.
	p := newPair(t, policyFor(config.ModeManual))
	d := p.decide(interval, func(at time.Time) *ob {
		b := healthy(at)
		b.o.Aiven = reading(at, running("os-prod"), running("os-dr"))
		return b
	})
	if want := policy.Decide(policy.Initial(t0), healthy(t0.Add(interval)).get(), policyFor(config.ModeManual), t0.Add(interval)); !slices.Equal(d.State.Reasons, want.State.Reasons) {
		t.Fatalf("a nominal Aiven reading changed the reasons: %q, want %q", d.State.Reasons, want.State.Reasons)
	}
}

// An outage Aiven's view held back from leader_down starts the cooldown
// when the leader answers again, as the episode it would have been
// without Aiven does: the next outage is not promoted unattended sooner.
func TestAivenDelayedOutageStartsTheCooldown(t *testing.T) {
	pol := policyFor(config.ModeAuto, withCooldown(time.Hour), withThresholds(30*time.Second, 3))
	for _, withAiven := range []bool{false, true} {
		t.Run(fmt.Sprintf("aiven=%v", withAiven), func(t *testing.T) {
			p := newPair(t, pol)
			for range 12 {
				p.decide(interval, upLag(0))
			}
			// An outage of 45 s: down by the usual rules at 30 s; with
			// Aiven reporting RUNNING, held until 60 s, which it never
			// reaches. Witness off: the outage alone decides.
			p.pol = policyFor(config.ModeSemiAuto, withCooldown(time.Hour))
			for range 10 {
				p.decide(interval, func(at time.Time) *ob {
					b := gone(at)
					if withAiven {
						b.o.Aiven = reading(at, running("os-prod"), running("os-dr"))
					}
					return b
				})
			}
			for range 3 {
				p.decide(interval, upLag(0))
			}
			if p.st.EpisodeEnd.IsZero() {
				t.Fatal("the outage started no cooldown")
			}
			// The next outage, Aiven unreachable, in auto mode: held by
			// the cooldown either way.
			p.pol = pol
			var last policy.Decision
			for range 8 {
				last = p.decide(interval, func(at time.Time) *ob {
					b := gone(at)
					if withAiven {
						b.o.Aiven = failing(at, observe.ClassTimeout)
					}
					return b
				})
				if last.Promote {
					t.Fatalf("promoted unattended in the cooldown: %q", last.State.Reasons)
				}
			}
			if last.State.Phase != policy.AwaitingApproval {
				t.Fatalf("phase %s, want awaiting_approval (held by the cooldown): %q", last.State.Phase, last.State.Reasons)
			}
			requireReasons(t, last, "in cooldown until")
		})
	}
}

// randomAiven is any Aiven reading: none, failed, stale, from the future,
// from before the outage, or fresh with any states of the services,
// their nodes and the integration.
func randomAiven(r *rand.Rand, at time.Time) *observe.Aiven {
	states := []string{observe.AivenRunning, observe.AivenRunning, observe.AivenRebalancing, observe.AivenPoweroff, observe.AivenRebuilding, "UNKNOWN_STATE"}
	nodes := []string{"running", "running", "running", "leaving", "setting_up_vm", "syncing_data", "timing_out", "unknown"}
	service := func(name string) *observe.AivenService {
		if r.Intn(10) == 0 {
			return nil
		}
		ns := make([]string, r.Intn(5))
		for i := range ns {
			ns[i] = nodes[r.Intn(len(nodes))]
		}
		return svc(name, states[r.Intn(len(states))], ns...)
	}
	var a *observe.Aiven
	switch x := r.Intn(10); {
	case x == 0:
		return nil
	case x == 1:
		a = failing(at, []observe.Class{observe.ClassTimeout, observe.ClassAuth, observe.ClassHTTP5xx}[r.Intn(3)])
	default:
		a = reading(at, service("os-prod"), service("os-dr"))
		if r.Intn(4) == 0 {
			a.Integration = &observe.AivenIntegration{Found: r.Intn(2) == 0, ID: "ccr-1", Active: r.Intn(2) == 0,
				Status: observe.IntegrationStatuses[r.Intn(len(observe.IntegrationStatuses))]}
		}
	}
	a.Interval = []time.Duration{0, time.Second, 5 * time.Second, 15 * time.Second, time.Minute}[r.Intn(5)]
	a.ReadAt = at.Add(-time.Duration(r.Intn(240)) * time.Second)
	if r.Intn(20) == 0 {
		a.ReadAt = at.Add(time.Duration(1+r.Intn(30)) * time.Second)
	}
	return a
}

// Adding any Aiven reading to any observation sequence never makes
// leader_down or a promotion earlier: two decision cores run side by
// side on the same random worlds (leaders failing and recovering, the
// follower's witness, lag, flaky reads; every mode, thresholds, cooldowns
// and maintenance windows), one with a random Aiven reading on every
// observation. In every outage, the one with Aiven raises leader_down
// only once the one without has, and promotes only in a cycle where the
// one without promotes (until then, neither has). (dry-run's
// WouldPromote is a count made once per episode, not a moment: not
// compared.)
func TestPropertyAivenNeverHastens(t *testing.T) {
	seeds, cycles := 400, 600
	if testing.Short() {
		seeds = 50
	}
	delayed, promoted := 0, 0
	for seed := range int64(seeds) {
		w := newWorld(seed)
		pol := w.policy()
		r := rand.New(rand.NewSource(seed + 1_000_000))
		t.Run(fmt.Sprintf("seed%d-%s", seed, pol.Mode), func(t *testing.T) {
			clk := newClock(t0)
			plain, aiv := policy.Initial(clk.now()), policy.Initial(clk.now())
			// Per outage (from a failed probe to the leader's next
			// answer, the same in both runs): has the run without Aiven
			// declared the leader down yet?
			plainDown := false
			for i := range cycles {
				now := clk.advance(w.step())
				obs := w.observe(now)
				withAiven := obs
				withAiven.Aiven = randomAiven(r, now)
				dp := policy.Decide(plain, obs, pol, now)
				da := policy.Decide(aiv, withAiven, pol, now)
				checkDecision(t, aiv, da)
				if obs.Leader.Answered() {
					plainDown = false
				}
				if slices.Contains(dp.Events, policy.EvLeaderDown) {
					plainDown = true
				}
				if slices.Contains(da.Events, policy.EvLeaderDown) && !plainDown {
					t.Fatalf("cycle %d: leader_down with Aiven, not yet in this outage without it\nAiven: %+v\nreasons: %q\nwithout: %s %q", i, withAiven.Aiven, da.State.Reasons, dp.State.Phase, dp.State.Reasons)
				}
				if da.Promote && !dp.Promote {
					t.Fatalf("cycle %d: promotion with Aiven, not without it\nreasons: %q\nwithout: %s %q", i, da.State.Reasons, dp.State.Phase, dp.State.Reasons)
				}
				if da.State.AivenDelayed {
					delayed++
				}
				plain, aiv = dp.State, da.State
				if da.Promote {
					promoted++
				}
				if da.Promote || dp.Promote {
					return // the executor's part: not simulated; after it the runs are not comparable
				}
			}
		})
	}
	if delayed == 0 || promoted == 0 {
		t.Fatalf("the worlds never exercised the rule: %d delayed decisions, %d promotions with Aiven", delayed, promoted)
	}
	t.Logf("%d decisions held back by Aiven's view, %d promotions with Aiven, none earlier than without", delayed, promoted)
}
