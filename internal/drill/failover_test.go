package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// target is a pair's watcher as a failover drill sees it.
type target struct {
	st       policy.State
	promote  func() (promote.Result, error)
	promoted atomic.Int32
	ended    atomic.Int32
	// notActing: the lease is not this daemon's (ha).
	notActing error
}

func (t *target) State() policy.State { return t.st }
func (t *target) Promotion() *promote.Promotion {
	return &promote.Promotion{Started: time.Unix(100, 0), Steps: []promote.Step{{Name: promote.StepStop, Target: "orders-1", Status: promote.StepDone, At: time.Unix(101, 0)}}}
}
func (t *target) DrillPromote(context.Context, policy.DrillID, string) (promote.Result, error) {
	t.promoted.Add(1)
	return t.promote()
}
func (t *target) DrillEnd(policy.DrillID, string, string) error { t.ended.Add(1); return nil }
func (t *target) Acting(context.Context) error                  { return t.notActing }
func (t *target) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}

// failing is a cluster that answers every call with HTTP 500 and counts
// what it was asked.
func failing(t *testing.T) (config.Endpoint, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"type":"exception","reason":"boom"},"status":500}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return config.Endpoint{URL: srv.URL, Addresses: []*url.URL{u}, Username: "drwatch", Password: config.NewSecret("hunter2-secret"), LeaderAlias: "leader"}, &n
}

func client(t *testing.T, ep config.Endpoint) *opensearch.Client {
	t.Helper()
	c, err := opensearch.New(ep, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func healthyObservation(context.Context) observe.Observation {
	return observe.Observation{
		Leader: observe.Leader{Reachable: true, Health: "green"},
		Follower: observe.Follower{Reachable: true,
			Remote: observe.Remote{Alias: "leader", Known: true, Connected: true},
			Replication: observe.Replication{LagComplete: true, LeaderCheckpointsRead: true,
				Indices: []observe.Index{{Name: "orders-1", State: "SYNCING", LagKnown: true}}}},
	}
}

// leaderWithSettings makes a failing cluster answer GET <index>/_settings
// (flat, as the lab's leader does) with a write block or not.
func leaderWithSettings(t *testing.T, blocked bool) (config.Endpoint, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/_settings") {
			fmt.Fprintf(w, `{"orders-1":{"settings":{"index.blocks.write":"%v","index.number_of_shards":"1"}}}`, blocked)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"type":"exception","reason":"boom"},"status":500}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return config.Endpoint{URL: srv.URL, Addresses: []*url.URL{u}}, &n
}

func input(t *testing.T, tg Target) (FailoverInput, *atomic.Int32) {
	t.Helper()
	lep, ln := leaderWithSettings(t, false)
	fep, _ := failing(t)
	return FailoverInput{
		Pair:   &config.Pair{Name: "staging", Leader: lep, Follower: fep, Indices: []string{"orders-*"}, AllowDestructiveDrills: true},
		Target: tg, Leader: client(t, lep), Follower: client(t, fep), Observe: healthyObservation,
		Poll: time.Millisecond, SyncTimeout: 50 * time.Millisecond, AutofollowWait: time.Millisecond,
	}, ln
}

// A failover drill of a pair that does not allow it, or that is not
// healthy, changes nothing and asks the target for nothing.
func TestFailoverDrillRefusedChangesNothing(t *testing.T) {
	for name, mod := range map[string]func(*FailoverInput, *target){
		"not allowed":  func(in *FailoverInput, _ *target) { in.Pair.AllowDestructiveDrills = false },
		"in an outage": func(_ *FailoverInput, tg *target) { tg.st = policy.State{Phase: policy.LeaderDown} },
		"lag unknown": func(in *FailoverInput, _ *target) {
			in.Observe = func(ctx context.Context) observe.Observation {
				o := healthyObservation(ctx)
				o.Follower.Replication.LagComplete = false
				o.Follower.Replication.Indices[0].LagKnown = false
				return o
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			tg := &target{st: policy.Initial(time.Now()), promote: func() (promote.Result, error) { return promote.Result{}, nil }}
			in, leaderCalls := input(t, tg)
			mod(&in, tg)
			r := &Report{Drill: "d", ID: "1"}
			RunFailover(context.Background(), in, r, nil)
			if n := leaderCalls.Load(); n != 0 {
				t.Fatalf("a refused drill called the leader %d times", n)
			}
			if r.Result != ResultFailed || !strings.HasPrefix(r.Reason, "not started: ") {
				t.Fatalf("report: %+v", r)
			}
			if tg.promoted.Load() != 0 || tg.ended.Load() != 0 {
				t.Fatal("a refused drill promoted or ended")
			}
		})
	}
}

// A promotion the watcher refuses (a conflict) leaves nothing to
// restore: the drill fails without touching the clusters again.
func TestFailoverDrillPromotionRefused(t *testing.T) {
	tg := &target{st: policy.Initial(time.Now()), promote: func() (promote.Result, error) {
		return promote.Result{}, fmt.Errorf("%w: the pair is suspect", policy.ErrConflict)
	}}
	in, _ := input(t, tg)
	// The snapshot reads the follower: answer it from a working cluster.
	in.Follower = client(t, okFollower(t))
	r := &Report{Drill: "d", ID: "1"}
	RunFailover(context.Background(), in, r, nil)
	if r.Result != ResultFailed || !strings.Contains(r.Reason, "the promotion did not start") || tg.ended.Load() != 0 {
		t.Fatalf("report: %+v", r)
	}
	for _, s := range r.Failover.Stages {
		if strings.HasPrefix(s.Name, "restore") {
			t.Fatalf("a refused promotion was restored: %+v", r.Failover.Stages)
		}
	}
}

// okFollower answers the snapshot's two reads: one follower index, no
// autofollow rule (answers as captured from the lab's plugin).
func okFollower(t *testing.T) config.Endpoint {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(r.URL.Path, "/_settings/"):
			fmt.Fprint(w, `{"orders-1":{"settings":{"index.plugins.replication.follower.leader_index":"leader:orders-1","index.number_of_shards":"1"}}}`)
		case strings.HasSuffix(r.URL.Path, "autofollow_stats"):
			fmt.Fprint(w, `{"num_success_start_replication":0,"num_failed_start_replication":0,"num_failed_leader_calls":0,"failed_indices":[],"autofollow_stats":[]}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":{"type":"exception","reason":"boom"},"status":500}`)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return config.Endpoint{URL: srv.URL, Addresses: []*url.URL{u}, Username: "drwatch", Password: config.NewSecret("hunter2-secret"), LeaderAlias: "leader"}
}

// A restore that cannot go on stops half-way: the pair stays the drill's
// (not handed back), and the report says where each index is - here
// unknown, the follower answering nothing - and gives the commands that
// finish the restore, without a credential in them.
func TestFailoverDrillHaltsWithFinishCommands(t *testing.T) {
	tg := &target{st: policy.Initial(time.Now()), promote: func() (promote.Result, error) {
		return promote.Result{Promoted: []string{"orders-1"}, Detail: "1 index writable"}, nil
	}}
	in, _ := input(t, tg)
	fep := okFollower(t)
	in.Pair.Follower = fep
	in.Follower = client(t, fep)
	r := &Report{Drill: "monthly", ID: "20260301T040000.000Z-abcd"}
	RunFailover(context.Background(), in, r, nil)
	if r.Result != ResultFailed || !strings.Contains(r.Reason, "restore stopped: the leader's write block could not be lifted") {
		t.Fatalf("report: %+v", r)
	}
	if tg.ended.Load() != 0 {
		t.Fatal("a half-done restore handed the pair back")
	}
	// The stage went through the step runner: journaled started in the
	// report before its call, then its outcome.
	if got := stageStatuses(r, "restore: lift the leader's write block"); !slices.Equal(got, []string{"started", "failed"}) {
		t.Fatalf("the lift's stages: %v (%+v)", got, r.Failover.Stages)
	}
	f := r.Failover
	if len(f.Where) != 1 || !strings.HasPrefix(f.Where[0], "orders-1: ") {
		t.Fatalf("where: %v", f.Where)
	}
	all := strings.Join(f.Finish, "\n")
	for _, want := range []string{
		`/orders-1/_settings' -H 'Content-Type: application/json' -d '{"index.blocks.write":false}'`,
		`-X DELETE '` + fep.URL + `/orders-1'`,
		`/_plugins/_replication/orders-1/_start' -H 'Content-Type: application/json' -d '{"leader_alias":"leader","leader_index":"orders-1"}'`,
		"drwatch drill --config <config> --name monthly",
		"-u drwatch",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("finish commands lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "hunter2") || strings.Contains(r.Summary(), "hunter2") {
		t.Fatal("a password is in the report")
	}
}

// A leader index that had a write block before the drill keeps it: the
// restore lifts only the blocks the promotion put on.
func TestFailoverDrillKeepsBlocksItFound(t *testing.T) {
	tg := &target{st: policy.Initial(time.Now()), promote: func() (promote.Result, error) {
		return promote.Result{Promoted: []string{"orders-1"}}, nil
	}}
	in, _ := input(t, tg)
	var puts atomic.Int32
	lep, _ := leaderWithSettings(t, true)
	proxy := httputil.NewSingleHostReverseProxy(lep.Addresses[0])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	in.Pair.Leader = config.Endpoint{URL: srv.URL, Addresses: []*url.URL{u}}
	in.Leader = client(t, in.Pair.Leader)
	fep := okFollower(t)
	in.Pair.Follower, in.Follower = fep, client(t, fep)
	r := &Report{Drill: "monthly", ID: "1"}
	RunFailover(context.Background(), in, r, nil)
	if b := r.Failover.Before.Blocked; len(b) != 1 || b[0] != "orders-1" {
		t.Fatalf("blocked before the drill: %v (%+v, %s)", b, r.Failover.Stages, r.Reason)
	}
	if n := puts.Load(); n != 0 {
		t.Fatalf("the restore sent %d PUTs to the leader: it lifted a block it found", n)
	}
}

// A daemon that lost the pair's lease (ha) between the drill's promotion
// and its restore changes nothing more: the restore halts before it lifts
// the leader's write block (no request reaches the leader), with where it
// stopped and how to finish.
func TestFailoverDrillRestoreStopsWithoutTheLease(t *testing.T) {
	tg := &target{st: policy.Initial(time.Now())}
	in, _ := input(t, tg)
	fep := okFollower(t)
	in.Pair.Follower = fep
	in.Follower = client(t, fep)
	// The leader, counting the writes it is sent (the write block lifted
	// is a PUT of its settings).
	var leaderCalls atomic.Int32
	lsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPut {
			leaderCalls.Add(1)
		}
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/_settings"):
			fmt.Fprint(w, `{"orders-1":{"settings":{"index.blocks.write":"false","index.number_of_shards":"1"}}}`)
		case strings.HasSuffix(r.URL.Path, "/_count"):
			fmt.Fprint(w, `{"count":3}`)
		default:
			fmt.Fprint(w, `{"acknowledged":true}`)
		}
	}))
	t.Cleanup(lsrv.Close)
	lu, _ := url.Parse(lsrv.URL)
	in.Pair.Leader = config.Endpoint{URL: lsrv.URL, Addresses: []*url.URL{lu}}
	in.Leader = client(t, in.Pair.Leader)
	var atPromotion int32
	tg.promote = func() (promote.Result, error) {
		atPromotion = leaderCalls.Load()
		tg.notActing = fmt.Errorf("this daemon is standby for the pair (dr-b holds the lease)")
		return promote.Result{Promoted: []string{"orders-1"}, Detail: "1 index writable"}, nil
	}
	r := &Report{Drill: "monthly", ID: "20260301T040000.000Z-abcd"}
	RunFailover(context.Background(), in, r, nil)
	if r.Result != ResultFailed || !strings.Contains(r.Reason, "restore stopped: this daemon no longer holds the pair's lease") {
		t.Fatalf("report: %+v", r)
	}
	if n := leaderCalls.Load(); n != atPromotion {
		t.Fatalf("%d writes reached the leader after the lease was lost", n-atPromotion)
	}
	if tg.ended.Load() != 0 || len(r.Failover.Finish) == 0 {
		t.Fatalf("handed back %d times, finish commands %q", tg.ended.Load(), r.Failover.Finish)
	}
	// Refused by the fencing check: failed, never started.
	if got := stageStatuses(r, "restore: lift the leader's write block"); !slices.Equal(got, []string{"failed"}) {
		t.Fatalf("the lift's stages without the lease: %v", got)
	}
}

// stageStatuses are the statuses of the report's stages of name, in order.
func stageStatuses(r *Report, name string) []string {
	var out []string
	for _, s := range r.Failover.Stages {
		if s.Name == name {
			out = append(out, s.Status)
		}
	}
	return out
}

// flipTarget acts until its first change is made, then no longer (its
// lease lost while an index's start waits).
type flipTarget struct {
	target
	checks atomic.Int32
	after  int32 // checks that pass
}

func (t *flipTarget) Acting(context.Context) error {
	if t.checks.Add(1) > t.after {
		return fmt.Errorf("this daemon is standby for the pair (dr-b holds the lease)")
	}
	return nil
}

// Starting an index again is long (a refused start is waited on, then the
// index deleted for another try): each change is fenced on its own, so a
// daemon that lost the lease meanwhile deletes nothing; one that keeps it
// deletes and tries again.
func TestRestoreStartFencesEachChange(t *testing.T) {
	for _, keeps := range []bool{false, true} {
		t.Run(fmt.Sprintf("keeps the lease %v", keeps), func(t *testing.T) {
			var starts, deletes atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/_start"):
					starts.Add(1)
					w.WriteHeader(http.StatusInternalServerError)
					fmt.Fprint(w, `{"error":{"type":"exception","reason":"boom"},"status":500}`)
				case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/_status"):
					fmt.Fprint(w, `{"status":"REPLICATION NOT IN PROGRESS"}`)
				case r.Method == http.MethodDelete:
					deletes.Add(1)
					fmt.Fprint(w, `{"acknowledged":true}`)
				default:
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprint(w, `{"error":{"type":"not_found","reason":"no such route"},"status":404}`)
				}
			}))
			t.Cleanup(srv.Close)
			u, _ := url.Parse(srv.URL)
			ep := config.Endpoint{URL: srv.URL, Addresses: []*url.URL{u}, LeaderAlias: "leader"}
			tg := &flipTarget{after: 1}
			if keeps {
				tg.after = 1 << 30
			}
			clock := time.Unix(1000, 0)
			f := &failover{in: FailoverInput{Pair: &config.Pair{Name: "orders", Follower: ep}, Target: tg,
				Follower: client(t, ep), Poll: time.Millisecond,
				Now: func() time.Time { clock = clock.Add(10 * time.Second); return clock }}}
			err := f.start(context.Background(), "orders-1", "orders-1")
			if err == nil {
				t.Fatal("a start refused three times succeeded")
			}
			if keeps {
				if starts.Load() != 3 || deletes.Load() != 3 {
					t.Fatalf("keeping the lease: %d starts, %d deletes, want 3 and 3 (%v)", starts.Load(), deletes.Load(), err)
				}
				return
			}
			if !errors.Is(err, errNotActing) || deletes.Load() != 0 || starts.Load() != 1 {
				t.Fatalf("after the lease was lost: %v; %d starts, %d deletes, want 1 and none", err, starts.Load(), deletes.Load())
			}
		})
	}
}

// A stage of many changes refused by the fencing check of one of them
// (the lease lost while the stage ran) halts the restore for the lease,
// as a refusal before the stage does; any other failure halts it for the
// stage's own reason.
func TestFencedMidStageHaltsForTheLease(t *testing.T) {
	for _, fenced := range []bool{true, false} {
		t.Run(fmt.Sprintf("fenced %v", fenced), func(t *testing.T) {
			ep, _ := failing(t)
			f := &failover{in: FailoverInput{Pair: &config.Pair{Name: "orders", Follower: ep}, Target: &target{}, Follower: client(t, ep), Now: time.Now},
				r: &Report{Drill: "monthly", Failover: &Failover{}}}
			err := errors.New("orders-0: boom")
			if fenced {
				err = errors.Join(err, fmt.Errorf("orders-1: not started: %w", fmt.Errorf("%w: standby", errNotActing)))
			}
			ok := f.stepOrHalt(context.Background(), "restore: start replication", "orders-0, orders-1", false,
				func(context.Context) error { return err }, "replication could not be started again")
			want := "restore stopped: replication could not be started again"
			if fenced {
				want = "restore stopped: this daemon no longer holds the pair's lease"
			}
			if ok || f.r.Result != ResultFailed || !strings.Contains(f.r.Reason, want) {
				t.Fatalf("ok %v, %s: %q; want %q", ok, f.r.Result, f.r.Reason, want)
			}
			if got := stageStatuses(f.r, "restore: start replication"); !slices.Equal(got, []string{"started", "failed"}) {
				t.Fatalf("the stage's statuses: %v", got)
			}
		})
	}
}
