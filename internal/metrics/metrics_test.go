package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
)

func obs(indices ...observe.Index) observe.Observation {
	o := observe.Observation{Pair: "p", Time: time.Unix(1700000000, 0), Requests: 5}
	o.Leader = observe.Leader{Reachable: true, Health: "yellow"}
	o.Follower.Reachable = true
	o.Follower.Remote = observe.Remote{Alias: "leader", Known: true, Connected: true, NodesConnected: 1}
	o.Follower.Replication.Indices = indices
	return o
}

func TestObserveLagKeepsLastKnownAndForgetsDeparted(t *testing.T) {
	m := metrics.New()
	m.InitPair("p")
	m.Observe(obs(observe.Index{Name: "a", Lag: 7, LagKnown: true}, observe.Index{Name: "b", Lag: 0, LagKnown: true}))
	if v := testutil.ToFloat64(m.ReplicationLag.WithLabelValues("p", "a")); v != 7 {
		t.Fatalf("lag a = %v", v)
	}
	if v := testutil.ToFloat64(m.LeaderHealth.WithLabelValues("p", "yellow")); v != 1 {
		t.Fatalf("health yellow = %v", v)
	}
	// a's lag becomes unknown: keeps 7; b leaves scope: its series goes.
	m.Observe(obs(observe.Index{Name: "a", LagKnown: false}))
	if v := testutil.ToFloat64(m.ReplicationLag.WithLabelValues("p", "a")); v != 7 {
		t.Fatalf("lag a = %v, want last known 7", v)
	}
	if v := testutil.ToFloat64(m.ReplicationLagUnknown.WithLabelValues("p")); v != 1 {
		t.Fatalf("unknown = %v", v)
	}
	if n := testutil.CollectAndCount(m.ReplicationLag); n != 1 {
		t.Fatalf("lag series = %d, want 1 (b deleted)", n)
	}
}

func TestObserveLeaderDown(t *testing.T) {
	m := metrics.New()
	m.InitPair("p")
	o := obs()
	o.Leader = observe.Leader{Failure: &observe.Failure{Class: observe.ClassTimeout, Message: "x"}}
	o.Follower.Remote.Connected = false
	m.Observe(o)
	if v := testutil.ToFloat64(m.LeaderUp.WithLabelValues("p")); v != 0 {
		t.Fatal("leader_up should be 0")
	}
	if v := testutil.ToFloat64(m.RemoteConnected.WithLabelValues("p")); v != 0 {
		t.Fatal("remote_connected should be 0")
	}
	if v := testutil.ToFloat64(m.ProbeFailures.WithLabelValues("p", "leader", "timeout")); v != 1 {
		t.Fatalf("timeout failures = %v", v)
	}
	for _, c := range []string{"green", "yellow", "red"} {
		if v := testutil.ToFloat64(m.LeaderHealth.WithLabelValues("p", c)); v != 0 {
			t.Fatalf("health %s = %v while unreachable", c, v)
		}
	}
}

// Every label combination exists at 0 before the first probe, and
// ForgetPair removes them all.
func TestInitAndForgetPair(t *testing.T) {
	m := metrics.New()
	m.InitPair("p")
	if err := testutil.GatherAndCompare(m.Reg, strings.NewReader(`
# HELP drwatch_leader_up 1 if the last probe reached the leader cluster and it answered its health, else 0.
# TYPE drwatch_leader_up gauge
drwatch_leader_up{pair="p"} 0
`), "drwatch_leader_up"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.ProbeFailures); n != 2*len(observe.Classes) {
		t.Fatalf("failure series = %d", n)
	}
	m.ForgetPair("p")
	if n := testutil.CollectAndCount(m.LeaderUp) + testutil.CollectAndCount(m.ProbeFailures); n != 0 {
		t.Fatalf("%d series left after ForgetPair", n)
	}
}

// Every event's counter exists at 0 once a pair is watched: increase()
// over a series that appears at 1 misses the first occurrence.
func TestEventsStartAtZero(t *testing.T) {
	m := metrics.New()
	m.InitPair("p")
	if n := testutil.CollectAndCount(m.Events, "drwatch_events_total"); n != len(config.Events) {
		t.Fatalf("%d event series, want %d (config.Events)", n, len(config.Events))
	}
	for _, ev := range config.Events {
		if v := testutil.ToFloat64(m.Events.WithLabelValues("p", ev)); v != 0 {
			t.Errorf("%s = %v, want 0", ev, v)
		}
	}
	m.ForgetPair("p")
	if n := testutil.CollectAndCount(m.Events, "drwatch_events_total"); n != 0 {
		t.Fatalf("%d event series left after ForgetPair", n)
	}
}
