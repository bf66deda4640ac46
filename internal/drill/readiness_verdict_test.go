package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/robfig/cron/v3"
)

// fastPolicy is the e2e tests' policy: probes every 500ms, the leader
// down after 3s and 3 failed probes, max_lag_operations 10.
func fastPolicy(mode string) *config.Policy {
	p := config.DefaultPolicy()
	p.Mode = mode
	p.ProbeInterval = config.Duration(500 * time.Millisecond)
	p.LeaderDownAfter = config.Duration(3 * time.Second)
	p.MinFailedProbes = 3
	p.MaxObservationAge = config.Duration(10 * time.Second)
	lag := int64(10)
	p.MaxLagOperations = &lag
	return p
}

func TestVerdictByMode(t *testing.T) {
	obs := healthyObs()
	for _, tc := range []struct {
		mode, result string
		want         []string
	}{
		{config.ModeAuto, Pass, []string{"would promote automatically after 3.5s", "RPO guard passes", "estimated loss 0 operations"}},
		{config.ModeSemiAuto, Pass, []string{"semi-auto mode: would ask for approval", "awaiting approval"}},
		{config.ModeManual, Pass, []string{"manual mode: would page only"}},
		{config.ModeDryRun, Pass, []string{"dry-run mode", "would promote now; doing nothing"}},
	} {
		c, sim := judgeVerdict(obs, fastPolicy(tc.mode))
		if c.Result != tc.result {
			t.Errorf("%s: %s: %s", tc.mode, c.Result, c.Detail)
		}
		for _, w := range tc.want {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("%s: %q lacks %q", tc.mode, c.Detail, w)
			}
		}
		if !sim.decided || sim.detection != 3500*time.Millisecond || sim.probes != 7 {
			t.Errorf("%s: simulation %+v", tc.mode, sim)
		}
	}
}

func TestVerdictAutoWarnsWhenItWouldNotPromote(t *testing.T) {
	// A lag over max_lag_operations: the RPO guard fails, auto mode asks.
	obs := healthyObs()
	obs.Follower.Replication.Indices[0].Lag = 50
	obs.Follower.Replication.TotalLag, obs.Follower.Replication.MaxLag = 50, 50
	c, _ := judgeVerdict(obs, fastPolicy(config.ModeAuto))
	if c.Result != Warn || !strings.Contains(c.Detail, "would ask for approval") || !strings.Contains(c.Detail, "max_lag_operations 10") {
		t.Fatalf("lag 50: %+v", c)
	}
	// No complete lag reading (a lag unknown now): no reading, asks.
	obs = healthyObs()
	obs.Follower.Replication.LagComplete = false
	obs.Follower.Replication.Indices[1].LagKnown = false
	if c, _ := judgeVerdict(obs, fastPolicy(config.ModeAuto)); c.Result != Warn || !strings.Contains(c.Detail, "no complete lag reading") {
		t.Fatalf("lag unknown: %+v", c)
	}
	// In a maintenance window: held.
	pol := fastPolicy(config.ModeAuto)
	sched, err := cron.ParseStandard("0 12 * * *")
	if err != nil {
		t.Fatal(err)
	}
	pol.MaintenanceWindows = []config.MaintenanceWindow{{Schedule: config.Schedule{Spec: "0 12 * * *", Sched: sched}, Duration: config.Duration(time.Hour)}}
	if c, _ := judgeVerdict(healthyObs(), pol); c.Result != Warn || !strings.Contains(c.Detail, "maintenance window") {
		t.Fatalf("maintenance: %+v", c)
	}
	// The follower has no such alias: it cannot witness, never down.
	obs = healthyObs()
	obs.Follower.Remote.Known = false
	c, sim := judgeVerdict(obs, fastPolicy(config.ModeAuto))
	if c.Result != Warn || sim.decided || !strings.Contains(c.Detail, "would not declare the leader down") {
		t.Fatalf("no alias: %+v", c)
	}
}

func TestVerdictWritesNothingIntoTheObservation(t *testing.T) {
	obs := healthyObs()
	_ = leaderLost(obs, t0.Add(time.Second))
	if !obs.Follower.Replication.Indices[0].LagKnown || !obs.Follower.Remote.Connected {
		t.Fatal("the simulation changed the drill's observation")
	}
}

func TestETA(t *testing.T) {
	pol := fastPolicy(config.ModeAuto)
	pol.PromoteConcurrency = 8
	obs := healthyObs()
	for i := range 18 { // 20 indices: 3 batches of 8
		obs.Follower.Replication.Indices = append(obs.Follower.Replication.Indices, observe.Index{Name: "x" + string(rune('a'+i))})
	}
	sim := simulation{decided: true, detection: 3500 * time.Millisecond, probes: 7}
	c := judgeETA(obs, pol, sim, []time.Duration{time.Second, 3 * time.Second, 2 * time.Second}, 1)
	// 3.5 s + 3 x 2 s + 8 requests x 5 ms = 9.54 s
	for _, w := range []string{"about 9.5s", "detection 3.5s", "3 batches of up to 8", "x 2s, the median time per batch of the pair's 3 failover drills", "8 follower requests at the 5ms"} {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("%q lacks %q", c.Detail, w)
		}
	}
	requirePass(t, c)

	c = judgeETA(obs, fastPolicy(config.ModeSemiAuto), sim, nil, 0)
	for _, w := range []string{"no stop was measured yet, assuming 250ms per index", "for 20 indices", "stops 5s", "plus the time a human takes"} {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("%q lacks %q", c.Detail, w)
		}
	}
	if median([]time.Duration{4, 1, 3, 2}) != 2 {
		t.Error("median of an even count")
	}
}

// The drill's observation has the follower reach the leader now (the
// active witness): the simulated death of the leader is seen by the
// follower too - its request fails - so auto mode still promotes, not
// "drwatch itself is cut off".
func TestVerdictWithTheWitnessReached(t *testing.T) {
	obs := healthyObs()
	obs.Follower.Witness = observe.Witness{Verdict: observe.WitnessReached, SentAt: obs.Time, Latency: 4 * time.Millisecond}
	c, _ := judgeVerdict(obs, fastPolicy(config.ModeAuto))
	if c.Result != Pass || !strings.Contains(c.Detail, "would promote automatically") {
		t.Fatalf("%s: %s", c.Result, c.Detail)
	}
}
