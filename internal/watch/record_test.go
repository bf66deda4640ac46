package watch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/replay"
)

// scriptedProber sees the leader answer until down, then gone (refused,
// and the follower disconnected from it).
type scriptedProber struct {
	now  func() time.Time
	down time.Time
}

func (p scriptedProber) Cycle(context.Context) observe.Observation {
	now := p.now()
	up := now.Before(p.down)
	o := observe.Observation{Pair: "orders", Time: now, Requests: 7}
	o.Follower = observe.Follower{Reachable: true, Remote: observe.Remote{Alias: "leader", Known: true, Connected: up}}
	r := &o.Follower.Replication
	r.Indices = []observe.Index{{Name: "orders", LeaderIndex: "orders", State: observe.StateSyncing, LeaderCheckpoint: 9, FollowerCheckpoint: 9, LagKnown: up}}
	r.Syncing, r.LagComplete, r.ViewLeaderCheckpoint = 1, up, 9
	if up {
		o.Leader = observe.Leader{Reachable: true, Health: "green"}
		r.LeaderCheckpointsRead = true
	} else {
		o.Leader = observe.Leader{Failure: &observe.Failure{Class: observe.ClassConnRefused, Message: "connection refused"}}
	}
	return o
}

// What the watcher records is the exact sequence of its decision core's
// inputs: replayed under the same policy it gives the journal's history,
// transition for transition - across a restart, commands, a promotion and
// its outcome.
func TestRecordReplaysToTheJournal(t *testing.T) {
	dir, j := openJournal(t)
	var clock atomic.Int64
	t0 := time.Date(2025, 3, 10, 3, 10, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	tick := func() { clock.Add(int64(time.Second)) }
	pol := config.DefaultPolicy()
	pol.Name, pol.Mode, pol.ProbeInterval = "fast", config.ModeAuto, config.Duration(time.Second)
	pol.LeaderDownAfter, pol.MinFailedProbes = config.Duration(3*time.Second), 3
	pair := &config.Pair{Name: "orders", Resolved: pol}
	ex := &hookExecutor{hook: func(int) { tick() }} // a promotion takes a second
	prober := scriptedProber{now: now, down: t0.Add(20 * time.Second)}

	watcher := func() *Watcher {
		rt, err := Load(j, "orders", now())
		if err != nil {
			t.Fatal(err)
		}
		rt.SetRecorder(record.New(dir, "orders", record.Options{}))
		t.Cleanup(rt.CloseRecorder)
		return New(Config{Pair: pair, Prober: prober, Exec: ex, Journal: j, Metrics: metrics.New(), Log: zap.NewNop(), Runtime: rt, Now: now})
	}
	ctx := context.Background()
	w := watcher()
	for i := 0; i < 40; i++ {
		tick()
		switch i {
		case 3:
			if _, err := w.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "upgrade", For: time.Hour}); err != nil {
				t.Fatal(err)
			}
		case 5:
			if _, err := w.Command(policy.Command{Action: policy.ActResume, By: "alice"}); err != nil {
				t.Fatal(err)
			}
		case 6:
			if _, err := w.Command(policy.Command{Action: policy.ActDeny, By: "bob"}); err == nil {
				t.Fatal("a deny with nothing pending applied")
			}
		case 10:
			w.rt.CloseRecorder()
			w = watcher() // a restart: the journal's state, policy.Restarted
		}
		w.tick(ctx)
		w.promotions.Wait()
	}
	if st := w.rt.State(); st.Phase != policy.Promoted || ex.runs != 1 {
		t.Fatalf("the scenario ends %s after %d promotions", st.Phase, ex.runs)
	}
	w.rt.CloseRecorder()

	in, warnings, err := record.Read(dir, "orders")
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	res, err := replay.Replay("orders", in, replay.Options{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := journal.Read(dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	jc := replay.CheckJournal(res, saved.History)
	if !res.Same || !jc.Matches || jc.Compared != len(saved.History) || len(saved.History) < 5 {
		t.Fatalf("same %v, journal %+v (%d transitions journaled): %v", res.Same, jc, len(saved.History), res.Differences)
	}
	if len(res.Recorded.Promotions) != 1 || res.Recorded.Promotions[0].Outcome != string(record.KindSucceeded) {
		t.Fatalf("recorded promotions %+v", res.Recorded.Promotions)
	}
	restarts := 0
	for _, i := range in {
		if i.Kind == record.KindStart && i.Start.Restart {
			restarts++
		}
	}
	if restarts != 1 {
		t.Fatalf("%d restarts recorded, want 1", restarts)
	}

	// A slower policy would have promoted later, as long after as its
	// threshold is longer.
	slow := *pol
	slow.Name, slow.LeaderDownAfter = "slow", config.Duration(10*time.Second)
	res, err = replay.Replay("orders", in, replay.Options{Policy: &slow})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Differences) == 0 {
		t.Fatal("no difference under a slower policy")
	}
	var found bool
	for _, d := range res.Differences {
		if d.Kind == "promotion_time" && d.DeltaSeconds != nil && *d.DeltaSeconds == 7 {
			found = true
		}
	}
	if !found {
		t.Fatalf("differences %+v", res.Differences)
	}
}
