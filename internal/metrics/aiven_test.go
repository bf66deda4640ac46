package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
)

func aivenObs(at time.Time, a *observe.Aiven, requests int64) observe.Observation {
	o := obs()
	o.Time, o.Aiven, o.AivenRequests = at, a, requests
	return o
}

// An Aiven pair's series exist at 0 from the start; an OpenSearch-only
// pair has none.
func TestAivenSeriesOnlyForAivenPairs(t *testing.T) {
	m := metrics.New()
	m.InitPair("p")
	m.InitPair("plain")
	m.InitAiven("p")
	m.Observe(obs())
	fams, err := m.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "drwatch_aiven_") {
			continue
		}
		seen++
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "pair" && l.GetValue() != "p" {
					t.Fatalf("%s has a series of pair %s, which has no aiven block", f.GetName(), l.GetValue())
				}
			}
		}
	}
	if seen != 9 {
		t.Fatalf("%d drwatch_aiven_ families initialised, want 9", seen)
	}
	if n := testutil.CollectAndCount(m.AivenServiceState); n != 8 {
		t.Fatalf("%d service state series, want 2 sides x 4 states", n)
	}
	m.ForgetPair("p")
	if n := testutil.CollectAndCount(m.AivenServiceState) + testutil.CollectAndCount(m.AivenAPIErrors); n != 0 {
		t.Fatalf("%d Aiven series left after ForgetPair", n)
	}
}

func TestObserveAiven(t *testing.T) {
	m := metrics.New()
	m.InitPair("p")
	m.InitAiven("p")
	t0 := time.Unix(1700000000, 0)
	read := &observe.Aiven{ReadAt: t0, Interval: 15 * time.Second,
		Leader:      &observe.AivenService{Name: "os-prod", State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 3},
		Follower:    &observe.AivenService{Name: "os-dr", State: observe.AivenRebalancing, NodesTotal: 3, NodesRunning: 2},
		Integration: &observe.AivenIntegration{Found: true, ID: "i", Active: true, Status: observe.IntegrationRunning}}
	m.Observe(aivenObs(t0, read, 2))
	m.Observe(aivenObs(t0.Add(5*time.Second), read, 0)) // carried
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"api up", testutil.ToFloat64(m.AivenAPIUp.WithLabelValues("p")), 1},
		{"requests", testutil.ToFloat64(m.AivenAPIRequests.WithLabelValues("p")), 2},
		{"age", testutil.ToFloat64(m.AivenReadingAge.WithLabelValues("p")), 5},
		{"leader RUNNING", testutil.ToFloat64(m.AivenServiceState.WithLabelValues("p", "leader", "RUNNING")), 1},
		{"leader REBALANCING", testutil.ToFloat64(m.AivenServiceState.WithLabelValues("p", "leader", "REBALANCING")), 0},
		{"follower REBALANCING", testutil.ToFloat64(m.AivenServiceState.WithLabelValues("p", "follower", "REBALANCING")), 1},
		{"follower nodes", testutil.ToFloat64(m.AivenServiceNodes.WithLabelValues("p", "follower")), 3},
		{"follower nodes running", testutil.ToFloat64(m.AivenServiceNodesUp.WithLabelValues("p", "follower")), 2},
		{"integration active", testutil.ToFloat64(m.AivenIntegrationActive.WithLabelValues("p")), 1},
		{"integration running", testutil.ToFloat64(m.AivenIntegrationStatus.WithLabelValues("p", "running")), 1},
		{"OpenSearch requests apart", testutil.ToFloat64(m.ProbeRequests.WithLabelValues("p")), 10},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// A failed refresh: counted once by class, API down; what it could
	// not read keeps its last value. The integration gone: missing.
	failed := &observe.Aiven{ReadAt: t0.Add(15 * time.Second), Interval: 15 * time.Second,
		Failure:     &observe.Failure{Class: observe.ClassTimeout, Message: "aiven: get service acme/os-prod: no answer"},
		Follower:    &observe.AivenService{Name: "os-dr", State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 3},
		Integration: &observe.AivenIntegration{}}
	m.Observe(aivenObs(t0.Add(15*time.Second), failed, 2))
	m.Observe(aivenObs(t0.Add(20*time.Second), failed, 0))
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"api up", testutil.ToFloat64(m.AivenAPIUp.WithLabelValues("p")), 0},
		{"timeouts", testutil.ToFloat64(m.AivenAPIErrors.WithLabelValues("p", "timeout")), 1},
		{"leader RUNNING (kept)", testutil.ToFloat64(m.AivenServiceState.WithLabelValues("p", "leader", "RUNNING")), 1},
		{"follower RUNNING", testutil.ToFloat64(m.AivenServiceState.WithLabelValues("p", "follower", "RUNNING")), 1},
		{"integration missing", testutil.ToFloat64(m.AivenIntegrationStatus.WithLabelValues("p", "missing")), 1},
		{"integration running", testutil.ToFloat64(m.AivenIntegrationStatus.WithLabelValues("p", "running")), 0},
		{"integration active", testutil.ToFloat64(m.AivenIntegrationActive.WithLabelValues("p")), 0},
		{"requests", testutil.ToFloat64(m.AivenAPIRequests.WithLabelValues("p")), 4},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
