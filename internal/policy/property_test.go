package policy_test

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// world generates plausible observation sequences: a leader that fails
// and recovers, outages where the follower lost it too or only drwatch
// did, flaky followers, lag that comes and goes, frozen checkpoints and
// failed reads (which only ever grow, as the real counters do).
type world struct {
	r          *rand.Rand
	leaderUp   bool
	realOutage bool // the follower lost the leader too
	lag        int64
	leaderCP   int64
	reads      int64
}

func newWorld(seed int64) *world {
	return &world{r: rand.New(rand.NewSource(seed)), leaderUp: true, leaderCP: 1000}
}

func (w *world) pick(p float64) bool { return w.r.Float64() < p }

func (w *world) step() time.Duration {
	switch x := w.r.Float64(); {
	case x < 0.01:
		return time.Duration(10+w.r.Intn(80)) * time.Minute
	case x < 0.1:
		return time.Duration(1+w.r.Intn(60)) * time.Second
	default:
		return interval
	}
}

func (w *world) observe(at time.Time) observe.Observation {
	if w.leaderUp && w.pick(0.07) {
		w.leaderUp, w.realOutage = false, w.pick(0.6)
	} else if !w.leaderUp && w.pick(0.05) {
		w.leaderUp = true
	}
	if w.pick(0.1) {
		w.lag = []int64{0, 10, 999, 1000, 1001, 5000, 1 << 30}[w.r.Intn(7)]
	}
	b := healthy(at).lag(w.lag)
	if !w.leaderUp {
		b.leaderDown([]observe.Class{observe.ClassTimeout, observe.ClassConnRefused, observe.ClassHTTP5xx, observe.ClassNetwork}[w.r.Intn(4)])
	}
	// The follower's link to the leader.
	connected := w.leaderUp || !w.realOutage
	if w.pick(0.1) {
		connected = !connected
	}
	if !connected {
		b.disconnected()
	}
	// follower_stats: the checkpoint moves while the follower gets
	// changes and the leader takes writes; reads fail while it cannot.
	if connected && w.pick(0.5) {
		w.leaderCP += int64(1 + w.r.Intn(100))
	}
	if (!connected && w.pick(0.4)) || w.pick(0.03) {
		w.reads += int64(1 + w.r.Intn(3))
	}
	b.stats(w.leaderCP, w.reads)
	switch x := w.r.Float64(); {
	case x < 0.04:
		b.followerUnreachable()
	case x < 0.06:
		b.unknownAlias()
	case x < 0.08:
		b.remoteUnreadable()
	case x < 0.12:
		b.replicationUnreadable()
	case x < 0.14:
		b.noIndices()
	case x < 0.25:
		b.lagUnknown()
	case x < 0.28:
		b.o.Follower.Replication.Syncing = 0
	case x < 0.32:
		b.leaderCheckpointsUnread()
	}
	return b.get()
}

func (w *world) policy() *config.Policy {
	mode := allModes[w.r.Intn(len(allModes))]
	p := policyFor(mode, withWitness(!w.pick(0.15)), withMaxLag([]int64{0, 1000, 1 << 40}[w.r.Intn(3)]),
		withThresholds([]time.Duration{0, 10 * time.Second, 30 * time.Second, time.Minute}[w.r.Intn(4)], 1+w.r.Intn(5)),
		withCooldown([]time.Duration{0, time.Hour}[w.r.Intn(2)]), withOnTimeout([]string{"hold", "promote"}[w.r.Intn(2)]))
	p.MaxObservationAge = config.Duration([]time.Duration{10 * time.Second, time.Minute, 5 * time.Minute}[w.r.Intn(3)])
	p.ApprovalTimeout = config.Duration([]time.Duration{time.Minute, 15 * time.Minute}[w.r.Intn(2)])
	if w.pick(0.3) {
		sched, _ := cron.ParseStandard("*/30 * * * *")
		p.MaintenanceWindows = []config.MaintenanceWindow{{Schedule: config.Schedule{Spec: "*/30 * * * *", Sched: sched}, Duration: config.Duration(10 * time.Minute)}}
	}
	return p
}

// oracle is what the test itself knows of the run, independently of the
// package's bookkeeping.
type oracle struct {
	failedProbes   int       // drwatch's failed probes in a row since the leader last answered (or tracking was reset)
	outageStart    time.Time // first of those
	readsBaseline  int64     // the follower's failed reads when drwatch last saw the leader and the follower's stats
	lastReads      int64     // the follower's failed reads, as last read
	goodReadings   map[time.Time]bool
	lastTracked    time.Time // the last observation the package tracked
	denied         bool
	promotedBefore bool
}

// TestPropertyInvariants drives many random sequences, with commands a
// human or the executor might send, and checks on every decision the
// safety invariants.
func TestPropertyInvariants(t *testing.T) {
	seeds, cycles := 400, 600
	if testing.Short() {
		seeds = 50
	}
	var promotions, byMode = 0, map[string]int{}
	for seed := range int64(seeds) {
		w := newWorld(seed)
		pol := w.policy()
		t.Run(fmt.Sprintf("seed%d-%s", seed, pol.Mode), func(t *testing.T) {
			clk := newClock(t0)
			st := policy.Initial(clk.now())
			or := oracle{goodReadings: map[time.Time]bool{}}
			unattended := pol.Mode == config.ModeAuto || pol.Mode == config.ModeSemiAuto
			for i := range cycles {
				now := clk.advance(w.step())
				obs := w.observe(now)
				prev := st
				d := policy.Decide(st, obs, pol, now)
				checkDecision(t, prev, d)
				fail := func(format string, a ...any) {
					t.Helper()
					t.Fatalf("cycle %d (%s -> %s): %s\nobs: %+v\nprev: %+v\nreasons: %q", i, prev.Phase, d.State.Phase, fmt.Sprintf(format, a...), obs, prev, d.State.Reasons)
				}

				// The oracle's own view of the outage.
				// A pause stops acting, not watching: paused cycles are
				// tracked too. A gap in observation longer than
				// max_observation_age starts the tracking afresh.
				tracked := prev.Phase != policy.Promoting && prev.Phase != policy.Promoted && prev.Phase != policy.Failed
				if tracked {
					if !or.lastTracked.IsZero() && now.Sub(or.lastTracked) > pol.MaxObservationAge.D() {
						or.failedProbes = 0
					}
					or.lastTracked = now
				}
				f := obs.Follower
				statsVisible := f.Reachable && f.Replication.Failure == nil && f.Replication.Syncing > 0
				if statsVisible {
					or.lastReads = f.Replication.FailedReadRequests
				}
				if obs.Leader.Reachable {
					or.failedProbes, or.denied = 0, false
					if statsVisible {
						or.readsBaseline = f.Replication.FailedReadRequests
					}
					// A good reading: every lag measured from both clusters'
					// own sequence numbers in this cycle.
					if r := f.Replication; f.Reachable && r.Failure == nil && r.LeaderCheckpointsRead && r.LagComplete && len(r.Indices) > 0 {
						or.goodReadings[now] = true
					}
				} else if tracked {
					if or.failedProbes == 0 {
						or.outageStart = now
					}
					or.failedProbes++
				}
				// The follower still sees the leader: connected, and its
				// failed reads (as last read) have not risen since drwatch
				// last saw the leader.
				followerSees := f.Reachable && f.Remote.Known && f.Remote.Failure == nil && f.Remote.Connected &&
					or.lastReads <= or.readsBaseline

				switch {
				case prev.Phase == policy.Promoted:
					// A promoted pair stays promoted and never promotes
					// again; it only tracks an old leader that comes back.
					moved := d.State
					moved.Reasons, moved.OldLeaderReturned = prev.Reasons, prev.OldLeaderReturned
					moved.UnfencedNote, moved.LeaseNote = prev.UnfencedNote, prev.LeaseNote // the reasons' own
					if !reflect.DeepEqual(moved, prev) || d.Promote || d.State.Phase != policy.Promoted ||
						(len(d.Events) > 0 && (len(d.Events) != 1 || d.Events[0] != policy.EvOldLeaderReturned || prev.OldLeaderReturned)) {
						fail("a promoted pair moved")
					}
				case d.Promote && prev.Phase == policy.Failed:
					// a retry of a promotion already started: the executor's
				case d.Promote || d.WouldPromote:
					promotions++
					byMode[pol.Mode]++
					if d.Promote && pol.Mode != config.ModeAuto && (pol.OnApprovalTimeout != "promote" || !slices.Contains(d.Events, policy.EvApprovalExpired)) {
						fail("Promote from Decide in %s mode (on_approval_timeout %s)", pol.Mode, pol.OnApprovalTimeout)
					}
					if obs.Leader.Reachable {
						fail("promoted with the leader answering")
					}
					if or.failedProbes < pol.MinFailedProbes || now.Sub(or.outageStart) < pol.LeaderDownAfter.D() {
						fail("promoted after %d failed probes over %s", or.failedProbes, now.Sub(or.outageStart))
					}
					if *pol.RequireFollowerWitness && followerSees {
						fail("promoted while the follower still saw the leader")
					}
					if ok, why := policy.RPOGuard(&d.State, pol, now); !ok {
						fail("promoted with the RPO guard failing: %s", why)
					}
					r := d.State.LastGoodLag
					if r == nil || r.TotalOperations > *pol.MaxLagOperations || or.outageStart.Sub(r.At) > pol.MaxObservationAge.D() || !or.goodReadings[r.At] {
						fail("promoted on reading %+v (outage from %s)", r, or.outageStart)
					}
					if !d.State.EpisodeEnd.IsZero() && now.Sub(d.State.EpisodeEnd) < pol.Cooldown.D() {
						fail("promoted in cooldown")
					}
					if or.denied {
						fail("promoted against a denial")
					}
					if or.promotedBefore {
						fail("promoted twice")
					}
				}
				if d.Promote && (pol.Mode == config.ModeDryRun || pol.Mode == config.ModeManual) {
					fail("Promote in %s mode", pol.Mode)
				}
				if d.WouldPromote && pol.Mode != config.ModeDryRun {
					fail("WouldPromote outside dry-run")
				}
				st = d.State

				// Commands, as a human or the executor would send them.
				cmd := func(name string, dd policy.Decision, err error) {
					t.Helper()
					if err != nil {
						if !errors.Is(err, policy.ErrConflict) || !reflect.DeepEqual(dd.State, st) {
							t.Fatalf("cycle %d: %s: %v", i, name, err)
						}
						return
					}
					checkDecision(t, st, dd)
					st = dd.State
				}
				switch {
				case st.Phase == policy.Promoting && w.pick(0.3):
					cmd("succeeded", policy.PromotionSucceeded(st, "ok", now), nil)
					or.promotedBefore = true
				case st.Phase == policy.Promoting && w.pick(0.4):
					cmd("failed", policy.PromotionFailed(st, "timeout", w.pick(0.5), now), nil)
				case unattended && st.Phase == policy.AwaitingApproval && w.pick(0.05):
					dd, err := policy.Deny(st, "bob", "", now)
					cmd("deny", dd, err)
					or.denied = true
				case unattended && (st.Phase == policy.AwaitingApproval || st.Phase == policy.LeaderDown) && w.pick(0.03):
					dd, err := policy.Approve(st, st.ApprovalID, "alice", "", now)
					cmd("approve", dd, err)
					or.denied = false
				case w.pick(0.005):
					until := time.Time{}
					if w.pick(0.5) {
						until = now.Add(time.Duration(1+w.r.Intn(60)) * time.Minute)
					}
					dd, err := policy.Pause(st, until, "carol", "", now)
					cmd("pause", dd, err)
				case st.Phase == policy.Paused && w.pick(0.05):
					dd, err := policy.Resume(st, "carol", now)
					cmd("resume", dd, err) // the tracking goes on; a denial holds
				case unattended && w.pick(0.002):
					dd, err := policy.ManualPromote(st, "dave", "", now)
					cmd("manual promote", dd, err)
				case w.pick(0.01):
					st = policy.Restarted(roundTrip(t, st))
					if st.Phase != policy.Promoting && st.Phase != policy.Promoted && st.Phase != policy.Failed && st.Phase != policy.Paused {
						or.failedProbes = 0
					}
				}
			}
		})
	}
	t.Logf("%d promotions (or dry-run would-promotes) checked, by mode: %v", promotions, byMode)
	if promotions == 0 {
		t.Fatal("the generator never reached a promotion: the invariants were not exercised")
	}
}

// TestDeterminism: the same inputs give the same decisions, including
// from a state that went through the journal's JSON.
func TestDeterminism(t *testing.T) {
	run := func(seed int64, viaJSON bool) []policy.Decision {
		w := newWorld(seed)
		pol := w.policy()
		pol.Mode = []string{config.ModeAuto, config.ModeSemiAuto}[seed%2]
		clk := newClock(t0)
		st := policy.Initial(clk.now())
		var out []policy.Decision
		for range 3000 {
			now := clk.advance(w.step())
			if viaJSON {
				st = roundTrip(t, st)
			}
			d := policy.Decide(st, w.observe(now), pol, now)
			out = append(out, d)
			st = d.State
			switch {
			case st.Phase == policy.Promoting && w.pick(0.5):
				st = policy.PromotionFailed(st, "again", true, now).State
			case st.Phase == policy.AwaitingApproval && w.pick(0.05):
				dd, _ := policy.Deny(st, "bob", "", now)
				st = dd.State
			case w.pick(0.01):
				dd, _ := policy.Pause(st, now.Add(10*time.Minute), "carol", "", now)
				st = dd.State
			}
		}
		return out
	}
	for seed := range int64(20) {
		a, b, c := run(seed, false), run(seed, false), run(seed, true)
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("seed %d cycle %d: differs between runs:\n%+v\n%+v", seed, i, a[i], b[i])
			}
			if !reflect.DeepEqual(a[i], c[i]) {
				t.Fatalf("seed %d cycle %d: differs after a JSON round trip of the state:\n%+v\n%+v", seed, i, a[i], c[i])
			}
		}
	}
}
