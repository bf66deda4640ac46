//go:build e2e && ccr && measure

package e2e

// Measurements on the real lab (make measure): detection time over ten
// SIGKILLs, promotion wall time against the slowest single _stop and
// against stopping the indices one by one, and the RTO from SIGKILL to the
// first write the promoted follower acknowledges. They print tables for
// docs/measurements.md; they assert only that each run reached its end.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	drlab "github.com/drwatch/drwatch/internal/lab"
)

// demoPolicy is deploy/examples/lab-failover.yml's policy.
const demoPolicy = `    mode: %s
    probe_interval: 1s
    probe_timeout: 800ms
    leader_down_after: 5s
    min_failed_probes: 3
    require_follower_witness: true
    max_lag_operations: 100
    max_observation_age: 15s
    cooldown: 0s
    fence_leader: true
    promote_concurrency: 8
`

func demoConfig(t *testing.T, mode, prefix string) string {
	t.Helper()
	cfg := scopedConfig(t, prefix)
	s := readFile(t, cfg)
	s = s[:strings.Index(s, "    mode: dry-run")] + fmt.Sprintf(demoPolicy, mode)
	writeFile(t, cfg, s)
	return cfg
}

func stats(ds []time.Duration) (lo, med, hi time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[0], s[len(s)/2], s[len(s)-1]
}

func TestMeasureDetection(t *testing.T) {
	replicated(t, "detect", 1, 1)
	var ds []time.Duration
	for i := range 10 {
		cfg := demoConfig(t, "dry-run", "detect")
		d := startDaemon(t, cfg)
		d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
		time.Sleep(time.Duration(i*97%1000) * time.Millisecond) // kills at different points of the probe interval
		killed := time.Now()
		killNode(t, drlab.Leader)
		d.waitMetric(t, 30*time.Second, `drwatch_pair_state{pair="lab",state="leader_down"}`, "1")
		ds = append(ds, leaderDownAt(t, cfg).Sub(killed))
		d.kill(t)
		restartLeader(t)
	}
	lo, med, hi := stats(ds)
	t.Logf("MEASURE detection over %d SIGKILLs (leader_down_after 5s, probe_interval 1s, min_failed_probes 3): min %s, median %s, max %s",
		len(ds), lo.Round(10*time.Millisecond), med.Round(10*time.Millisecond), hi.Round(10*time.Millisecond))
}

// stopDurations reads the journaled stop steps: per index, done - started.
func stopDurations(t *testing.T, stepsFile string) map[string]time.Duration {
	t.Helper()
	b, err := os.ReadFile(stepsFile)
	if err != nil {
		t.Fatal(err)
	}
	started, out := map[string]time.Time{}, map[string]time.Duration{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var l struct {
			Step struct {
				Name, Target, Status string
				At                   time.Time
			} `json:"step"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Step.Name != "stop" {
			continue
		}
		switch l.Step.Status {
		case "started":
			started[l.Step.Target] = l.Step.At
		case "done":
			out[l.Step.Target] = l.Step.At.Sub(started[l.Step.Target])
		}
	}
	return out
}

func TestMeasurePromotionTime(t *testing.T) {
	for _, n := range []int{1, 10, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			byDrwatch := replicated(t, fmt.Sprintf("prom%d", n), n, 1)
			oneByOne := replicated(t, fmt.Sprintf("seq%d", n), n, 1)

			// drwatch promote, leader alive (fenced), promote_concurrency 8.
			cfg := demoConfig(t, "manual", fmt.Sprintf("prom%d", n))
			start := time.Now()
			if code, out, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--yes"); code != 0 {
				t.Fatalf("promote: %d %s %s", code, out, errOut)
			}
			wall := time.Since(start)
			for _, ix := range byDrwatch {
				if isFollower(t, ix) {
					t.Fatalf("%s not promoted", ix)
				}
			}
			var rec struct {
				Promotion struct{ Started, Finished time.Time } `json:"promotion"`
			}
			if err := json.Unmarshal([]byte(readFile(t, filepath.Join(filepath.Dir(cfg), "lab.json"))), &rec); err != nil {
				t.Fatal(err)
			}
			stops := stopDurations(t, filepath.Join(filepath.Dir(cfg), "lab.steps.jsonl"))
			var slowest time.Duration
			for _, d := range stops {
				slowest = max(slowest, d)
			}

			// The same number of indices stopped one by one, directly.
			seqStart := time.Now()
			for _, ix := range oneByOne {
				osOK(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+ix+"/_stop", "{}")
			}
			seq := time.Since(seqStart)
			t.Logf("MEASURE promotion of %d indices: %s journaled start to finish (the CLI took %s with its start-up); slowest single _stop %s; %d stopped one by one: %s",
				n, rec.Promotion.Finished.Sub(rec.Promotion.Started).Round(10*time.Millisecond),
				wall.Round(10*time.Millisecond), slowest.Round(10*time.Millisecond), n, seq.Round(10*time.Millisecond))
		})
	}
}

func TestMeasureRTO(t *testing.T) {
	var rtos []time.Duration
	for i := range 3 {
		prefix := fmt.Sprintf("rto%d", i)
		idx := replicated(t, prefix, 3, 2)
		for _, ix := range idx {
			writeIDs(t, ix, 0, 100)
		}
		cfg := demoConfig(t, "auto", prefix)
		d := startDaemon(t, cfg)
		d.waitMetric(t, 30*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
		killed := time.Now()
		killLeader(t)
		eventually(t, 120*time.Second, "a write acknowledged by the promoted follower", func() bool {
			code, _ := osDo(t, lab.FollowerURL, "POST", "/"+idx[0]+"/_doc", `{"after":"failover"}`)
			return code == 201
		})
		rtos = append(rtos, time.Since(killed))
		d.kill(t)
		restartLeader(t)
	}
	lo, med, hi := stats(rtos)
	t.Logf("MEASURE RTO, SIGKILL to the first write the promoted follower acknowledges, demo policy, 3 indices: min %s, median %s, max %s",
		lo.Round(10*time.Millisecond), med.Round(10*time.Millisecond), hi.Round(10*time.Millisecond))
}
