package replay_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/replay"
)

var t0 = time.Date(2025, 3, 10, 3, 10, 0, 0, time.UTC)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// pol is a fast auto policy: the leader is down after 3 s and 3 failed
// probes, with the follower's witness; lag at most 10 operations.
func pol(name string, mods ...func(*config.Policy)) *config.Policy {
	p := config.DefaultPolicy()
	p.Name, p.Mode = name, config.ModeAuto
	p.ProbeInterval = config.Duration(time.Second)
	p.LeaderDownAfter, p.MinFailedProbes = config.Duration(3*time.Second), 3
	lag, cd := int64(10), config.Duration(0)
	p.MaxLagOperations, p.Cooldown = &lag, &cd
	p.MaxObservationAge = config.Duration(10 * time.Second)
	for _, m := range mods {
		m(p)
	}
	return p
}

func thresholds(after time.Duration, probes int) func(*config.Policy) {
	return func(p *config.Policy) { p.LeaderDownAfter, p.MinFailedProbes = config.Duration(after), probes }
}

func mode(m string) func(*config.Policy) { return func(p *config.Policy) { p.Mode = m } }

// obsAt is the pair at second n: healthy with lag 0, or with the leader
// gone (refused, and the follower disconnected from it).
func obsAt(n int, leaderUp bool) observe.Observation {
	o := observe.Observation{Pair: "orders", Time: sec(n), Duration: 40 * time.Millisecond, Requests: 7}
	o.Follower = observe.Follower{Reachable: true, Latency: 3 * time.Millisecond,
		Remote: observe.Remote{Alias: "leader", Known: true, Connected: leaderUp, NodesConnected: 1}}
	r := &o.Follower.Replication
	r.Indices = []observe.Index{{Name: "orders", LeaderIndex: "orders", Shards: 1, State: observe.StateSyncing,
		LeaderCheckpoint: 500, FollowerCheckpoint: 500, LagKnown: true, FollowerView: &observe.FollowerView{LeaderCheckpoint: 500, FollowerCheckpoint: 500}}}
	r.LagComplete, r.Syncing, r.ViewLeaderCheckpoint, r.ViewFollowerCheckpoint = true, 1, 500, 500
	if leaderUp {
		o.Leader = observe.Leader{Reachable: true, Health: "green", ClusterName: "leader", Latency: 2 * time.Millisecond}
		r.LeaderCheckpointsRead, r.LeaderSeqNoSum = true, 500
	} else {
		o.Leader = observe.Leader{Failure: &observe.Failure{Class: observe.ClassConnRefused, Message: "connection refused"}}
		for i := range r.Indices {
			r.Indices[i].LagKnown = false
		}
		r.LagComplete = false
	}
	return o
}

// scenario is a recorded run: what the watcher would have recorded under
// p, the leader down from second down to second back (0: for good), the
// record ending at second end, each promotion succeeding took after it
// starts; cmds are human commands at their second.
type scenario struct {
	p              *config.Policy
	down, back     int
	end            int
	took           time.Duration
	cmds           map[int]policy.Command
	aiven          func(n int) *observe.Aiven // the Aiven reading at second n (nil: none)
	inputs         []record.Input
	st             policy.State
	history        []journal.Transition
	promotionStart []time.Time
}

// run records the scenario as the watcher does: each input recorded where
// its decision function is called, and the decision applied.
func (s *scenario) run(t testing.TB) []record.Input {
	t.Helper()
	s.st = policy.Initial(sec(-1))
	s.inputs = append(s.inputs, record.Started(sec(-1), s.st, s.p, false, record.WhyWatcher))
	var due *time.Time
	apply := func(d policy.Decision, command bool, now time.Time) {
		if tr, ok := journal.TransitionOf(s.st, d, command, now); ok {
			s.history = append(s.history, tr)
		}
		s.st = d.State
		if d.Promote {
			at := now.Add(s.took)
			due = &at
			s.promotionStart = append(s.promotionStart, now)
		}
	}
	for n := 0; n <= s.end; n++ {
		now := sec(n)
		if due != nil && !due.After(now) {
			at := *due
			due = nil
			s.inputs = append(s.inputs, record.Succeeded(at, "1 index promoted"))
			apply(policy.PromotionSucceeded(s.st, "1 index promoted", at), false, at)
		}
		if c, ok := s.cmds[n]; ok {
			at := now.Add(-time.Millisecond)
			if c.Action == policy.ActApprove && c.ID == "pending" {
				c.ID = s.st.ApprovalID
			}
			s.inputs = append(s.inputs, record.Commanded(at, c))
			if d, err := c.Apply(s.st, at); err == nil {
				apply(d, c.By != "", at)
			}
		}
		up := n < s.down || (s.back > 0 && n >= s.back)
		o := obsAt(n, up)
		if s.aiven != nil {
			o.Aiven = s.aiven(n)
		}
		s.inputs = append(s.inputs, record.Observed(now, o))
		apply(policy.Decide(s.st, o, s.p, now), false, now)
	}
	for i := range s.inputs {
		s.inputs[i].Source = fmt.Sprintf("test:%d", i+1)
	}
	return s.inputs
}

func kinds(ds []replay.Difference) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Kind)
	}
	return out
}

func find(t *testing.T, res *replay.Result, kind string) replay.Difference {
	t.Helper()
	for _, d := range res.Differences {
		if d.Kind == kind {
			return d
		}
	}
	t.Fatalf("no %s difference in %v: %s", kind, kinds(res.Differences), texts(res))
	return replay.Difference{}
}

func texts(res *replay.Result) string {
	var b strings.Builder
	replay.Text(&b, res, nil)
	return b.String()
}

// Under the recorded policy the replay reproduces the recorded run exactly:
// the same transitions (the history the watcher journals), the same
// promotion, no difference.
func TestSamePolicyReproducesTheRecord(t *testing.T) {
	s := &scenario{p: pol("fast"), down: 10, end: 40, took: 2 * time.Second}
	in := s.run(t)
	res, err := replay.Replay("orders", in, replay.Options{Policy: pol("fast")})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Same || len(res.Differences) != 0 {
		t.Fatalf("same policy: same=%v differences %v\n%s", res.Same, kinds(res.Differences), texts(res))
	}
	if len(s.history) < 3 || len(res.Recorded.Transitions) != len(s.history) {
		t.Fatalf("recorded run has %d transitions, the scenario journaled %d", len(res.Recorded.Transitions), len(s.history))
	}
	for i := range s.history {
		if !replay.EqualTransition(s.history[i], res.Recorded.Transitions[i]) || !replay.EqualTransition(s.history[i], res.Replayed.Transitions[i]) {
			t.Fatalf("transition %d: journal %+v, recorded run %+v, replayed %+v", i, s.history[i], res.Recorded.Transitions[i], res.Replayed.Transitions[i])
		}
	}
	if jc := replay.CheckJournal(res, s.history); !jc.Matches || jc.Compared != len(s.history) {
		t.Fatalf("journal check %+v", jc)
	}
	if len(res.Replayed.Promotions) != 1 || !res.Replayed.Promotions[0].Started.Equal(sec(13)) || res.Replayed.Promotions[0].How != replay.HowRecorded ||
		!res.Replayed.Promotions[0].Ended.Equal(sec(15)) {
		t.Fatalf("promotions %+v", res.Replayed.Promotions)
	}
	if !strings.Contains(texts(res), "no differences") {
		t.Fatalf("text:\n%s", texts(res))
	}
	if len(res.Outages) != 1 || !res.Outages[0].Start.Equal(sec(10)) || !res.Outages[0].End.IsZero() {
		t.Fatalf("outages %+v", res.Outages)
	}
}

// A slower and a faster policy: the promotion moves by the difference in
// the thresholds, and goes as the recorded one went (2 s to succeed).
func TestSlowerAndFasterPolicies(t *testing.T) {
	s := &scenario{p: pol("fast"), down: 10, end: 40, took: 2 * time.Second}
	in := s.run(t)
	for _, c := range []struct {
		name  string
		p     *config.Policy
		at    int
		delta float64
		word  string
	}{
		// down at 10, witness in 2 probes: 3 s and 3 probes promote at 13.
		{"slower", pol("slow", thresholds(10*time.Second, 3)), 20, 7, "7 s later"},
		{"faster", pol("quick", thresholds(time.Second, 2)), 11, -2, "2 s earlier"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := replay.Replay("orders", in, replay.Options{Policy: c.p})
			if err != nil {
				t.Fatal(err)
			}
			d := find(t, res, "promotion_time")
			if !d.ReplayedAt.Equal(sec(c.at)) || !d.RecordedAt.Equal(sec(13)) || *d.DeltaSeconds != c.delta || d.LagOperations == nil || *d.LagOperations != 0 {
				t.Fatalf("difference %+v", d)
			}
			want := fmt.Sprintf("this policy would have promoted at %s, %s (it promoted at 03:10:13), with 0 ops of lag", sec(c.at).Format("15:04:05"), c.word)
			if !strings.Contains(d.Text, want) || !strings.Contains(d.Text, "succeeded 2 s after it started") {
				t.Fatalf("text %q, want %q", d.Text, want)
			}
			p := res.Replayed.Promotions
			if len(p) != 1 || p[0].How != replay.HowShifted || !p[0].Ended.Equal(sec(c.at+2)) || res.Replayed.Final.Phase != policy.Promoted {
				t.Fatalf("replayed promotions %+v, final %s", p, res.Replayed.Final.Phase)
			}
			find(t, res, "leader_down_time")
			if res.Same || len(res.PolicyChanges) == 0 {
				t.Fatalf("same %v, policy changes %v", res.Same, res.PolicyChanges)
			}
		})
	}
}

// Semi-auto asks for approval where auto promoted; auto promotes where
// manual mode only paged (the outcome assumed, the record having no
// promotion to go by).
func TestApprovalInsteadOfPromotionAndBack(t *testing.T) {
	s := &scenario{p: pol("fast"), down: 10, end: 30, took: 2 * time.Second}
	res, err := replay.Replay("orders", s.run(t), replay.Options{Policy: pol("careful", mode(config.ModeSemiAuto))})
	if err != nil {
		t.Fatal(err)
	}
	d := find(t, res, "approval_instead_of_promotion")
	if !d.ReplayedAt.Equal(sec(13)) || !strings.Contains(d.Text, "would have asked for approval at 03:10:13 instead of promoting (it promoted at 03:10:13)") {
		t.Fatalf("difference %+v", d)
	}
	if res.Replayed.Final.Phase != policy.AwaitingApproval || len(res.Replayed.Promotions) != 0 {
		t.Fatalf("replayed final %s promotions %+v", res.Replayed.Final.Phase, res.Replayed.Promotions)
	}

	m := &scenario{p: pol("pager", mode(config.ModeManual)), down: 10, end: 30}
	res, err = replay.Replay("orders", m.run(t), replay.Options{Policy: pol("fast")})
	if err != nil {
		t.Fatal(err)
	}
	d = find(t, res, "promotion")
	if !d.ReplayedAt.Equal(sec(13)) || d.OutcomeHow != replay.HowAssumed || !strings.Contains(d.Text, "assumed to succeed at once") {
		t.Fatalf("difference %+v", d)
	}
	if p := res.Replayed.Promotions; len(p) != 1 || !p[0].Ended.Equal(sec(13)) || res.Replayed.Final.Phase != policy.Promoted {
		t.Fatalf("replayed promotions %+v final %s", p, res.Replayed.Final.Phase)
	}
}

// The leader back before the slower policy's threshold: it would not have
// promoted, and says when the leader came back.
func TestNoPromotionTheLeaderCameBack(t *testing.T) {
	s := &scenario{p: pol("fast"), down: 10, back: 17, end: 30, took: 2 * time.Second}
	res, err := replay.Replay("orders", s.run(t), replay.Options{Policy: pol("slow", thresholds(10*time.Second, 3))})
	if err != nil {
		t.Fatal(err)
	}
	d := find(t, res, "no_promotion")
	if !strings.Contains(d.Text, "would not have promoted (it promoted at 03:10:13) (the leader came back at 03:10:17)") {
		t.Fatalf("text %q", d.Text)
	}
	find(t, res, "no_leader_down")
	if res.Replayed.Final.Phase != policy.Healthy {
		t.Fatalf("final %s", res.Replayed.Final.Phase)
	}
}

// A human's approval answers the request pending then; under a policy
// that asked earlier (another request id) it approves that policy's
// request, and says so.
func TestApprovalAppliesToTheReplayedRequest(t *testing.T) {
	semi := mode(config.ModeSemiAuto)
	s := &scenario{p: pol("semi", semi), down: 10, end: 30, took: time.Second,
		cmds: map[int]policy.Command{20: {Action: policy.ActApprove, ID: "pending", By: "alice"}}}
	res, err := replay.Replay("orders", s.run(t), replay.Options{Policy: pol("semi-quick", semi, thresholds(time.Second, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if d := find(t, res, "approval_time"); *d.DeltaSeconds != -2 {
		t.Fatalf("difference %+v", d)
	}
	if p := res.Replayed.Promotions; len(p) != 1 || p[0].By != "alice" || !p[0].Started.Equal(sec(20).Add(-time.Millisecond)) {
		t.Fatalf("replayed promotions %+v\n%s", p, texts(res))
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "alice's approval") }) {
		t.Fatalf("notes %v", res.Notes)
	}
}

// --from and --to: the runs start from the recorded state at --from, and
// nothing after --to is replayed.
func TestWindow(t *testing.T) {
	s := &scenario{p: pol("fast"), down: 10, end: 40, took: 2 * time.Second}
	in := s.run(t)
	res, err := replay.Replay("orders", in, replay.Options{Policy: pol("slow", thresholds(10*time.Second, 3)), From: sec(5), To: sec(12)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Start.Equal(sec(5)) || !res.End.Equal(sec(12)) || res.Inputs != 8 {
		t.Fatalf("window %s..%s, %d inputs", res.Start, res.End, res.Inputs)
	}
	if len(res.Recorded.Promotions) != 0 || len(res.Replayed.Promotions) != 0 {
		t.Fatalf("promotions in a window that ends before any")
	}
	res, err = replay.Replay("orders", in, replay.Options{Policy: pol("fast"), From: sec(14)})
	if err != nil || !res.Same {
		t.Fatalf("from the middle of the promotion: %v same=%v\n%s", err, res != nil && res.Same, texts(res))
	}
	if _, err := replay.Replay("orders", in, replay.Options{Policy: pol("fast"), From: sec(100)}); err == nil || !strings.Contains(err.Error(), "has none between") {
		t.Fatalf("a window after the record: %v", err)
	}
}

// The record on disk: written by a Recorder, read back, replayed - exact.
func TestThroughTheRecordFiles(t *testing.T) {
	s := &scenario{p: pol("fast"), down: 10, end: 40, took: 2 * time.Second}
	dir := t.TempDir()
	rec := record.New(dir, "orders", record.Options{})
	for _, in := range s.run(t) {
		rec.Add(in, policy.State{}, s.p)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	in, warnings, err := record.Read(dir, "orders")
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	res, err := replay.Replay("orders", in, replay.Options{Policy: pol("fast")})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Same || replay.CheckJournal(res, s.history).Matches != true {
		t.Fatalf("through the files: same=%v\n%s", res.Same, texts(res))
	}
	b, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(b), `"same":true`) {
		t.Fatalf("JSON: %v %s", err, b)
	}
}

// 100k inputs (a day at 1 s per probe) replayed under the recorded and
// another policy.
func BenchmarkReplay100k(b *testing.B) {
	s := &scenario{p: pol("fast"), down: 99_000, back: 99_500, end: 100_000 - 1, took: 2 * time.Second}
	in := s.run(b)
	other := pol("slow", thresholds(10*time.Second, 3))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := replay.Replay("orders", in, replay.Options{Policy: other}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(in)), "inputs")
}

// An observation with an Aiven reading is recorded as JSON, read back
// whole and replayed: the leader service RUNNING (refreshed every 5 s,
// carried between refreshes) held the leader_down to 2 x
// leader_down_after, and the replay through the files promotes when the
// recorded run did (at 16 s, not 13 s: a reading lost on the way would
// show as a difference).
func TestAivenReadingRecordedAndReplayed(t *testing.T) {
	running := &observe.AivenService{Name: "os-prod", State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 3}
	s := &scenario{p: pol("fast"), down: 10, end: 40, took: 2 * time.Second, aiven: func(n int) *observe.Aiven {
		return &observe.Aiven{ReadAt: sec(n - n%5), Interval: 5 * time.Second, Leader: running,
			Follower:    &observe.AivenService{Name: "os-dr", State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 2, NotRunning: []observe.AivenNode{{Name: "os-dr-3", State: observe.NodeSyncingData}}},
			Integration: &observe.AivenIntegration{Found: true, ID: "ccr-1", Active: true, Status: observe.IntegrationRunning}}
	}}
	dir := t.TempDir()
	rec := record.New(dir, "orders", record.Options{})
	written := s.run(t)
	for _, in := range written {
		rec.Add(in, policy.State{}, s.p)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	in, warnings, err := record.Read(dir, "orders")
	if err != nil || len(warnings) != 0 || len(in) != len(written) {
		t.Fatal(err, warnings, len(in), len(written))
	}
	for i := range in {
		if w, g := written[i].Obs, in[i].Obs; w != nil && (g == nil || !reflectEqualJSON(t, w, g)) {
			t.Fatalf("input %d: the observation did not come back whole:\nwrote %+v\nread  %+v", i, w, g)
		}
	}
	if len(s.promotionStart) != 1 || !s.promotionStart[0].Equal(sec(16)) {
		t.Fatalf("the recorded run promoted at %v, want 16 s (2 x leader_down_after after the loss at 10 s)", s.promotionStart)
	}
	res, err := replay.Replay("orders", in, replay.Options{Policy: pol("fast")})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Same || replay.CheckJournal(res, s.history).Matches != true {
		t.Fatalf("replayed through the files: same=%v\n%s", res.Same, texts(res))
	}
	if len(res.Replayed.Promotions) != 1 || !res.Replayed.Promotions[0].Started.Equal(sec(16)) {
		t.Fatalf("replayed promotions %+v, want one at 16 s", res.Replayed.Promotions)
	}
}

func reflectEqualJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
