package aivenpromote

// The fakes these tests run against, and the documents they follow:
//   - fakeaiven (internal/testutil/fakeaiven) answers the Aiven API as
//     docs/aiven.md ("REST shapes", "What promote to standalone is") and
//     go-client-codegen v0.237.0 describe it: paths, the
//     "aivenv1 <token>" check, the error envelope, 2xx or 404 on delete.
//   - fakeos.CCRFollower (internal/testutil/fakeos) answers what the real
//     lab's OpenSearch 2.19.3 with the replication plugin answered
//     (fakeos/testdata/SOURCES.md: follower_settings*.json,
//     cluster_state_follower_block.json, cluster_state_after_stop.json);
//     its Unfollow is what Aiven does to the follower when the integration
//     is deleted (docs/aiven.md "What promote to standalone is":
//     replication stops and the follower accepts writes), without a _stop
//     request.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

const (
	project  = "acme"
	leaderS  = "os-prod"
	followS  = "os-dr"
	token    = "avn-test-token-7d2f9c4b1e8a"
	pairName = "orders"
)

var indices = []string{"logs-1", "orders-1", "orders-2"}

type env struct {
	t        *testing.T
	aiven    *fakeaiven.Server
	leader   *fakeos.Cluster
	follower *fakeos.CCRFollower
	dir      string
	j        *journal.Journal
	ccrID    string // the pair's integration
	decoyID  string // a CCR integration whose source is the follower: never ours
	logs     *observer.ObservedLogs
	log      *zap.Logger
	token    string // the token the executor uses
	apiURL   string
}

// newEnv is a project with the pair's two services, its CCR integration
// os-prod -> os-dr, and a CCR integration os-dr -> os-dr2 that the
// follower's integration list also shows. Deleting the pair's integration
// unfollows every index (as Aiven does), unless the test sets its own hook.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, aiven: fakeaiven.New(t, token), leader: fakeos.New(t), follower: fakeos.NewCCRFollower(t, indices...), token: token}
	e.apiURL = e.aiven.URL
	for _, s := range []string{leaderS, followS, "os-dr2"} {
		e.aiven.AddService(project, fakeaiven.Service{Name: s, Password: "svc-password-" + s})
	}
	e.ccrID = e.aiven.AddIntegration(project, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: leaderS, DestService: followS})
	e.decoyID = e.aiven.AddIntegration(project, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: followS, DestService: "os-dr2"})
	e.onDelete(0, indices...)
	e.dir = t.TempDir()
	j, err := journal.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	e.j = j
	core, logs := observer.New(zapcore.DebugLevel)
	e.log, e.logs = zap.New(core), logs
	return e
}

// onDelete makes the delete of the pair's integration unfollow these
// indices after delay (Aiven stops replication asynchronously).
func (e *env) onDelete(delay time.Duration, unfollow ...string) {
	e.aiven.OnDeleteCCR(func(_ context.Context, in fakeaiven.Integration) error {
		if in.DestService != followS {
			return nil
		}
		f := func() {
			for _, idx := range unfollow {
				e.follower.Unfollow(idx)
			}
		}
		if delay == 0 {
			f()
		} else {
			time.AfterFunc(delay, f)
		}
		return nil
	})
}

func (e *env) pair() *config.Pair {
	fol := e.follower.Endpoint()
	fol.LeaderAlias = "leader" // the lab's alias (fakeos follower settings "leader:<index>")
	return &config.Pair{
		Name: pairName, Leader: e.leader.Endpoint(), Follower: fol, Indices: []string{"*"},
		Aiven: &config.Aiven{Project: project, LeaderService: leaderS, FollowerService: followS,
			APIURL: e.apiURL, Token: config.NewSecret(e.token)},
	}
}

// executor is New's executor with short retries and bounds.
func (e *env) executor(j Journal) *Executor {
	e.t.Helper()
	if j == nil {
		j = e.j
	}
	x, err := newExecutor(e.pair(), j, e.log, aiven.Options{RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 10 * time.Millisecond, CallTimeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	x.GoneTimeout, x.WritableTimeout, x.PollInterval = 500*time.Millisecond, time.Second, 20*time.Millisecond
	return x
}

// start journals a new promotion the way the app does (no plan yet).
func (e *env) start() *promote.Promotion {
	e.t.Helper()
	rec := &journal.Record{Pair: pairName, State: policy.State{Phase: policy.Promoting, Since: time.Now(), Reasons: []string{"test"}}}
	rec.Promotion = &promote.Promotion{ID: "orders-p1", Started: time.Now(), By: "test"}
	if err := e.j.Save(rec); err != nil {
		e.t.Fatal(err)
	}
	return rec.Promotion
}

// reload is what a restarted drwatch reads.
func (e *env) reload() *promote.Promotion {
	e.t.Helper()
	rec, err := e.j.Load(pairName)
	if err != nil || rec == nil || rec.Promotion == nil {
		e.t.Fatalf("no promotion in the journal: %v", err)
	}
	return rec.Promotion
}

func (e *env) count(method, pathSuffix string) int {
	n := 0
	for _, r := range e.aiven.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, pathSuffix) {
			n++
		}
	}
	return n
}

func (e *env) deletes() int { return e.count(http.MethodDelete, "/integration/"+e.ccrID) }

// noStop: the executor never falls back to the replication API: no _stop,
// and no write of any kind, reaches the follower's OpenSearch.
func (e *env) noStop() {
	e.t.Helper()
	if n := e.follower.HitsContaining("/_stop"); n != 0 {
		e.t.Fatalf("%d _stop requests reached the follower's OpenSearch", n)
	}
	for _, m := range []string{"POST ", "PUT ", "DELETE "} {
		if n := e.follower.HitsContaining(m); n != 0 {
			e.t.Fatalf("%d %srequests reached the follower's OpenSearch", n, m)
		}
	}
}

func (e *env) present(id string) bool { _, ok := e.aiven.Integration(project, id); return ok }

func statuses(p *promote.Promotion, name promote.StepKind) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Name == name {
			out = append(out, s.Target+"="+s.Status.String())
		}
	}
	return out
}

func TestHappyPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *env)
	}{
		{"delete answers 200, replication stops at once", func(*env) {}},
		// docs/aiven.md "REST shapes": DELETE -> any 2xx ({"message"} or 204).
		{"delete answers 204", func(e *env) { e.aiven.DeleteAnswers204() }},
		// Aiven stops replication asynchronously: verify polls.
		{"replication stops 200 ms after the delete", func(e *env) { e.onDelete(200*time.Millisecond, indices...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			p := e.start()
			res, err := e.executor(nil).Run(context.Background(), p)
			if err != nil {
				t.Fatalf("Run: %v (%+v)", err, res)
			}
			if strings.Join(res.Promoted, ",") != strings.Join(indices, ",") || len(res.Failed)+len(res.Lost) != 0 {
				t.Fatalf("result %+v", res)
			}
			if e.present(e.ccrID) || !e.present(e.decoyID) {
				t.Fatalf("integration present %t, decoy present %t", e.present(e.ccrID), e.present(e.decoyID))
			}
			if e.deletes() != 1 || e.count(http.MethodDelete, "") != 1 {
				t.Fatalf("%d deletes of the pair's integration, %d in all", e.deletes(), e.count(http.MethodDelete, ""))
			}
			e.noStop()
			for _, idx := range indices {
				if e.follower.IsFollower(idx) {
					t.Fatalf("%s still a follower", idx)
				}
			}
			// Journaled before and after, and a restart sees it all.
			got := e.reload()
			if s := strings.Join(statuses(got, promote.StepDeleteIntegration), " "); s != e.ccrID+"=started "+e.ccrID+"=done" {
				t.Fatalf("delete steps %s", s)
			}
			if s, ok := got.Last(promote.StepVerify, ""); !ok || s.Status != promote.StepDone {
				t.Fatalf("verify step %+v", s)
			}
			if !promote.Changed(got) {
				t.Fatal("Changed is false after a delete")
			}
			// A second run does nothing more.
			if _, err := e.executor(nil).Run(context.Background(), got); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if e.count(http.MethodDelete, "") != 1 {
				t.Fatal("a rerun sent a second delete")
			}
		})
	}
}

// failingJournal fails at one step: after writing it (a crash right after
// the write, before the next action) or instead of writing it (a crash
// after the action, before its outcome is journaled).
type failingJournal struct {
	j     *journal.Journal
	name  promote.StepKind
	state promote.StepStatus
	write bool
	mu    sync.Mutex
	fired bool
}

func (f *failingJournal) AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range steps {
		if !f.fired && s.Name == f.name && s.Status == f.state {
			f.fired = true
			if f.write {
				if err := f.j.AppendSteps(pair, p, steps...); err != nil {
					return err
				}
			}
			return errors.New("crash")
		}
	}
	return f.j.AppendSteps(pair, p, steps...)
}

func TestResumeAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crash: after "delete started" was journaled, either before the
		// DELETE was sent (write: true, the crash is at the write) or
		// after Aiven applied it and before "done" was journaled.
		crashOn      promote.StepStatus
		write        bool
		firstDeletes int
		// On resume: the journaled integration is read first.
		resumeDeletes int
		detail        string
	}{
		{"crash after the delete, before done", promote.StepDone, false, 1, 0, "gone (HTTP 404) when resumed"},
		{"crash after started, before the delete was sent", promote.StepStarted, true, 0, 1, "deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.start()
			fj := &failingJournal{j: e.j, name: promote.StepDeleteIntegration, state: tc.crashOn, write: tc.write}
			if _, err := e.executor(fj).Run(context.Background(), p); err == nil || !strings.Contains(err.Error(), "crash") {
				t.Fatalf("first run: %v", err)
			}
			if e.deletes() != tc.firstDeletes {
				t.Fatalf("first run sent %d deletes", e.deletes())
			}
			// The restarted drwatch: a new executor and the journal only.
			p = e.reload()
			if s, _ := lastDelete(p); s.Status != promote.StepStarted || s.Target != e.ccrID {
				t.Fatalf("journal after the crash: %+v", s)
			}
			if !promote.Changed(p) {
				t.Fatal("a started delete must count as a change")
			}
			res, err := e.executor(nil).Run(context.Background(), p)
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if len(res.Promoted) != len(indices) {
				t.Fatalf("resume result %+v", res)
			}
			if got := e.deletes() - tc.firstDeletes; got != tc.resumeDeletes {
				t.Fatalf("resume sent %d deletes, want %d", got, tc.resumeDeletes)
			}
			if e.count(http.MethodGet, "/service/"+followS+"/integration") != 1 {
				t.Fatal("the resume looked for an integration again instead of using the journaled one")
			}
			if s, _ := lastDelete(e.reload()); s.Status != promote.StepDone || !strings.Contains(s.Detail, tc.detail) {
				t.Fatalf("delete step after resume: %+v", s)
			}
			if !e.present(e.decoyID) {
				t.Fatal("the decoy integration was deleted")
			}
			e.noStop()
		})
	}
}

// A 404 on the delete itself counts as done (the client's retry of a
// delete Aiven applied, or someone else's delete).
func TestDelete404IsDone(t *testing.T) {
	e := newEnv(t)
	x := e.executor(nil)
	x.API = deleteTwice{x.API}
	res, err := x.Run(context.Background(), e.start())
	if err != nil || len(res.Promoted) != len(indices) {
		t.Fatalf("Run: %v %+v", err, res)
	}
	if s, _ := lastDelete(e.reload()); s.Status != promote.StepDone || !strings.Contains(s.Detail, "already gone") {
		t.Fatalf("delete step %+v", s)
	}
}

// deleteTwice deletes, then deletes again and returns the second answer
// (404): what a retried delete whose first answer was lost sees.
type deleteTwice struct{ API }

func (d deleteTwice) DeleteIntegration(ctx context.Context, project, id string) error {
	if err := d.API.DeleteIntegration(ctx, project, id); err != nil {
		return err
	}
	return d.API.DeleteIntegration(ctx, project, id)
}

func TestAivenFailureFailsWithoutFallback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *env)
		// wantErr are in the error, in this order.
		wantErr []string
		// deleteSent: a delete reached Aiven (so the promotion changed).
		deleteSent bool
	}{
		{
			// docs/aiven.md "Errors and retries": 5xx gets 3 attempts, then transient.
			name:       "Aiven 502 during the delete",
			setup:      func(e *env) { e.aiven.Fail(http.MethodDelete, "/integration/", http.StatusBadGateway, 100, "") },
			wantErr:    []string{"delete integration", "the Aiven API is failing", "HTTP 502", "[after 3 attempts]", "never with the replication API's _stop"},
			deleteSent: true,
		},
		{
			// docs/aiven.md "Errors and retries": 401 when the token is refused (unauthorized).
			name:    "Aiven 401",
			setup:   func(e *env) { e.token = "a-revoked-token-0000" },
			wantErr: []string{"find the follower's integration", "refused the token", "HTTP 401", "Invalid token"},
		},
		{
			name: "Aiven 503 on the integration list",
			setup: func(e *env) {
				e.aiven.Fail(http.MethodGet, "/service/"+followS+"/integration", http.StatusServiceUnavailable, 100, "")
			},
			wantErr: []string{"find the follower's integration", "the Aiven API is failing", "HTTP 503"},
		},
		{
			name:    "Aiven unreachable",
			setup:   func(e *env) { e.apiURL = "http://127.0.0.1:1" },
			wantErr: []string{"find the follower's integration", "cannot reach the Aiven API"},
		},
		{
			// fakeaiven OnDeleteCCR: an error makes the delete fail with
			// 500 and keeps the integration.
			name: "Aiven fails to delete (500), keeps the integration",
			setup: func(e *env) {
				e.aiven.OnDeleteCCR(func(context.Context, fakeaiven.Integration) error { return errors.New("no") })
			},
			wantErr:    []string{"delete integration", "HTTP 500", "Failed to delete service integration"},
			deleteSent: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			p := e.start()
			_, err := e.executor(nil).Run(context.Background(), p)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			msg, at := err.Error(), 0
			for _, w := range tc.wantErr {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				at += i
			}
			e.noStop()
			if !e.present(e.ccrID) {
				t.Fatal("the integration is gone")
			}
			for _, idx := range indices {
				if !e.follower.IsFollower(idx) {
					t.Fatalf("%s was unfollowed", idx)
				}
			}
			got := e.reload()
			if promote.Changed(got) != tc.deleteSent {
				t.Fatalf("Changed = %t, want %t (steps %v)", promote.Changed(got), tc.deleteSent, statuses(got, promote.StepDeleteIntegration))
			}
			if tc.deleteSent {
				if s, _ := lastDelete(got); s.Status != promote.StepFailed {
					t.Fatalf("delete step %+v", s)
				}
			}
		})
	}
}

// After a failed delete, the next attempt (the policy's retry) reads the
// journaled integration and deletes it: one delete succeeds in all.
func TestRetryAfterFailedDelete(t *testing.T) {
	e := newEnv(t)
	e.aiven.Fail(http.MethodDelete, "/integration/", http.StatusBadGateway, 3, "")
	p := e.start()
	if _, err := e.executor(nil).Run(context.Background(), p); err == nil {
		t.Fatal("first attempt succeeded")
	}
	if _, err := e.executor(nil).Run(context.Background(), e.reload()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if e.present(e.ccrID) || e.deletes() != 4 { // 3 failed attempts of the first call, then one
		t.Fatalf("present %t, %d delete requests", e.present(e.ccrID), e.deletes())
	}
	e.noStop()
}

func TestNoMatchingIntegration(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *env)
		want  string
	}{
		{"no CCR integration has the follower as destination", func(e *env) { e.dropPairIntegration() },
			"no opensearch_cross_cluster_replication integration has service os-dr of project acme as its destination"},
		{"only a cross-cluster search integration", func(e *env) {
			e.dropPairIntegration()
			e.aiven.AddIntegration(project, fakeaiven.Integration{Type: "opensearch_cross_cluster_search", SourceService: leaderS, DestService: followS})
		}, "this is not a promotion"},
		{"the follower replicates from another service", func(e *env) {
			e.dropPairIntegration()
			e.aiven.AddService(project, fakeaiven.Service{Name: "os-other"})
			e.aiven.AddIntegration(project, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-other", DestService: followS})
		}, "replicates from service os-other, not from the pair's leader service os-prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			p := e.start()
			_, err := e.executor(nil).Run(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was deleted") {
				t.Fatalf("err = %v", err)
			}
			if n := e.count(http.MethodDelete, ""); n != 1 { // dropPairIntegration's own
				t.Fatalf("%d deletes", n)
			}
			if got := e.reload(); promote.Changed(got) {
				t.Fatal("a promotion that found nothing to delete counts as changed")
			}
			e.noStop()
		})
	}
}

// dropPairIntegration deletes the pair's integration through the API
// (without unfollowing), before the test's run.
func (e *env) dropPairIntegration() {
	e.t.Helper()
	e.aiven.OnDeleteCCR(nil)
	c, err := aiven.New(aiven.Options{Token: config.NewSecret(token), APIURL: e.aiven.URL})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.DeleteIntegration(context.Background(), project, e.ccrID); err != nil {
		e.t.Fatal(err)
	}
}

// keepAfterDelete acknowledges the delete without sending it: the
// integration stays visible, as if Aiven accepted the delete and never
// carried it out. Not a documented Aiven behaviour: the failure the
// bounded wait guards against.
type keepAfterDelete struct{ API }

func (keepAfterDelete) DeleteIntegration(context.Context, string, string) error { return nil }

func TestIntegrationStillPresentAfterDelete(t *testing.T) {
	e := newEnv(t)
	x := e.executor(nil)
	x.API = keepAfterDelete{x.API}
	start := time.Now()
	_, err := x.Run(context.Background(), e.start())
	if err == nil || !strings.Contains(err.Error(), "the deleted integration "+e.ccrID+" is not gone after 500ms: still present (active true") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the wait took %s", d)
	}
	if s, ok := e.reload().Last(promote.StepVerify, integrationTarget(e.ccrID)); !ok || s.Status != promote.StepFailed {
		t.Fatalf("verify step %+v", s)
	}
	e.noStop()
}

func TestFollowerIndexNotWritable(t *testing.T) {
	e := newEnv(t)
	e.onDelete(0, "orders-1", "orders-2") // logs-1 stays a follower
	res, err := e.executor(nil).Run(context.Background(), e.start())
	if err == nil || !strings.Contains(err.Error(), "1 of 3 indices not writable") ||
		!strings.Contains(err.Error(), "logs-1: still a follower index") {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(res.Promoted, ",") != "orders-1,orders-2" || res.Failed["logs-1"] == "" {
		t.Fatalf("result %+v", res)
	}
	if s, _ := e.reload().Last(promote.StepVerify, ""); s.Status != promote.StepFailed || !strings.Contains(s.Detail, "logs-1") {
		t.Fatalf("verify step %+v", s)
	}
	e.noStop()
	// The next attempt does not delete again; it verifies once more.
	e.follower.Unfollow("logs-1")
	if _, err := e.executor(nil).Run(context.Background(), e.reload()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if e.deletes() != 1 {
		t.Fatalf("%d deletes", e.deletes())
	}
}

// liveLeader makes the pair's leader answer its health, its sequence
// numbers equal to the follower's (nothing to catch up), and the write
// block with status blockStatus.
func (e *env) liveLeader(blockStatus int) {
	e.leader = fakeos.New(e.t)
	e.leader.Set(fakeos.RouteHealth, 200, fakeos.Health("green"))
	for _, idx := range indices {
		e.leader.SetSeqNos(idx, 9)
	}
	body := `{"acknowledged":true,"shards_acknowledged":true,"indices":[]}`
	if blockStatus != 200 {
		body = `{"error":{"type":"cluster_block_exception","reason":"blocked by: [FORBIDDEN/12/index read-only / allow delete (api)]"},"status":403}`
	}
	e.leader.Set("PUT /"+strings.Join(indices, ",")+"/_block/write", blockStatus, body)
}

// stepOrder is the journaled steps' name:status, in order, without the
// per-index plan and verify entries.
func stepOrder(p *promote.Promotion) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Target == "" || s.Name == promote.StepDeleteIntegration || strings.HasPrefix(s.Target, "integration:") {
			out = append(out, s.Name.String()+":"+s.Status.String())
		}
	}
	return out
}

// A leader that answers is write-blocked before the integration is
// deleted, as docs/aiven.md "Promotion through the Aiven API" says (step
// fence, before delete_integration); the fence is journaled first.
func TestFencesALiveLeaderBeforeTheDelete(t *testing.T) {
	e := newEnv(t)
	e.liveLeader(200)
	res, err := e.executor(nil).Run(context.Background(), e.start())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Fenced || !strings.Contains(res.Detail, "leader fenced") {
		t.Fatalf("result = %+v", res)
	}
	if n := e.leader.HitsContaining("/_block/write"); n != 1 {
		t.Fatalf("%d write blocks reached the leader, want 1", n)
	}
	got := strings.Join(stepOrder(e.reload()), " ")
	if want := "plan:done fence:started fence:done delete_integration:started delete_integration:done verify:done verify:done"; got != want {
		t.Fatalf("steps = %s\nwant    %s", got, want)
	}
	e.noStop()
}

// A leader that answers but refuses the write block fails the attempt
// before anything is deleted: both sides would be writable.
func TestALiveLeaderThatRefusesTheFenceDeletesNothing(t *testing.T) {
	e := newEnv(t)
	e.liveLeader(403)
	_, err := e.executor(nil).Run(context.Background(), e.start())
	if err == nil || !strings.Contains(err.Error(), "no integration is deleted under a live, unfenced leader") {
		t.Fatalf("err = %v", err)
	}
	if e.deletes() != 0 || !e.present(e.ccrID) {
		t.Fatal("the integration was deleted under a live, unfenced leader")
	}
	if s, _ := e.reload().Last(promote.StepFence, ""); s.Status != promote.StepFailed {
		t.Fatalf("fence step = %+v", s)
	}
}

// fence_leader: false skips the fence of a failover, and says so.
func TestFenceLeaderFalse(t *testing.T) {
	e := newEnv(t)
	e.liveLeader(200)
	x := e.executor(nil)
	x.FenceLeader = false
	res, err := x.Run(context.Background(), e.start())
	if err != nil || res.Fenced {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if n := e.leader.HitsContaining("/_block/write"); n != 0 {
		t.Fatalf("%d write blocks with fence_leader false", n)
	}
	if s, _ := e.reload().Last(promote.StepFence, ""); s.Status != promote.StepSkipped || s.Detail != "fence_leader is false" {
		t.Fatalf("fence step = %+v", s)
	}
}

// A graceful promotion (a planned move) fences, waits for the follower to
// hold everything the fenced leader has, then deletes the integration.
func TestGraceful(t *testing.T) {
	e := newEnv(t)
	e.liveLeader(200)
	e.leader.SetSeqNos("orders-1", 12) // the follower holds 9: behind until it catches up
	x := e.executor(nil)
	caught := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() { e.follower.SetSeqNos("orders-1", 12); close(caught) })
	p := e.start()
	p.Graceful = true
	if _, err := x.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-caught:
	default:
		t.Fatal("the integration was deleted before the follower caught up")
	}
	got := strings.Join(stepOrder(e.reload()), " ")
	if want := "plan:done fence:started fence:done catch_up:started catch_up:done delete_integration:started delete_integration:done verify:done verify:done"; got != want {
		t.Fatalf("steps = %s\nwant    %s", got, want)
	}
}

// A graceful promotion needs the fence: an unreachable leader fails it and
// nothing is deleted; without a catch-up check it is refused outright.
func TestGracefulNeedsTheFence(t *testing.T) {
	e := newEnv(t) // its leader answers no health: unreachable for the fence
	p := e.start()
	p.Graceful = true
	if _, err := e.executor(nil).Run(context.Background(), p); err == nil || !strings.Contains(err.Error(), "graceful promotion needs the leader fenced") {
		t.Fatalf("err = %v", err)
	}
	if e.deletes() != 0 {
		t.Fatal("deleted without the fence")
	}
	e2 := newEnv(t)
	x := e2.executor(nil)
	x.CatchUp = nil
	p = e2.start()
	p.Graceful = true
	if _, err := x.Run(context.Background(), p); !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("err = %v", err)
	}
	if len(e2.aiven.Requests()) != 0 {
		t.Fatal("a refused promotion called Aiven")
	}
}

// The token is never in an error, a log line or the journal, whatever
// fails (docs/aiven.md "Token and API address").
func TestTokenNeverLeaks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *env)
	}{
		{"success", func(*env) {}},
		{"retried 502s", func(e *env) { e.aiven.Fail(http.MethodDelete, "/integration/", http.StatusBadGateway, 100, "") }},
		{"401", func(e *env) { e.token = "wrong-token-5e6f7a8b9c" }},
		{"not gone", func(*env) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			x := e.executor(nil)
			if tc.name == "not gone" {
				x.API = keepAfterDelete{x.API}
			}
			_, err := x.Run(context.Background(), e.start())
			texts := []string{}
			if err != nil {
				texts = append(texts, err.Error())
			}
			for _, l := range e.logs.All() {
				enc := zapcore.NewMapObjectEncoder()
				for _, f := range l.Context {
					f.AddTo(enc)
				}
				texts = append(texts, l.Message, fmt.Sprint(enc.Fields))
			}
			_ = filepath.WalkDir(e.dir, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(path)
					texts = append(texts, string(b))
				}
				return nil
			})
			if tc.name == "retried 502s" && e.logs.FilterMessage("Aiven API call failed; retrying").Len() == 0 {
				t.Fatal("the retries were not logged")
			}
			for _, s := range texts {
				if strings.Contains(s, e.token) || strings.Contains(s, token) {
					t.Fatalf("the token leaked: %q", s)
				}
			}
		})
	}
}

func TestFenceOldLeader(t *testing.T) {
	e := newEnv(t)
	// fakeos/testdata/lab/block_write_ack.json: PUT {index}/_block/write.
	b, err := fakeos.ReadFixture("lab/block_write_ack.json")
	if err != nil {
		t.Fatal(err)
	}
	e.leader.Set("PUT /logs-1,orders-1,orders-2/_block/write", 200, string(b))
	p := e.start()
	if _, err := e.executor(nil).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got, err := e.executor(nil).FenceOldLeader(context.Background(), e.reload())
	if err != nil || got != "write-blocked 3 leader indices" {
		t.Fatalf("FenceOldLeader = %q, %v", got, err)
	}
	if e.leader.Hits("PUT /logs-1,orders-1,orders-2/_block/write") != 1 {
		t.Fatal("no write block reached the leader")
	}
	if _, err := e.executor(nil).FenceOldLeader(context.Background(), &promote.Promotion{}); err == nil {
		t.Fatal("fenced without a plan")
	}
}

func TestNew(t *testing.T) {
	e := newEnv(t)
	p := e.pair()
	x, err := New(p, e.j, nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.Project != project || x.LeaderService != leaderS || x.FollowerService != followS || x.Alias != "leader" {
		t.Fatalf("executor %+v", x)
	}
	var _ promote.Executor = x
	p.Aiven.Token = config.Secret{}
	if _, err := New(p, e.j, nil); !errors.Is(err, aiven.ErrNoToken) {
		t.Fatalf("no token: %v", err)
	}
	p.Aiven = nil
	if _, err := New(p, e.j, nil); err == nil || !strings.Contains(err.Error(), "not an Aiven pair") {
		t.Fatalf("no aiven block: %v", err)
	}
}

// The no-_stop check is not vacuous: a _stop, for a known index or not,
// is counted.
func TestNoStopCheckCountsStops(t *testing.T) {
	e := newEnv(t)
	for _, idx := range []string{"orders-1", "unknown"} {
		rsp, err := http.Post(e.follower.URL()+"/_plugins/_replication/"+idx+"/_stop", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		_ = rsp.Body.Close()
	}
	if n := e.follower.HitsContaining("/_stop"); n != 2 {
		t.Fatalf("HitsContaining(/_stop) = %d", n)
	}
}
