package policy_test

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// t0 is the fake clock's origin: a Monday, well away from midnight, in UTC
// (maintenance windows are evaluated in the location of `now`).
var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

const interval = 5 * time.Second // DefaultPolicy's probe_interval

// clock is a fake clock: it only moves when told to.
type clock struct{ t time.Time }

func newClock(at time.Time) *clock                 { return &clock{t: at} }
func (c *clock) now() time.Time                    { return c.t }
func (c *clock) advance(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

// ---- policies ----

func policyFor(mode string, mods ...func(*config.Policy)) *config.Policy {
	p := config.DefaultPolicy()
	p.Mode = mode
	for _, m := range mods {
		m(p)
	}
	return p
}

func withWitness(b bool) func(*config.Policy) {
	return func(p *config.Policy) { p.RequireFollowerWitness = &b }
}

func withMaxLag(n int64) func(*config.Policy) {
	return func(p *config.Policy) { p.MaxLagOperations = &n }
}

func withCooldown(d time.Duration) func(*config.Policy) {
	return func(p *config.Policy) { c := config.Duration(d); p.Cooldown = &c }
}

func withOnTimeout(v string) func(*config.Policy) {
	return func(p *config.Policy) { p.OnApprovalTimeout = v }
}

func withThresholds(after time.Duration, probes int) func(*config.Policy) {
	return func(p *config.Policy) {
		p.LeaderDownAfter = config.Duration(after)
		p.MinFailedProbes = probes
	}
}

// ---- observations ----

// ob builds one observation. The default is a healthy pair: the leader
// answers, the follower is connected to it and replicates two indices with
// no lag, its leader checkpoint moving.
type ob struct{ o observe.Observation }

func healthy(at time.Time) *ob {
	b := &ob{o: observe.Observation{Pair: "main", Time: at}}
	b.o.Leader = observe.Leader{Reachable: true, Health: "green", ClusterName: "leader"}
	b.o.Follower = observe.Follower{
		Reachable: true,
		Remote:    observe.Remote{Alias: "leader", Known: true, Connected: true, Mode: "sniff", NodesConnected: 3},
	}
	return b.lag(0)
}

func (b *ob) leaderDown(c observe.Class) *ob {
	b.o.Leader = observe.Leader{Failure: &observe.Failure{Class: c, Message: "probe failed: " + string(c)}}
	return b
}

func (b *ob) disconnected() *ob {
	b.o.Follower.Remote.Connected = false
	b.o.Follower.Remote.NodesConnected = 0
	return b
}

func (b *ob) unknownAlias() *ob {
	b.o.Follower.Remote = observe.Remote{Alias: "leader"}
	return b
}

func (b *ob) remoteUnreadable() *ob {
	b.o.Follower.Remote = observe.Remote{Alias: "leader", Failure: &observe.Failure{Class: observe.ClassHTTP5xx, Status: 503}}
	return b
}

func (b *ob) followerUnreachable() *ob {
	b.o.Follower = observe.Follower{
		Failure: &observe.Failure{Class: observe.ClassTimeout, Message: "no answer"},
		Remote:  observe.Remote{Alias: "leader"},
	}
	return b
}

// lag sets a complete lag reading of total operations over two syncing
// indices.
func (b *ob) lag(total int64) *ob {
	r := &b.o.Follower.Replication
	half := total / 2
	// The leader's checkpoints stand still (no writes) unless writing
	// says otherwise: a lag is the follower being behind them.
	r.Indices = []observe.Index{
		{Name: "logs", LeaderIndex: "logs", State: observe.StateSyncing, LeaderCheckpoint: 1_000_000, FollowerCheckpoint: 1_000_000 - half, Lag: half, LagKnown: true},
		{Name: "orders", LeaderIndex: "orders", State: observe.StateSyncing, LeaderCheckpoint: 2_000_000, FollowerCheckpoint: 2_000_000 - (total - half), Lag: total - half, LagKnown: true},
	}
	r.LeaderSeqNoSum = 3_000_000
	r.TotalLag, r.MaxLag, r.LagComplete = total, max(half, total-half), true
	r.LeaderCheckpointsRead = true
	r.Syncing, r.Stopped = 2, 0
	r.ViewLeaderCheckpoint = 3000 + total + b.o.Time.Unix() // moves with time by default
	r.ViewFollowerCheckpoint = 3000
	return b
}

// writing makes the leader take rate writes a second: the sum of its
// primaries' max_seq_no grows with the observation's time.
func (b *ob) writing(rate int64) *ob {
	r := &b.o.Follower.Replication
	grown := int64(b.o.Time.Sub(t0).Seconds()) * rate
	for i := range r.Indices[:1] { // logs takes them all, its lag unchanged
		r.Indices[i].LeaderCheckpoint += grown
		r.Indices[i].FollowerCheckpoint += grown
	}
	r.LeaderSeqNoSum += grown
	return b
}

// unreplicated: an autofollow rule failed to replicate these leader
// indices in scope.
func (b *ob) unreplicated(names ...string) *ob {
	r := &b.o.Follower.Replication
	r.Unreplicated, r.LagComplete = names, false
	return b
}

// lagUnknown marks one index's lag unknown.
func (b *ob) lagUnknown() *ob {
	r := &b.o.Follower.Replication
	r.Indices[1].LagKnown, r.Indices[1].State = false, observe.StateNotSyncing
	r.LagComplete, r.Syncing, r.Stopped = false, 1, 1
	return b
}

// leaderCheckpointsUnread: the leader answered its health, but its
// sequence numbers could not be read: every lag is unknown.
func (b *ob) leaderCheckpointsUnread() *ob {
	r := &b.o.Follower.Replication
	r.LeaderCheckpointsRead, r.LagComplete, r.TotalLag, r.MaxLag = false, false, 0, 0
	r.CheckpointsFailure = &observe.Failure{Class: observe.ClassTimeout, Message: "leader shard stats timed out"}
	for i := range r.Indices {
		r.Indices[i].LagKnown, r.Indices[i].Lag = false, 0
	}
	return b
}

func (b *ob) replicationUnreadable() *ob {
	b.o.Follower.Replication = observe.Replication{Failure: &observe.Failure{Class: observe.ClassHTTP5xx, Status: 500}}
	return b
}

func (b *ob) noIndices() *ob {
	b.o.Follower.Replication = observe.Replication{LagComplete: true}
	return b
}

// stats sets the follower_stats sums the frozen-checkpoint witness reads.
func (b *ob) stats(leaderCheckpoint, failedReads int64) *ob {
	b.o.Follower.Replication.ViewLeaderCheckpoint = leaderCheckpoint
	b.o.Follower.Replication.FailedReadRequests = failedReads
	return b
}

func (b *ob) get() observe.Observation { return b.o }

// ---- driving Decide ----

// step is one cycle of a scripted sequence: advance the clock, then either
// run Decide on an observation or apply a command, and check the outcome.
type step struct {
	name    string
	after   time.Duration
	obs     func(at time.Time) *ob
	cmd     func(st policy.State, now time.Time) (policy.Decision, error)
	err     error
	phase   policy.Phase
	events  []policy.Event // exact; nil = none
	promote bool
	would   bool
	reasons []string // substrings the reasons must contain
	check   func(t *testing.T, d policy.Decision)
}

// pair drives a sequence of decisions, feeding each state into the next.
type pair struct {
	t   *testing.T
	pol *config.Policy
	clk *clock
	st  policy.State
	n   int
}

func newPair(t *testing.T, pol *config.Policy) *pair {
	t.Helper()
	return newPairAt(t, pol, t0)
}

func newPairAt(t *testing.T, pol *config.Policy, at time.Time) *pair {
	t.Helper()
	p := newColdPairAt(t, pol, at)
	// A healthy pair that has been watched before the test begins: one
	// reading a probe_interval earlier, so that the first reading of the
	// test has a measured write rate (a first reading's rate is unknown).
	before := at.Add(-pol.ProbeInterval.D())
	p.st = policy.Decide(policy.Initial(before), up(before).get(), pol, before).State
	return p
}

// newColdPairAt is a pair drwatch has never observed.
func newColdPairAt(t *testing.T, pol *config.Policy, at time.Time) *pair {
	t.Helper()
	clk := newClock(at)
	return &pair{t: t, pol: pol, clk: clk, st: policy.Initial(clk.now())}
}

// decide advances the clock by after and runs one Decide.
func (p *pair) decide(after time.Duration, build func(at time.Time) *ob) policy.Decision {
	p.t.Helper()
	now := p.clk.advance(after)
	prev := p.st
	d := policy.Decide(p.st, build(now).get(), p.pol, now)
	p.n++
	checkDecision(p.t, prev, d)
	p.st = d.State
	return d
}

// command advances the clock by after and applies a command.
func (p *pair) command(after time.Duration, cmd func(st policy.State, now time.Time) (policy.Decision, error)) (policy.Decision, error) {
	p.t.Helper()
	now := p.clk.advance(after)
	d, err := cmd(p.st, now)
	if err == nil {
		checkDecision(p.t, p.st, d)
		p.st = d.State
	} else if !reflect.DeepEqual(d.State, p.st) || d.Promote || len(d.Events) > 0 {
		p.t.Fatalf("a refused command changed something: %+v", d)
	}
	return d, err
}

func (p *pair) run(steps []step) {
	p.t.Helper()
	for i, s := range steps {
		var (
			d   policy.Decision
			err error
		)
		switch {
		case s.cmd != nil:
			d, err = p.command(s.after, s.cmd)
		case s.after > p.pol.MaxObservationAge.D():
			// A long wait is watched, as the daemon would: the same
			// observation every probe_interval, the step's checks on the
			// last (a gap longer than max_observation_age would start
			// the tracking afresh).
			every := p.pol.ProbeInterval.D()
			n := s.after / every
			for range n - 1 {
				p.decide(every, s.obs)
			}
			d = p.decide(s.after-(n-1)*every, s.obs)
		default:
			d = p.decide(s.after, s.obs)
		}
		where := func() string {
			return "step " + strconv.Itoa(i) + " (" + s.name + ") at " + p.clk.now().Format(time.TimeOnly)
		}
		if !errors.Is(err, s.err) {
			p.t.Fatalf("%s: err = %v, want %v", where(), err, s.err)
		}
		if err != nil {
			continue
		}
		if d.State.Phase != s.phase {
			p.t.Fatalf("%s: phase = %s, want %s; reasons: %q", where(), d.State.Phase, s.phase, d.State.Reasons)
		}
		if !slices.Equal(d.Events, s.events) {
			p.t.Fatalf("%s: events = %q, want %q; reasons: %q", where(), d.Events, s.events, d.State.Reasons)
		}
		if d.Promote != s.promote {
			p.t.Fatalf("%s: Promote = %v, want %v; reasons: %q", where(), d.Promote, s.promote, d.State.Reasons)
		}
		if d.WouldPromote != s.would {
			p.t.Fatalf("%s: WouldPromote = %v, want %v; reasons: %q", where(), d.WouldPromote, s.would, d.State.Reasons)
		}
		requireReasons(p.t, d, s.reasons...)
		if s.check != nil {
			s.check(p.t, d)
		}
	}
}

// checkDecision holds for every decision: reasons say why, in words, and
// Promote goes with promotion_started and the promoting phase.
func checkDecision(t *testing.T, prev policy.State, d policy.Decision) {
	t.Helper()
	if len(d.State.Reasons) == 0 {
		t.Fatalf("no reasons for %s (from %s)", d.State.Phase, prev.Phase)
	}
	for _, r := range d.State.Reasons {
		if strings.TrimSpace(r) == "" || strings.Contains(r, "%!") || strings.Contains(r, "<nil>") || strings.Contains(r, "0001-01-01") {
			t.Fatalf("unreadable reason %q in %q", r, d.State.Reasons)
		}
	}
	if d.Promote && (d.State.Phase != policy.Promoting || !slices.Contains(d.Events, policy.EvPromotionStarted)) {
		t.Fatalf("Promote without entering promoting/promotion_started: %s %q", d.State.Phase, d.Events)
	}
	if d.Promote && d.WouldPromote {
		t.Fatalf("both Promote and WouldPromote")
	}
	if prev.Phase == policy.Promoted && (d.State.Phase != policy.Promoted || d.Promote) {
		t.Fatalf("left promoted: %+v", d)
	}
	if d.State.Phase != prev.Phase && !d.State.Since.After(prev.Since) && !d.State.Since.Equal(prev.Since) {
		t.Fatalf("Since went backwards: %v -> %v", prev.Since, d.State.Since)
	}
}

func requireReasons(t *testing.T, d policy.Decision, want ...string) {
	t.Helper()
	all := strings.Join(d.State.Reasons, "; ")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Fatalf("reasons %q do not mention %q", d.State.Reasons, w)
		}
	}
}

// ---- common observation makers (func(at) *ob) ----

func up(at time.Time) *ob { return healthy(at) }

func upLag(n int64) func(time.Time) *ob {
	return func(at time.Time) *ob { return healthy(at).lag(n) }
}

// gone: the leader is down and the follower lost it too.
func gone(at time.Time) *ob {
	return healthy(at).leaderDown(observe.ClassConnRefused).disconnected()
}

// cutOff: drwatch cannot reach the leader, the follower still can.
func cutOff(at time.Time) *ob { return healthy(at).leaderDown(observe.ClassTimeout) }

// ---- command adapters ----

func approve(by string) func(policy.State, time.Time) (policy.Decision, error) {
	return func(st policy.State, now time.Time) (policy.Decision, error) {
		return policy.Approve(st, st.ApprovalID, by, "checked the leader", now)
	}
}

func deny(by string) func(policy.State, time.Time) (policy.Decision, error) {
	return func(st policy.State, now time.Time) (policy.Decision, error) {
		return policy.Deny(st, by, "leader is being restarted", now)
	}
}

func pauseFor(d time.Duration) func(policy.State, time.Time) (policy.Decision, error) {
	return func(st policy.State, now time.Time) (policy.Decision, error) {
		until := time.Time{}
		if d > 0 {
			until = now.Add(d)
		}
		return policy.Pause(st, until, "carol", "upgrade", now)
	}
}

func resume(st policy.State, now time.Time) (policy.Decision, error) {
	return policy.Resume(st, "carol", now)
}

func manualPromote(st policy.State, now time.Time) (policy.Decision, error) {
	return policy.ManualPromote(st, "dave", "region lost", now)
}

func succeeded(st policy.State, now time.Time) (policy.Decision, error) {
	return policy.PromotionSucceeded(st, "3 indices writable", now), nil
}

func failed(msg string) func(policy.State, time.Time) (policy.Decision, error) {
	return func(st policy.State, now time.Time) (policy.Decision, error) {
		return policy.PromotionFailed(st, msg, true, now), nil
	}
}

// repeat returns n copies of s.
func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// toDown is the standard way into an outage with the default thresholds
// (30s, 3 probes, probes every 5s): six cycles of suspect (0s..25s), the
// seventh (30s, 7 probes) meets them. It returns the six suspect steps.
func toSuspect(obs func(time.Time) *ob) []step {
	steps := []step{{name: "first failed probe", after: interval, obs: obs, phase: policy.Suspect,
		events: []policy.Event{policy.EvLeaderSuspect}, reasons: []string{"leader unreachable for 0s", "1 failed probe", "not yet down: needs"}}}
	return append(steps, repeat(5, step{name: "still failing", after: interval, obs: obs, phase: policy.Suspect, reasons: []string{"unreachable for 30s"}})...)
}

// first sets the events expected of the first of steps (which are copies).
func first(steps []step, events ...policy.Event) []step {
	out := slices.Clone(steps)
	out[0].events = events
	return out
}

// seq concatenates step lists.
func seq(parts ...[]step) []step { return slices.Concat(parts...) }

func one(s step) []step { return []step{s} }

// witness sets the active witness's verdict: reached, unreached after
// pending (the request has no answer), unreached with a transport error
// type, or none.
func (b *ob) witness(v observe.Verdict, pending time.Duration, typ string) *ob {
	w := observe.Witness{Verdict: v, SentAt: b.o.Time.Add(-pending), Pending: pending, Type: typ}
	switch v {
	case observe.WitnessReached:
		w.Latency, w.Pending = 3*time.Millisecond, 0
	case observe.WitnessNone:
		w.Failure = &observe.Failure{Class: observe.ClassAuth, Status: 403, Message: "no permission"}
	}
	b.o.Follower.Witness = w
	return b
}

// hung is a leader that hangs: drwatch's probes time out, the follower's
// remote connection still reads connected and its leader checkpoint
// stands still (no failed read counted yet), and its request to the
// leader has had no answer for the probe timeout.
func hung(at time.Time) *ob {
	return healthy(at).leaderDown(observe.ClassTimeout).stats(3000, 0).witness(observe.WitnessUnreached, 3*time.Second, "")
}
