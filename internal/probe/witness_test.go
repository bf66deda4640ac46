package probe_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// The leader healthy: the follower's cross-cluster search is answered by
// the remote (captured from the lab): reached.
func TestWitnessReached(t *testing.T) {
	l := newLab(t)
	o := l.prober.Cycle(t.Context())
	if w := o.Follower.Witness; w.Verdict != observe.WitnessReached || w.Pending != 0 || w.SentAt.IsZero() {
		t.Fatalf("witness = %+v", w)
	}
}

// The follower's answers when its request to the leader fails (captured
// with the leader SIGKILLed: HTTP 500 connect_transport_exception) and
// when the alias is not a remote cluster (a local search, no _clusters):
// unreached with the type named, and no witness.
func TestWitnessAnswers(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		status  int
		verdict observe.Verdict
		typ     string
	}{
		{"lab/witness_leader_killed.json", 500, observe.WitnessUnreached, "connect_transport_exception"},
		{"lab/witness_unknown_alias.json", 200, observe.WitnessNone, ""},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			l := newLab(t)
			l.follower.FixtureStatus(fakeos.RouteWitness, tc.status, tc.fixture)
			w := l.prober.Cycle(t.Context()).Follower.Witness
			if w.Verdict != tc.verdict || w.Type != tc.typ {
				t.Fatalf("witness = %+v, want %s %q", w, tc.verdict, tc.typ)
			}
			if tc.verdict == observe.WitnessNone && (w.Failure == nil || w.Failure.Class != observe.ClassMalformed) {
				t.Fatalf("no witness without a reason: %+v", w)
			}
		})
	}
}

// A follower whose request to the leader hangs (a hung leader): the
// request is pending at the cycle's deadline - unreached, while the
// follower answers everything else; it is never sent again while pending
// (one task on the follower, not one per cycle); answered at last, it is
// reported once, and the next cycle sends a new one.
func TestWitnessOneRequestInFlight(t *testing.T) {
	l := newLab(t)
	l.prober.Timeout = 300 * time.Millisecond
	release := make(chan struct{})
	body, _ := l.follower.FixtureBody("lab/witness_reached.json")
	l.follower.Handle(fakeos.RouteWitness, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(body)
	})
	var (
		first time.Time
		last  time.Duration
	)
	for i := range 4 {
		o := l.prober.Cycle(t.Context())
		w := o.Follower.Witness
		if w.Verdict != observe.WitnessUnreached || w.Pending < l.prober.Timeout*3/4 || w.Type != "" {
			t.Fatalf("cycle %d: witness = %+v, want unreached after 3/4 of %s", i, w, l.prober.Timeout)
		}
		if i == 0 {
			first = w.SentAt
		} else if !w.SentAt.Equal(first) || w.Pending <= last {
			t.Fatalf("cycle %d: a new request (sent %s, first %s, pending %s after %s)", i, w.SentAt, first, w.Pending, last)
		}
		last = w.Pending
		if !o.Follower.Reachable {
			t.Fatalf("cycle %d: follower unreachable", i)
		}
	}
	if n := l.follower.Hits(fakeos.RouteWitness); n != 1 {
		t.Fatalf("%d witness requests over 4 cycles of a hung one, want 1", n)
	}
	close(release)
	time.Sleep(50 * time.Millisecond)
	if w := l.prober.Cycle(t.Context()).Follower.Witness; w.Verdict != observe.WitnessReached || !w.SentAt.Equal(first) || w.Latency < last {
		t.Fatalf("answered late: witness = %+v (first sent %s, last pending %s)", w, first, last)
	}
	if w := l.prober.Cycle(t.Context()).Follower.Witness; w.Verdict != observe.WitnessReached || w.SentAt.Equal(first) {
		t.Fatalf("next cycle: witness = %+v, want a new request", w)
	}
	if n := l.follower.Hits(fakeos.RouteWitness); n != 2 {
		t.Fatalf("%d witness requests, want 2", n)
	}
}

// The follower itself hangs (every call, the witness's too): no witness -
// the follower did not answer - not "the leader is gone".
func TestWitnessFollowerHung(t *testing.T) {
	l := newLab(t)
	l.prober.Timeout = 200 * time.Millisecond
	l.follower.SetDelay(time.Hour)
	w := l.prober.Cycle(t.Context()).Follower.Witness
	if w.Verdict != observe.WitnessNone || w.Failure == nil {
		t.Fatalf("witness = %+v, want none", w)
	}
}

// The witness's request is bounded by the caller's context: a watcher
// that stops ends it (no request left behind).
func TestWitnessEndsWithTheCaller(t *testing.T) {
	l := newLab(t)
	l.prober.Timeout = 100 * time.Millisecond
	ended := make(chan struct{})
	l.follower.Handle(fakeos.RouteWitness, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(ended)
	})
	ctx, cancel := context.WithCancel(context.Background())
	_ = l.prober.Cycle(ctx)
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the witness request outlived its caller's context")
	}
}

// The leader's blocks as the lab answered them: none, and a disk
// watermark's read_only_allow_delete on orders-1 - a write block of an
// index in scope, named. One of an index out of scope is not the pair's.
func TestLeaderWriteBlocks(t *testing.T) {
	l := newLab(t)
	if o := l.prober.Cycle(t.Context()); len(o.Leader.WriteBlocks) != 0 || o.Leader.BlocksFailure != nil {
		t.Fatalf("blocks = %v %+v", o.Leader.WriteBlocks, o.Leader.BlocksFailure)
	}
	l.leader.Fixture(fakeos.RouteBlocks, "lab/leader_blocks_read_only_allow_delete.json")
	o := l.prober.Cycle(t.Context())
	want := "orders-1: 12: disk usage exceeded flood-stage watermark, index has read-only-allow-delete block"
	if len(o.Leader.WriteBlocks) != 1 || o.Leader.WriteBlocks[0] != want {
		t.Fatalf("blocks = %q, want %q", o.Leader.WriteBlocks, want)
	}
	l.prober.Indices = []string{"logs-*"}
	if o := l.prober.Cycle(t.Context()); len(o.Leader.WriteBlocks) != 0 {
		t.Fatalf("an index out of scope: blocks = %q", o.Leader.WriteBlocks)
	}
}

// A pending witness request that is no task on the follower never got
// there (a wedged follower node behind drwatch's other calls, a dropped
// connection): no witness - never "the leader is gone". Nor when the
// follower's tasks cannot be listed (a missing permission).
func TestWitnessPendingButNotOnTheFollowerIsNoWitness(t *testing.T) {
	for name, tasks := range map[string]func(l *lab){
		"no such task": func(l *lab) { l.follower.Set(fakeos.RouteTasks, 200, `{"nodes":{"n1":{"tasks":{}}}}`) },
		"tasks refused": func(l *lab) {
			l.follower.Set(fakeos.RouteTasks, 403, `{"error":{"type":"security_exception","reason":"no permissions for [cluster:monitor/tasks/lists]"},"status":403}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLab(t)
			l.prober.Timeout = 200 * time.Millisecond
			tasks(l)
			l.follower.Handle(fakeos.RouteWitness, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			w := l.prober.Cycle(t.Context()).Follower.Witness
			if w.Verdict != observe.WitnessNone || w.Failure == nil {
				t.Fatalf("witness = %+v, want none", w)
			}
		})
	}
}

// The follower skips the leader (skip_unavailable: true; the answer's shape
// as OpenSearch gives it, not captured: the lab's alias does not skip): it does so on
// any failure there - a refused permission as much as a dead leader - and
// says not which: no witness, never "unreached".
func TestWitnessSkippedRemoteIsNoWitness(t *testing.T) {
	l := newLab(t)
	l.follower.Set(fakeos.RouteWitness, 200, `{"took":1,"timed_out":false,"_shards":{"total":0,"successful":0,"skipped":0,"failed":0},"_clusters":{"total":1,"successful":0,"skipped":1},"hits":{"hits":[]}}`)
	w := l.prober.Cycle(t.Context()).Follower.Witness
	if w.Verdict != observe.WitnessNone || w.Failure == nil || !strings.Contains(w.Failure.Message, "skip_unavailable") {
		t.Fatalf("witness = %+v, want none", w)
	}
}

// A witness answered late in the cycle does not eat the deadline of the
// leader's sequence numbers: the lag is still read.
func TestSlowWitnessLeavesTheLagRead(t *testing.T) {
	l := newLab(t)
	l.prober.Timeout = 400 * time.Millisecond
	body, _ := l.follower.FixtureBody("lab/witness_reached.json")
	l.follower.Handle(fakeos.RouteWitness, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(290 * time.Millisecond)
		_, _ = w.Write(body)
	})
	o := l.prober.Cycle(t.Context())
	if r := o.Follower.Replication; !r.LeaderCheckpointsRead || !r.LagComplete {
		t.Fatalf("the lag was not read with a slow witness: %+v", r.CheckpointsFailure)
	}
	if o.Follower.Witness.Verdict != observe.WitnessReached {
		t.Fatalf("witness = %+v", o.Follower.Witness)
	}
}
