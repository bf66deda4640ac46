//go:build e2e && ccr

package e2e

// The chaos matrix: one table of faults on the real lab, each cell with
// writes acknowledged before the fault and counted by id on the follower
// afterwards. drwatch's traffic to the leader and the follower's
// (its remote cluster in proxy mode) both go through toxiproxies, so that
// either link can be cut, slowed or black-holed (packets swallowed, no
// reset) apart from the other; the leader process itself is killed or
// frozen for real.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	drlab "github.com/drwatch/drwatch/internal/lab"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
)

// The matrix's policy: auto, probes every 500ms, timeout 400ms, the
// leader down after 3s and 3 failed probes, the follower's witness
// required.
const (
	mxInterval = 500 * time.Millisecond
	mxTimeout  = 400 * time.Millisecond
	mxDownAfer = 3 * time.Second
)

// chaosCell is one row of the matrix.
type chaosCell struct {
	name string
	// fault breaks something and returns how to heal it (nil: healed by
	// the cleanups, e.g. a killed leader's restart).
	fault func(t *testing.T, r *links) (heal func())
	// hold: for a cell that must never promote, how long the fault is
	// held (and the states watched) before it is judged.
	hold time.Duration
	// promote: the cell must end promoted, with every acknowledged write
	// on the follower, within within of the fault.
	promote bool
	within  time.Duration
	// during: the state the pair must be in while the fault is held
	// (never-promote cells), and a reason it must give.
	during, reason string
	// afterHeal: checked once the fault is healed (a promoted cell: the
	// old leader fenced).
	afterHeal func(t *testing.T, d *daemon, idx []string)
	// hung: while held, the follower's witness tasks are counted and must
	// stay at most one.
	hung bool
	// detach: the promotion must have detached the hung leader (the
	// follower's remote settings of its alias removed before the stops).
	detach bool
	// event: an event the cell must have raised once (a page).
	event string
}

func TestChaosMatrix(t *testing.T) {
	rig, _ := newLinks(t, true, true)

	// The bound of a hung leader's detection: leader_down_after plus two
	// probe intervals, plus the probe timeout of the cycle that decides.
	hungBound := mxDownAfer + 2*mxInterval + mxTimeout
	cells := []chaosCell{
		{
			name:    "leader SIGKILL",
			fault:   func(t *testing.T, r *links) func() { killLeader(t); return nil },
			promote: true, within: hungBound,
		},
		{
			name: "leader SIGSTOP for good",
			fault: func(t *testing.T, r *links) func() {
				return freezeLeader(t)
			},
			promote: true, within: hungBound, hold: 5 * time.Second, detach: true,
			afterHeal: oldLeaderFenced,
		},
		{
			name: "leader SIGSTOP 2s, 6 times",
			fault: func(t *testing.T, r *links) func() {
				for range 6 {
					resume := freezeLeader(t)
					time.Sleep(2 * time.Second)
					resume()
					time.Sleep(2 * time.Second)
				}
				return nil
			},
			hold: 0,
		},
		{
			name: "blackhole drwatch <-> leader",
			fault: func(t *testing.T, r *links) func() {
				r.dpx.Swallow(t)
				return func() { r.dpx.Heal(t) }
			},
			hold: 4 * mxDownAfer, during: "isolated", reason: "the follower reached the leader now",
		},
		{
			name: "blackhole follower <-> leader",
			fault: func(t *testing.T, r *links) func() {
				r.fpx.Swallow(t)
				return func() { r.fpx.Heal(t) }
			},
			// The follower's requests to the leader hang for five
			// minutes: its witness tasks must stay bounded throughout.
			hold: hangHold, during: "healthy", reason: "the follower cannot reach the leader", hung: true,
		},
		{
			name: "blackhole leader <-> everyone",
			fault: func(t *testing.T, r *links) func() {
				r.dpx.Swallow(t)
				r.fpx.Swallow(t)
				return func() { r.dpx.Heal(t); r.fpx.Heal(t) }
			},
			promote: true, within: hungBound, hold: 5 * time.Second, detach: true,
			afterHeal: oldLeaderFenced,
		},
		{
			name: "leader 2x probe_timeout slow for 30s",
			fault: func(t *testing.T, r *links) func() {
				r.dpx.Slow(t, 2*mxTimeout)
				r.fpx.Slow(t, 2*mxTimeout)
				return func() { r.dpx.Heal(t); r.fpx.Heal(t) }
			},
			hold: 30 * time.Second,
		},
	}
	// The leader answers, but refuses writes: a disk flood-stage
	// watermark's block on its indices (the cell's, set by hand here).
	cells = append(cells, chaosCell{
		name: "leader answers, writes refused (read_only_allow_delete)",
		fault: func(t *testing.T, r *links) func() {
			osOK(t, lab.LeaderURL, "PUT", "/"+chaosPrefix(t)+"-*/_settings", `{"index.blocks.read_only_allow_delete":true}`)
			return func() {
				osOK(t, lab.LeaderURL, "PUT", "/"+chaosPrefix(t)+"-*/_settings", `{"index.blocks.read_only_allow_delete":null}`)
			}
		},
		hold: 4 * mxDownAfer, during: "healthy", reason: "leader degraded: it answers but refuses writes", event: "leader_degraded",
	})
	for i, c := range cells {
		prefix := fmt.Sprintf("mx%d", i)
		t.Run(c.name, func(t *testing.T) {
			cellPrefix.Store(t.Name(), prefix+"-"+runID)
			runChaosCell(t, rig, prefix, c)
		})
	}
}

// cellPrefix is each cell's index prefix (with the run's id), by test
// name: a fault that acts on the cell's indices reads it.
var cellPrefix sync.Map

func chaosPrefix(t *testing.T) string {
	v, ok := cellPrefix.Load(t.Name())
	if !ok {
		t.Fatal("no index prefix for " + t.Name())
	}
	return v.(string)
}

// hangHold is how long the SIGSTOP-for-good cell keeps the leader frozen
// after its promotion: the follower's task count must stay bounded
// through a long hang. DRWATCH_CHAOS_HANG shortens it for a quick local
// run (make test uses the 5 minutes).
var hangHold = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("DRWATCH_CHAOS_HANG")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Minute
}()

func runChaosCell(t *testing.T, r *links, prefix string, c chaosCell) {
	idx := replicated(t, prefix, 2, 1)
	acked := map[string][]string{}
	for _, ix := range idx {
		acked[ix] = writeIDs(t, ix, 0, 100)
	}
	cfg, _ := decisionConfigIndices(t, "http://"+r.dpx.Addr(), "auto", scope(prefix))
	d := startDaemon(t, cfg)
	for _, ix := range idx {
		d.waitMetric(t, 60*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	d.waitMetric(t, 10*time.Second, `drwatch_follower_witness{pair="lab",verdict="reached"}`, "1")

	stop := make(chan struct{})
	states := watchStates(t, d, stop)
	start := time.Now()
	heal := c.fault(t, r)
	healed := false
	doHeal := func() {
		if heal != nil && !healed {
			healed = true
			heal()
		}
	}
	if c.promote {
		// A promotion may detach the hung leader (remove the follower's
		// remote settings of its alias): put the link back for the next
		// cell. Registered after the fault, so it runs before the
		// fault's own cleanups (a frozen leader's waits for the link).
		t.Cleanup(func() { restoreRemote(t, r) })
	}
	t.Cleanup(doHeal)

	if c.promote {
		// The promotion under a hung leader: its _stop waits ~30s for
		// the leader (the plugin's own timeout) before it completes.
		d.waitMetric(t, 150*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
		promotedIn := time.Since(start)
		decided := leaderDownAt(t, cfg).Sub(start)
		t.Logf("CHAOS %s: leader_down %s after the fault, promoted %s after", c.name, decided.Round(time.Millisecond), promotedIn.Round(time.Millisecond))
		if decided > c.within {
			t.Errorf("leader_down %s after the fault, want within %s (leader_down_after + 2 intervals + the probe timeout)", decided, c.within)
		}
		for _, ix := range idx {
			if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
				t.Errorf("%s: %d of %d acknowledged writes lost: %v", ix, len(m), len(acked[ix]), m[:min(len(m), 5)])
			}
			standalone(t, ix)
		}
		requireStepsDone(t, cfg, c.detach, len(idx))
		time.Sleep(c.hold)
		close(stop)
		<-states
		doHeal()
		if c.afterHeal != nil {
			c.afterHeal(t, d, idx)
		}
		return
	}

	// Never promote: hold the fault, watch every state, then heal and
	// require the pair healthy and every index still following.
	if c.during != "" {
		d.waitMetric(t, 15*time.Second, fmt.Sprintf(`drwatch_pair_state{pair="lab",state=%q}`, c.during), "1")
		eventually(t, 15*time.Second, "the reason "+c.reason, func() bool {
			return hasReason(d.decision(t).Reasons, c.reason)
		})
		t.Logf("CHAOS %s: %s %s after the fault: %q", c.name, c.during, time.Since(start).Round(time.Millisecond), d.decision(t).Reasons)
	}
	if rest := c.hold - time.Since(start); rest > 0 && c.hung {
		holdHung(t, d, rest)
	} else if rest > 0 {
		time.Sleep(rest)
	}
	if c.during != "" {
		if s := d.state(t); s != c.during {
			t.Errorf("after %s of the fault the pair is %s, want %s", c.hold, s, c.during)
		}
	}
	if c.event != "" {
		if v, _ := d.metric(t, fmt.Sprintf(`drwatch_events_total{event=%q,pair="lab"}`, c.event)); v != "1" {
			t.Errorf("%s raised %s times, want once", c.event, v)
		}
	}
	doHeal()
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="healthy"}`, "1")
	d.waitCycles(t, "lab", 4)
	close(stop)
	seen := <-states
	requireNeverDown(t, seen, c.name+": drwatch")
	t.Logf("CHAOS %s: never promoted; states seen: %v", c.name, seen)
	for _, ix := range idx {
		if !isFollower(t, ix) {
			t.Errorf("%s is no longer a follower index", ix)
		}
	}
	waitRemoteConnected(t, 60*time.Second)
	for _, ix := range idx {
		eventually(t, 60*time.Second, ix+" caught up", func() bool { return len(missing(t, lab.FollowerURL, ix, acked[ix])) == 0 })
	}
}

// requireStepsDone checks the journaled promotion: every planned index's
// stop done, none lost, and - with detach - the hung leader detached
// before the stops.
func requireStepsDone(t *testing.T, cfg string, detach bool, n int) {
	t.Helper()
	var stops, lost, detached int
	var detail string
	for _, s := range promotionSteps(t, cfg) {
		switch {
		case s.Name == promote.StepStop && s.Status == promote.StepDone:
			stops++
		case s.Name == promote.StepStop && s.Status == promote.StepSkipped:
			lost++
		case s.Name == promote.StepDetach && s.Status == promote.StepDone:
			detached++
			detail = s.Detail
		}
	}
	if stops < n || lost != 0 {
		t.Errorf("journal: %d stops done, %d indices lost, want %d and 0", stops, lost, n)
	}
	if detach && detached != 1 {
		t.Errorf("journal: the hung leader detached %d times, want once", detached)
	}
	if detach {
		t.Logf("CHAOS detached: %s", detail)
	}
}

// restoreRemote puts the follower's remote connection back through the
// matrix's proxy, if a promotion detached it (the leader thawed first: a
// connection to a frozen leader waits).
func restoreRemote(t *testing.T, r *links) {
	t.Helper()
	if !detached(t) {
		return
	}
	if _, err := theLab.Thaw(drlab.Leader); err != nil {
		t.Logf("thaw: %v", err)
	}
	useProxy(t, r.fpx.Addr())
	waitRemoteConnected(t, 120*time.Second)
}

// detached reports whether the follower's remote alias points at the
// address drwatch's detach sets (a refused loopback port).
func detached(t *testing.T) bool {
	t.Helper()
	var st struct {
		Persistent map[string]json.RawMessage `json:"persistent"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/_cluster/settings?flat_settings=true", ""), &st); err != nil {
		t.Fatal(err)
	}
	var addr string
	if raw, ok := st.Persistent["cluster.remote."+lab.Alias+".proxy_address"]; ok && json.Unmarshal(raw, &addr) == nil {
		return addr == opensearch.DetachAddress
	}
	return false
}

func hasReason(reasons []string, want string) bool {
	for _, r := range reasons {
		if strings.Contains(r, want) {
			return true
		}
	}
	return false
}

// holdHung keeps a hanging link hanging for span and samples the
// follower's witness tasks (drwatch's cross-cluster searches, told apart
// by their X-Opaque-Id): at most one is ever in flight, however long the
// leader does not answer the follower.
func holdHung(t *testing.T, d *daemon, span time.Duration) {
	t.Helper()
	end := time.Now().Add(span)
	most, samples := 0, 0
	for time.Now().Before(end) {
		n := witnessTasks(t)
		most = max(most, n)
		samples++
		if n > 1 {
			t.Fatalf("%d witness tasks on the follower at once, want at most 1", n)
		}
		time.Sleep(2 * time.Second)
	}
	if v, _ := d.metric(t, `drwatch_follower_witness{pair="lab",verdict="unreached"}`); v != "1" {
		t.Errorf("after %s of a hanging link the witness verdict unreached = %q", span, v)
	}
	pending, _ := d.metric(t, `drwatch_follower_witness_pending_seconds{pair="lab"}`)
	if most != 1 {
		t.Errorf("the witness's request was in flight in none of %d samples of a hanging link", samples)
	}
	t.Logf("CHAOS link hanging for %s: witness tasks on the follower at most %d over %d samples; pending %ss", span, most, samples, pending)
}

// witnessTasks counts the follower's tasks that are drwatch's witness
// searches.
func witnessTasks(t *testing.T) int {
	t.Helper()
	var tasks struct {
		Nodes map[string]struct {
			Tasks map[string]struct {
				Action  string            `json:"action"`
				Headers map[string]string `json:"headers"`
			} `json:"tasks"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(osOK(t, lab.FollowerURL, "GET", "/_tasks?actions=indices:data/read/search*&detailed=true", ""), &tasks); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, node := range tasks.Nodes {
		for _, task := range node.Tasks {
			if task.Headers["X-Opaque-Id"] == opensearch.WitnessOpaqueID {
				n++
			}
		}
	}
	return n
}

// oldLeaderFenced: once the old leader answers again, drwatch write-blocks
// its copies of the promoted indices.
func oldLeaderFenced(t *testing.T, d *daemon, idx []string) {
	t.Helper()
	took := d.waitMetric(t, 90*time.Second, `drwatch_events_total{event="old_leader_fenced",pair="lab"}`, "1")
	for _, ix := range idx {
		if !leaderRefusesWrites(t, ix) {
			t.Errorf("the old leader's %s takes writes after the fence", ix)
		}
	}
	t.Logf("CHAOS old leader fenced %s after it was healed", took.Round(time.Millisecond))
}

// The leader frozen mid-promotion: `drwatch promote` fences the live
// leader and starts stopping (one index at a time); the leader is
// SIGSTOPped as soon as the first stop is journaled done. The next stop
// hangs in the plugin (the index closed, waiting on the leader), is cut
// short, the leader is found hanging and detached, and the stops complete:
// every index open, standalone, every acknowledged write on the follower.
func TestChaosLeaderFrozenMidPromotion(t *testing.T) {
	idx := replicated(t, "midfreeze", 4, 1)
	acked := map[string][]string{}
	for _, ix := range idx {
		acked[ix] = writeIDs(t, ix, 0, 50)
	}
	cfg, _ := decisionConfigIndices(t, "", "manual", scope("midfreeze"))
	rewrite(t, cfg, "    cooldown: 0s\n", "    cooldown: 0s\n    promote_concurrency: 1\n")
	for _, ix := range idx {
		eventually(t, 60*time.Second, ix+" caught up", func() bool { return len(missing(t, lab.FollowerURL, ix, acked[ix])) == 0 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, drwatch, "promote", "--config", cfg, "--pair", "lab", "--yes")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stepsFile := filepath.Join(filepath.Dir(cfg), "lab.steps.jsonl")
	var resume func()
	eventually(t, 60*time.Second, "the first stop journaled done", func() bool {
		for _, s := range stepLines(t, stepsFile) {
			if s.Name == promote.StepStop && s.Status == promote.StepDone {
				resume = freezeLeader(t)
				return true
			}
		}
		return false
	})
	frozeAt := time.Since(start)
	// The promotion detaches the hung leader: the link is put back
	// before the freeze's own cleanup waits for it (cleanups run last
	// first).
	t.Cleanup(func() {
		if detached(t) {
			if _, err := theLab.Thaw(drlab.Leader); err != nil {
				t.Logf("thaw: %v", err)
			}
			useSeeds(t)
		}
	})
	err := cmd.Wait()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("drwatch promote with the leader frozen mid-way: %v\n%s", err, out.String())
	}
	t.Logf("CHAOS leader frozen mid-promotion (%s in): the promotion ended %s after it began", frozeAt.Round(time.Millisecond), took.Round(time.Millisecond))
	for _, s := range stepLines(t, stepsFile) {
		t.Logf("  step %s %s %s %s %.200s", s.At.Format("15:04:05.000"), s.Name, s.Target, s.Status, s.Detail)
	}
	for _, ix := range idx {
		standalone(t, ix)
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d acknowledged writes lost", ix, len(m))
		}
	}
	var fenced, detached bool
	for _, s := range stepLines(t, stepsFile) {
		fenced = fenced || (s.Name == promote.StepFence && s.Status == promote.StepDone)
		detached = detached || (s.Name == promote.StepDetach && s.Status == promote.StepDone)
	}
	if !fenced || !detached {
		t.Errorf("journal: fenced %v, detached %v; want both\n%s", fenced, detached, out.String())
	}
	resume()
	for _, ix := range idx {
		if !leaderRefusesWrites(t, ix) {
			t.Errorf("the thawed leader's %s takes writes: the fence did not hold", ix)
		}
	}
}

// stepLines reads the journal's step lines.
func stepLines(t *testing.T, path string) []promote.Step {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []promote.Step
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l struct {
			Step promote.Step `json:"step"`
		}
		if json.Unmarshal(line, &l) != nil {
			continue // a line being written
		}
		out = append(out, l.Step)
	}
	return out
}
