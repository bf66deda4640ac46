//go:build e2e && ccr

package e2e

// An Aiven pair against the real lab. Aiven's API cannot run here, so the
// Aiven side is fakeaiven (internal/testutil/fakeaiven: the paths, the
// "aivenv1 <token>" check, ?limit=999, the JSON and error shapes of
// docs/aiven.md "REST shapes" and go-client-codegen v0.237.0),
// and everything else is real: the leader and follower clusters with the
// replication plugin, the killed leader, the acknowledged writes. The
// fake's delete of the CCR integration stops replication on the real
// follower, a little later, as Aiven does (docs/aiven.md "What promote to
// standalone is": replication stops and the follower accepts writes,
// asynchronously), so drwatch's verification reads real OpenSearch.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
)

const (
	aivenProject  = "acme"
	aivenLeader   = "os-prod"
	aivenFollower = "os-dr"
	aivenToken    = "avn-e2e-token-9f3c2a7d61b84e05"
)

// aivenLab is a fake Aiven project whose pair is the real lab.
type aivenLab struct {
	api      *fakeaiven.Server
	ccrID    string
	mu       sync.Mutex
	stopErrs []error
	stopping sync.WaitGroup
}

// newAivenLab describes the lab as an Aiven project: services os-prod
// (leader) and os-dr (follower), the CCR integration between them, and an
// unrelated integration. Deleting the CCR integration stops replication of
// indices on the real follower 500 ms later.
func newAivenLab(t *testing.T, indices []string) *aivenLab {
	t.Helper()
	a := &aivenLab{api: fakeaiven.New(t, aivenToken)}
	a.api.AddService(aivenProject, fakeaiven.Service{Name: aivenLeader, Version: "2.19.3"})
	a.api.AddService(aivenProject, fakeaiven.Service{Name: aivenFollower, Version: "2.19.3"})
	a.api.AddService(aivenProject, fakeaiven.Service{Name: "pg-prod", Type: "pg"})
	a.ccrID = a.api.AddIntegration(aivenProject, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: aivenLeader, DestService: aivenFollower})
	a.api.AddIntegration(aivenProject, fakeaiven.Integration{Type: "metrics", SourceService: aivenFollower, DestService: "pg-prod"})
	a.api.OnDeleteCCR(func(_ context.Context, in fakeaiven.Integration) error {
		if in.DestService != aivenFollower {
			return nil
		}
		a.stopping.Go(func() {
			time.Sleep(500 * time.Millisecond)
			for _, ix := range indices {
				if err := stopOnFollower(ix); err != nil {
					a.mu.Lock()
					a.stopErrs = append(a.stopErrs, err)
					a.mu.Unlock()
				}
			}
		})
		return nil
	})
	t.Cleanup(a.stopping.Wait)
	return a
}

// stopOnFollower is what Aiven does to each follower index when the
// integration is deleted.
func stopOnFollower(index string) error {
	req, _ := http.NewRequest(http.MethodPost, lab.FollowerURL+"/_plugins/_replication/"+index+"/_stop", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	asAdmin(req)
	resp, err := labHTTP().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("stop %s: HTTP %d %s", index, resp.StatusCode, b)
	}
	return nil
}

// deletes counts DELETEs of the pair's integration the fake received.
func (a *aivenLab) deletes() int {
	n := 0
	for _, r := range a.api.Requests() {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.Path, "/integration/"+a.ccrID) {
			n++
		}
	}
	return n
}

// aivenConfig is decisionConfigIndices' auto-mode config of the lab with
// an aiven block pointing at the fake, the token in $AIVEN_TOKEN_E2E.
// Its Aiven probes run every second, so that readings are taken during an
// outage.
func aivenConfig(t *testing.T, a *aivenLab, indices string) string {
	t.Helper()
	cfg, _ := decisionConfigIndices(t, "", "auto", indices)
	rewrite(t, cfg, "    policy: fast\n", fmt.Sprintf("    policy: fast\n    aiven:\n      project: %s\n      leader_service: %s\n      follower_service: %s\n      token_env: AIVEN_TOKEN_E2E\n      api_url: %s\n      probe_interval: 1s\n",
		aivenProject, aivenLeader, aivenFollower, a.api.URL))
	return cfg
}

// transitions is the lab pair's journaled history with its reasons.
func transitions(t *testing.T, cfg string) []journal.Transition {
	t.Helper()
	rec, err := journal.Read(filepath.Dir(cfg), "lab")
	if err != nil || rec == nil {
		t.Fatalf("journal: %v", err)
	}
	return rec.History
}

// reasonsWith returns the first journaled reason containing s.
func reasonsWith(t *testing.T, cfg, s string) (string, bool) {
	t.Helper()
	for _, h := range transitions(t, cfg) {
		for _, r := range h.Reasons {
			if strings.Contains(r, s) {
				return r, true
			}
		}
	}
	return "", false
}

// pages is a webhook receiver: every event body it was sent.
type pages struct {
	url  string
	mu   sync.Mutex
	body []string
}

func pageReceiver(t *testing.T) *pages {
	t.Helper()
	p := &pages{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.body = append(p.body, string(b))
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// events returns the events received, parsed.
func (p *pages) events(t *testing.T) []map[string]any {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, b := range p.body {
		var ev map[string]any
		if err := json.Unmarshal([]byte(b), &ev); err != nil {
			t.Fatalf("a webhook body is not JSON: %v: %s", err, b)
		}
		out = append(out, ev)
	}
	return out
}

func (p *pages) event(t *testing.T, name string) (map[string]any, bool) {
	for _, ev := range p.events(t) {
		if ev["event"] == name {
			return ev, true
		}
	}
	return nil, false
}

// promotionSteps is the journaled promotion of the lab pair.
func promotionSteps(t *testing.T, cfg string) []promote.Step {
	t.Helper()
	rec, err := journal.Read(filepath.Dir(cfg), "lab")
	if err != nil || rec == nil || rec.Promotion == nil {
		t.Fatalf("no promotion in the journal: %v", err)
	}
	return rec.Promotion.Steps
}

// noTokenAnywhere: the Aiven token is in none of what drwatch shows or
// writes: its logs, status (JSON, text page), metrics, the events it sent,
// its state_dir.
func noTokenAnywhere(t *testing.T, d *daemon, cfg string, p *pages) {
	t.Helper()
	where := map[string]string{"logs": d.logs.String()}
	for _, path := range []string{"/api/v1/status", "/metrics", "/"} {
		_, where[path] = d.get(t, path)
	}
	p.mu.Lock()
	where["events"] = strings.Join(p.body, "\n")
	p.mu.Unlock()
	_ = filepath.WalkDir(filepath.Dir(cfg), func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && filepath.Base(path) != "drwatch.yml" {
			b, _ := os.ReadFile(path)
			where[path] = string(b)
		}
		return nil
	})
	for name, s := range where {
		if strings.Contains(s, aivenToken) {
			t.Errorf("the Aiven token appears in %s", name)
		}
	}
}

// aivenRun is an Aiven pair's run on the real lab: n replicated indices
// with their acknowledged writes, the fake Aiven project, a webhook
// receiver for the pages, and the daemon, started and caught up.
type aivenRun struct {
	idx   []string
	acked map[string][]string
	a     *aivenLab
	cfg   string
	p     *pages
	d     *daemon
}

func startAivenRun(t *testing.T, prefix string, n, shards, docs int) aivenRun {
	t.Helper()
	r := aivenRun{idx: replicated(t, prefix, n, shards), acked: map[string][]string{}}
	for _, ix := range r.idx {
		r.acked[ix] = writeIDs(t, ix, 0, docs)
	}
	t.Setenv("AIVEN_TOKEN_E2E", aivenToken)
	r.a = newAivenLab(t, r.idx)
	r.cfg = aivenConfig(t, r.a, scope(prefix))
	r.p = pageReceiver(t)
	withHooks(t, r.cfg, fmt.Sprintf("  - name: pager\n    type: webhook\n    url: %s\n    events: [leader_down, promotion_started, promotion_succeeded, promotion_failed]\n", r.p.url))
	r.d = startDaemonWith(t, drwatch, nil, r.cfg, true)
	for _, ix := range r.idx {
		r.d.waitMetric(t, 60*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	r.d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	return r
}

// The leader killed, auto mode, an Aiven pair: drwatch promotes through
// the Aiven API - one DELETE of the CCR integration, no _stop of its own -
// and the real follower is writable with every acknowledged write. The
// fake Aiven API still reports the leader service RUNNING with every node
// running (its control plane has not noticed): drwatch waits 2 x
// leader_down_after before declaring the leader down, and says so.
func TestAivenKilledLeaderPromotesThroughTheAivenAPI(t *testing.T) {
	r := startAivenRun(t, "aiven", 2, 2, 200)
	idx, acked, a, cfg, p, d := r.idx, r.acked, r.a, r.cfg, r.p, r.d

	killed := time.Now()
	killLeader(t)
	var waiting string
	eventually(t, 15*time.Second, "drwatch saying it waits longer because Aiven reports the leader up", func() bool {
		for _, r := range d.decision(t).Reasons {
			if strings.Contains(r, "Aiven reports leader service "+aivenLeader+" RUNNING") && strings.Contains(r, "waiting 2 x leader_down_after (6s)") {
				waiting = r
				return true
			}
		}
		return false
	})
	t.Logf("while suspect: %s", waiting)
	d.waitMetric(t, 90*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	t.Logf("MEASURE aiven: promoted through the Aiven API %s after SIGKILL", time.Since(killed).Round(time.Millisecond))
	// leader_down_after is 3s: with Aiven reporting the leader up, not
	// before 6s of failed probes (the first fails up to an interval after
	// the kill).
	if detect := leaderDownAt(t, cfg).Sub(killed); detect < 6*time.Second || detect > 6*time.Second+3*500*time.Millisecond+500*time.Millisecond {
		t.Errorf("leader_down %s after SIGKILL, want 2 x leader_down_after (6s) plus at most the probing's slack", detect)
	} else {
		t.Logf("MEASURE aiven: leader_down %s after SIGKILL (Aiven reporting the leader RUNNING)", detect.Round(time.Millisecond))
	}
	if r, ok := reasonsWith(t, cfg, "the usual rules apply"); !ok || !strings.Contains(r, "Aiven reports leader service "+aivenLeader+" RUNNING") {
		t.Errorf("the journaled leader_down does not say why it came after 2 x leader_down_after: %q", r)
	}
	a.stopping.Wait()
	if len(a.stopErrs) > 0 {
		t.Fatalf("the fake's replication stop failed: %v", errors.Join(a.stopErrs...))
	}

	if _, ok := a.api.Integration(aivenProject, a.ccrID); ok {
		t.Error("promoted, yet the CCR integration is still there")
	}
	if n := a.deletes(); n != 1 {
		t.Errorf("%d DELETEs of the integration, want exactly 1", n)
	}
	var names, timing []string
	steps := promotionSteps(t, cfg)
	for _, s := range steps {
		names = append(names, s.Name.String()+":"+s.Status.String())
		if s.Target == "" || s.Name == promote.StepDeleteIntegration || strings.HasPrefix(s.Target, "integration:") {
			timing = append(timing, fmt.Sprintf("%s:%s +%s", s.Name, s.Status, s.At.Sub(killed).Round(time.Millisecond)))
		}
		if s.Name == promote.StepStop {
			t.Errorf("the Aiven pair's promotion journaled a replication _stop: %+v", s)
		}
	}
	t.Logf("MEASURE aiven: steps after SIGKILL: %s", strings.Join(timing, ", "))
	if !strings.Contains(strings.Join(names, " "), "delete_integration:started delete_integration:done") {
		t.Errorf("steps = %v", names)
	}
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost: %v", ix, len(m), len(acked[ix]), m[:min(len(m), 5)])
		}
		standalone(t, ix)
	}
	if ev, ok := p.event(t, "promotion_succeeded"); !ok {
		t.Error("no promotion_succeeded event was sent")
	} else if s := fmt.Sprint(ev); !strings.Contains(s, "Aiven integration "+a.ccrID+" deleted") {
		t.Errorf("promotion_succeeded does not say what was done: %s", s)
	}
	noTokenAnywhere(t, d, cfg, p)
}

// The Aiven API answers 503 to everything while the real leader dies:
// drwatch cannot promote and says why (state failed, the reason names the
// Aiven API and its answer), pages (promotion_failed), retries each call
// within its bounds (at most 3 attempts) and the promotion on its backoff,
// and never falls back to the replication API: every index is still a
// syncing-or-paused follower. When the API answers again, the next retry
// promotes, with every acknowledged write.
func TestAivenAPIDownDuringLeaderFailure(t *testing.T) {
	r := startAivenRun(t, "avndown", 1, 1, 100)
	idx, acked, a, cfg, p, d := r.idx, r.acked, r.a, r.cfg, r.p, r.d

	a.api.Fail("", "", http.StatusServiceUnavailable, 1<<30, "")
	before := len(a.api.Requests())
	killed := time.Now()
	killLeader(t)
	d.waitMetric(t, 90*time.Second, `drwatch_pair_state{pair="lab",state="failed"}`, "1")
	// The Aiven API's failure changes nothing in the decision: leader_down
	// as without Aiven (leader_down_after 3s plus the probing's slack).
	if detect := leaderDownAt(t, cfg).Sub(killed); detect > 3*time.Second+3*500*time.Millisecond+500*time.Millisecond {
		t.Errorf("leader_down %s after SIGKILL with the Aiven API down: slower than without Aiven", detect)
	}
	if r, ok := reasonsWith(t, cfg, "Aiven API"); !ok || !strings.Contains(r, "its view is not used") {
		t.Errorf("no journaled reason says the Aiven API's view is not used: %q", r)
	}
	why := strings.Join(d.decision(t).Reasons, " ")
	t.Logf("failed state: %s", why)
	for _, want := range []string{"Aiven API", "503", "never with the replication API's _stop"} {
		if !strings.Contains(why, want) {
			t.Errorf("the reasons do not say %q: %s", want, why)
		}
	}
	eventually(t, 30*time.Second, "a promotion_failed page", func() bool { _, ok := p.event(t, "promotion_failed"); return ok })
	if ev, _ := p.event(t, "promotion_failed"); !strings.Contains(fmt.Sprint(ev), "Aiven API") {
		t.Errorf("promotion_failed does not say why: %v", ev)
	}
	// Bounded retries: the attempt made at most 3 HTTP attempts per call.
	calls := map[string]int{}
	for _, r := range a.api.Requests()[before:] {
		if strings.Contains(r.Path, "/integration") {
			calls[r.Method+" "+r.Path]++
		}
	}
	for c, n := range calls {
		if n > 3 {
			t.Errorf("%s was attempted %d times in one promotion attempt (bound: 3)", c, n)
		}
	}
	if a.deletes() != 0 {
		t.Errorf("%d DELETEs answered 503 yet counted", a.deletes())
	}
	// No fallback: the follower indices are untouched followers.
	for _, ix := range idx {
		if !isFollower(t, ix) {
			t.Errorf("%s is no longer a follower index: something fell back to the replication API", ix)
		}
	}

	a.api.ClearFaults()
	d.waitMetric(t, 90*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	a.stopping.Wait()
	if n := a.deletes(); n != 1 {
		t.Errorf("%d DELETEs of the integration, want exactly 1", n)
	}
	for _, ix := range idx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost", ix, len(m), len(acked[ix]))
		}
		standalone(t, ix)
	}
	noTokenAnywhere(t, d, cfg, p)
}

// `drwatch promote` of an Aiven pair killed right after each step is
// journaled, then run again: the second run finishes the promotion from the
// journal; the integration is deleted by exactly one DELETE in all (a crash
// between "delete started" and the DELETE leaves it to the resumed run,
// which reads the integration first); the leader is fenced; every index is
// standalone.
func TestAivenCrashAfterEachStepResumes(t *testing.T) {
	bin := crashBinary(t)
	t.Setenv("AIVEN_TOKEN_E2E", aivenToken)
	for _, step := range []string{"plan:done", "fence:done", "delete_integration:started", "delete_integration:done", "verify:done"} {
		t.Run(step, func(t *testing.T) {
			prefix := "avc" + strings.NewReplacer("_", "", ":", "").Replace(step)
			idx := replicated(t, prefix, 2, 1)
			t.Cleanup(func() {
				for _, ix := range idx {
					osDo(t, lab.LeaderURL, "PUT", "/"+ix+"/_settings", `{"index.blocks.write":false}`)
				}
			})
			a := newAivenLab(t, idx)
			cfg := aivenConfig(t, a, scope(prefix))
			rewrite(t, cfg, "    mode: auto\n", "    mode: manual\n")
			if code, out := runWith(t, bin, []string{"DRWATCH_CRASH_AFTER_STEP=" + step}, "promote", "--config", cfg, "--pair", "lab", "--yes"); code != 99 {
				t.Fatalf("the crashhook build did not exit after %s: exit %d\n%s", step, code, out)
			}
			if code, out, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--yes"); code != 0 {
				t.Fatalf("resume: exit %d\n%s%s", code, out, errOut)
			}
			a.stopping.Wait()
			if n := a.deletes(); n != 1 {
				t.Errorf("%d DELETEs of the integration in all, want exactly 1", n)
			}
			if _, ok := a.api.Integration(aivenProject, a.ccrID); ok {
				t.Error("the integration is still there")
			}
			for _, ix := range idx {
				standalone(t, ix)
				if !leaderRefusesWrites(t, ix) {
					t.Errorf("the leader's %s is not fenced", ix)
				}
			}
		})
	}
}
