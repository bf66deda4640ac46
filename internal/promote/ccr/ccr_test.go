package ccr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/steps"
)

// ---- fakes ----------------------------------------------------------------

// fakeLeader is the old leader: up or down, and the indices it write-blocked.
type fakeLeader struct {
	mu          sync.Mutex
	down        bool
	hung        bool          // health waits until its context ends (SIGSTOP)
	delay       time.Duration // health answers this late (a slow leader)
	healthErr   error         // health answers with this error (alive, refusing)
	blockErr    error
	healthCalls int
	blocked     []string
}

func (l *fakeLeader) ClusterHealth(ctx context.Context) (opensearch.Health, error) {
	l.mu.Lock()
	hung, delay := l.hung, l.delay
	l.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return opensearch.Health{}, &opensearch.Error{Op: "cluster health", Class: observe.ClassTimeout, Err: ctx.Err()}
		}
	}
	if hung {
		<-ctx.Done()
		return opensearch.Health{}, &opensearch.Error{Op: "cluster health", Class: observe.ClassTimeout, Detail: "no answer before the probe timeout", Err: ctx.Err()}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.healthCalls++
	if l.healthErr != nil {
		return opensearch.Health{}, l.healthErr
	}
	if l.down {
		return opensearch.Health{}, &opensearch.Error{Op: "cluster health", Class: observe.ClassConnRefused, Detail: "connection refused"}
	}
	return opensearch.Health{ClusterName: "leader", Status: "green", Nodes: 1}, nil
}

func (l *fakeLeader) BlockWrite(ctx context.Context, indices []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return &opensearch.Error{Op: "write-block leader indices", Class: observe.ClassConnRefused}
	}
	if l.blockErr != nil {
		return l.blockErr
	}
	l.blocked = append(l.blocked, indices...)
	return nil
}

type index struct {
	open   bool
	blocks []opensearch.Block
}

var replicationBlock = opensearch.Block{ID: opensearch.ReplicationBlockID, Description: "index read-only(cross-cluster-replication)"}

// fakeFollower models the replication plugin on the follower: follower
// indices carry the replication block until _stop; _stop is not
// idempotent; autofollow rules exist until deleted.
type fakeFollower struct {
	mu        sync.Mutex
	followers map[string]string // follower index -> leader index
	indices   map[string]*index // every index of the cluster
	rules     map[string]string // autofollow rule name -> pattern

	// Injected behaviour.
	stopErr    map[string]error  // StopReplication fails, nothing changes
	lostAnswer map[string]bool   // the stop happens, but the answer is an error (e.g. a 504 after the fact)
	brokenStop map[string]string // "block": block left behind; "closed": left closed; "noop": nothing changes
	deleteErr  error             // DeleteAutofollow fails
	// autofollowCreates are follower indices a rule starts just before it
	// is deleted (after the plan was fixed).
	autofollowCreates map[string]string
	stopDelay         time.Duration
	onStop            func(idx string) // called as a stop begins
	restoring         map[string]bool  // indices whose primary is not started yet

	openErr   error             // OpenIndex fails
	stopsHang func() bool       // stops wait (index closed) while the remote settings exist
	remote    map[string]string // the remote alias's cluster settings, as JSON values
	onDetach  func()            // called (locked) when the remote settings are cleared

	// The cluster's membership: Topology answers manager and nodes (or
	// topologyErr); staleEngine marks indices whose stop left a shard on
	// the replication engine (writes refused until closed and reopened);
	// unassigned counts an index's primaries not active.
	manager     string
	nodes       map[string]string
	topologyErr error
	staleEngine map[string]bool
	unassigned  map[string]int
	// healthless are indices the health answer leaves out.
	healthless map[string]bool
	closeErr   error

	// Observations.
	closedAll    [][]string // each CloseIndices call
	openedAll    [][]string // each OpenIndices call
	cleared      []string
	opened       []string
	stopCalls    map[string]int
	inFlight     int
	maxInFlight  int
	deleted      []string // "alias/name"
	listCalls    int
	deleteCalled int
}

func newFollower(n int) *fakeFollower {
	f := &fakeFollower{
		followers:         map[string]string{},
		indices:           map[string]*index{},
		rules:             map[string]string{"orders-rule": "orders-*", "logs-rule": "logs-*"},
		stopErr:           map[string]error{},
		lostAnswer:        map[string]bool{},
		brokenStop:        map[string]string{},
		autofollowCreates: map[string]string{},
		stopCalls:         map[string]int{},
		restoring:         map[string]bool{},
		remote:            map[string]string{"cluster.remote.leader.seeds": `["10.0.0.1:9300"]`},
		manager:           "n1",
		nodes:             map[string]string{"n1": "follower", "n2": "follower-1", "n3": "follower-2"},
		staleEngine:       map[string]bool{},
		unassigned:        map[string]int{},
	}
	for i := range n {
		f.addFollower(fmt.Sprintf("orders-%02d", i), fmt.Sprintf("leader-orders-%02d", i))
	}
	f.indices["plain"] = &index{open: true} // not a follower: never in scope
	return f
}

func (f *fakeFollower) addFollower(name, leader string) {
	f.followers[name] = leader
	f.indices[name] = &index{open: true, blocks: []opensearch.Block{replicationBlock}}
}

func (f *fakeFollower) resetCounters() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopCalls = map[string]int{}
	f.maxInFlight = 0
	f.deleted = nil
	f.listCalls = 0
}

func (f *fakeFollower) FollowerIndices(ctx context.Context, patterns []string) (map[string]opensearch.FollowerIndex, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls++
	out := map[string]opensearch.FollowerIndex{}
	for idx, leader := range f.followers {
		alias := "leader" // "<alias>:<index>" follows another remote cluster
		if a, name, ok := strings.Cut(leader, ":"); ok {
			alias, leader = a, name
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, idx); ok {
				out[idx] = opensearch.FollowerIndex{LeaderAlias: alias, LeaderIndex: leader, Shards: 1}
			}
		}
	}
	return out, nil
}

func (f *fakeFollower) AutofollowStats(ctx context.Context) (opensearch.AutofollowStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st opensearch.AutofollowStats
	names := make([]string, 0, len(f.rules))
	for n := range f.rules {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		st.Rules = append(st.Rules, opensearch.AutofollowRule{Name: n, Pattern: f.rules[n]})
	}
	return st, nil
}

func (f *fakeFollower) DeleteAutofollow(ctx context.Context, alias, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteCalled++
	// The rule fired once more before it went away.
	for idx, leader := range f.autofollowCreates {
		f.addFollower(idx, leader)
		delete(f.autofollowCreates, idx)
	}
	if f.deleteErr != nil {
		return f.deleteErr
	}
	if _, ok := f.rules[name]; !ok {
		// The plugin answers an unknown rule with HTTP 500.
		return &opensearch.Error{Op: "delete autofollow rule " + name, Class: observe.ClassHTTP5xx, Status: 500}
	}
	delete(f.rules, name)
	f.deleted = append(f.deleted, alias+"/"+name)
	return nil
}

func notReplicating(idx string) error {
	// What the real client returns for the plugin's 400.
	return errors.Join(opensearch.ErrNotReplicating, &opensearch.Error{
		Op: "stop replication of " + idx, Class: observe.ClassHTTP4xx, Status: 400,
		Type: "illegal_argument_exception", Detail: "No replication in progress for index:" + idx,
	})
}

func (f *fakeFollower) StopReplication(ctx context.Context, idx string) error {
	if f.onStop != nil {
		f.onStop(idx)
	}
	f.mu.Lock()
	hang := f.stopsHang != nil && f.stopsHang() && len(f.remote) > 0 && f.followers[idx] != ""
	if hang {
		// The plugin under a hung leader: it closes the index, then
		// waits on the leader until its connection goes.
		f.indices[idx].open = false
	}
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return &opensearch.Error{Op: "stop replication of " + idx, Class: observe.ClassTimeout, Detail: "no answer before the probe timeout", Err: ctx.Err()}
	}
	f.mu.Lock()
	f.stopCalls[idx]++
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	delay := f.stopDelay
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	if err := f.stopErr[idx]; err != nil {
		return err
	}
	if _, ok := f.followers[idx]; !ok {
		return notReplicating(idx)
	}
	ix := f.indices[idx]
	switch f.brokenStop[idx] {
	case "noop":
		return nil
	case "block":
		delete(f.followers, idx)
		return nil
	case "closed":
		delete(f.followers, idx)
		ix.blocks = nil
		ix.open = false
		return nil
	}
	delete(f.followers, idx)
	ix.blocks = nil
	ix.open = true
	if f.lostAnswer[idx] {
		return &opensearch.Error{Op: "stop replication of " + idx, Class: observe.ClassHTTP5xx, Status: 504}
	}
	return nil
}

func (f *fakeFollower) RemoteClusterSettings(ctx context.Context, alias string) (map[string]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, v := range f.remote {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

func (f *fakeFollower) DetachRemoteCluster(ctx context.Context, alias string, keys []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleared = append(f.cleared, keys...)
	for _, k := range keys {
		delete(f.remote, k)
	}
	if f.onDetach != nil {
		f.onDetach()
	}
	return nil
}

func (f *fakeFollower) OpenIndex(ctx context.Context, idx string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, idx)
	if f.openErr != nil {
		return f.openErr
	}
	if ix, ok := f.indices[idx]; ok {
		ix.open = true
		return nil
	}
	return &opensearch.Error{Op: "open " + idx, Class: observe.ClassHTTP4xx, Status: 404, Type: "index_not_found_exception"}
}

func (f *fakeFollower) Topology(ctx context.Context) (opensearch.Topology, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.topologyErr != nil {
		return opensearch.Topology{}, f.topologyErr
	}
	return opensearch.Topology{Manager: f.manager, Nodes: maps.Clone(f.nodes)}, nil
}

func (f *fakeFollower) CloseIndices(ctx context.Context, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closedAll = append(f.closedAll, slices.Clone(names))
	if f.closeErr != nil {
		return f.closeErr
	}
	for _, n := range names {
		ix, ok := f.indices[n]
		if !ok {
			return &opensearch.Error{Op: "close " + n, Class: observe.ClassHTTP4xx, Status: 404, Type: "index_not_found_exception"}
		}
		ix.open = false
	}
	return nil
}

func (f *fakeFollower) OpenIndices(ctx context.Context, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.openedAll = append(f.openedAll, slices.Clone(names))
	if f.openErr != nil {
		return f.openErr
	}
	for _, n := range names {
		ix, ok := f.indices[n]
		if !ok {
			return &opensearch.Error{Op: "open " + n, Class: observe.ClassHTTP4xx, Status: 404, Type: "index_not_found_exception"}
		}
		if !ix.open {
			delete(f.staleEngine, n) // re-created on its current settings
		}
		ix.open = true
	}
	return nil
}

func (f *fakeFollower) IndicesHealth(ctx context.Context, names []string) (map[string]opensearch.IndexHealth, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]opensearch.IndexHealth{}
	for _, n := range names {
		if _, ok := f.indices[n]; ok && !f.healthless[n] {
			h := opensearch.IndexHealth{Status: "green", Shards: 1, ActivePrimaries: 1}
			if f.unassigned[n] > 0 {
				h.Status, h.ActivePrimaries, h.Unassigned = "red", 1-f.unassigned[n], f.unassigned[n]
			}
			out[n] = h
		}
	}
	return out, nil
}

func (f *fakeFollower) IndexStates(ctx context.Context, names []string) (map[string]opensearch.IndexState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]opensearch.IndexState{}
	for _, n := range names {
		if ix, ok := f.indices[n]; ok {
			out[n] = opensearch.IndexState{Exists: true, Open: ix.open, Blocks: slices.Clone(ix.blocks)}
		}
	}
	return out, nil
}

func (f *fakeFollower) ShardSeqNos(ctx context.Context, names []string) (map[string]opensearch.IndexSeqNos, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]opensearch.IndexSeqNos{}
	for _, n := range names {
		if _, ok := f.indices[n]; ok && !f.restoring[n] {
			out[n] = opensearch.IndexSeqNos{0: {MaxSeqNo: 9, LocalCheckpoint: 9, GlobalCheckpoint: 9}}
		}
	}
	return out, nil
}

func (f *fakeFollower) isFollowerIndex(idx string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.followers[idx]
	return ok
}

func (f *fakeFollower) calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.stopCalls)
}

// ---- helpers --------------------------------------------------------------

type lab struct {
	j        *journal.Journal
	leader   *fakeLeader
	follower *fakeFollower
}

func newLab(t *testing.T, n int) *lab {
	t.Helper()
	j, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return &lab{j: j, leader: &fakeLeader{}, follower: newFollower(n)}
}

func (l *lab) executor() *Executor {
	return &Executor{
		Pair: "orders", Leader: l.leader, Follower: l.follower, Alias: "leader",
		Indices: []string{"orders-*", "logs-*"}, Concurrency: 4, FenceLeader: true,
		Journal: l.j, Log: zap.NewNop(), StepTimeout: 5 * time.Second,
	}
}

// start journals a new promotion the way the app does (no plan yet).
func (l *lab) start(t *testing.T, graceful bool) *promote.Promotion {
	t.Helper()
	rec := &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Promoting, Since: time.Now(), Reasons: []string{"test"}}}
	rec.Promotion = &promote.Promotion{ID: "orders-p1", Started: time.Now(), By: "test", Graceful: graceful}
	if err := l.j.Save(rec); err != nil {
		t.Fatal(err)
	}
	return rec.Promotion
}

// reload is what a restarted drwatch sees.
func (l *lab) reload(t *testing.T) *promote.Promotion {
	t.Helper()
	rec, err := l.j.Load("orders")
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || rec.Promotion == nil {
		t.Fatal("no promotion in the journal")
	}
	return rec.Promotion
}

func names(n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("orders-%02d", i)
	}
	return out
}

func lastStatus(p *promote.Promotion, name promote.StepKind, target string) promote.StepStatus {
	s, ok := p.Last(name, target)
	if !ok {
		return ""
	}
	return s.Status
}

// checkStopOrder asserts that every index of want has a journaled
// "started" stop step before its "done" step.
func checkStopOrder(t *testing.T, p *promote.Promotion, want []string) {
	t.Helper()
	for _, idx := range want {
		started, done := -1, -1
		for i, s := range p.Steps {
			if s.Name != promote.StepStop || s.Target != idx {
				continue
			}
			if s.Status == promote.StepStarted && started < 0 {
				started = i
			}
			if s.Status == promote.StepDone {
				done = i
			}
			if s.At.IsZero() {
				t.Errorf("step %+v has no time", s)
			}
		}
		if started < 0 || done < 0 || started > done {
			t.Errorf("index %s: started at step %d, done at step %d", idx, started, done)
		}
	}
}

// ---- tests ----------------------------------------------------------------

// An in-scope follower index of another remote cluster (another pair's)
// is neither fenced, stopped nor verified by this pair's promotion.
func TestOtherAliasIsNotPromoted(t *testing.T) {
	l := newLab(t, 2)
	l.follower.addFollower("orders-eu", "eu:orders-eu")
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil {
		t.Fatalf("Run: %v (%+v)", err, res)
	}
	if !reflect.DeepEqual(res.Promoted, names(2)) || len(p.Plan) != 2 {
		t.Fatalf("promoted %v, plan %v", res.Promoted, p.Plan)
	}
	if n := l.follower.calls()["orders-eu"]; n != 0 || slices.Contains(l.leader.blocked, "orders-eu") {
		t.Fatalf("the other cluster's follower index was stopped %d times, fenced: %v", n, l.leader.blocked)
	}
}

func TestHappyPath(t *testing.T) {
	l := newLab(t, 6)
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil {
		t.Fatalf("Run: %v (%+v)", err, res)
	}
	want := names(6)
	if !reflect.DeepEqual(res.Promoted, want) {
		t.Fatalf("Promoted = %v, want %v", res.Promoted, want)
	}
	if !slices.IsSorted(res.Promoted) || len(res.Failed) != 0 || !res.Fenced {
		t.Fatalf("result = %+v", res)
	}
	if !strings.Contains(res.Detail, "6 of 6") || !strings.Contains(res.Detail, "leader fenced") {
		t.Fatalf("Detail = %q", res.Detail)
	}
	// Fence: every planned leader index, once.
	wantLeaders := make([]string, 6)
	for i := range 6 {
		wantLeaders[i] = fmt.Sprintf("leader-orders-%02d", i)
	}
	if !reflect.DeepEqual(l.leader.blocked, wantLeaders) {
		t.Fatalf("leader blocked %v, want %v", l.leader.blocked, wantLeaders)
	}
	// Rules deleted with the alias.
	if len(l.follower.rules) != 0 || !reflect.DeepEqual(l.follower.deleted, []string{"leader/logs-rule", "leader/orders-rule"}) {
		t.Fatalf("rules left %v, deleted %v", l.follower.rules, l.follower.deleted)
	}
	// All stopped, once each; "plain" never touched.
	for _, idx := range want {
		if c := l.follower.stopCalls[idx]; c != 1 {
			t.Errorf("%s stopped %d times", idx, c)
		}
	}
	if len(l.follower.stopCalls) != 6 || len(l.follower.followers) != 0 {
		t.Fatalf("stop calls %v, followers left %v", l.follower.stopCalls, l.follower.followers)
	}
	// The journal (as a restart would read it) has it all.
	jp := l.reload(t)
	if len(jp.Plan) != 0 {
		t.Fatalf("the saved record should not carry the plan (only steps do): %v", jp.Plan)
	}
	checkStopOrder(t, jp, want)
	for _, c := range []struct {
		name   promote.StepKind
		target string
		status promote.StepStatus
	}{
		{promote.StepFence, "", promote.StepDone},
		{promote.StepAutofollow, "orders-rule", promote.StepDone},
		{promote.StepAutofollow, "logs-rule", promote.StepDone},
		{promote.StepVerify, "", promote.StepDone},
		{promote.StepPlan, "", promote.StepDone},
		{promote.StepPlan, "orders-03", promote.StepDone},
	} {
		if got := lastStatus(jp, c.name, c.target); got != c.status {
			t.Errorf("journal %s/%s = %q, want %q", c.name, c.target, got, c.status)
		}
	}
	if s, _ := jp.Last(promote.StepPlan, "orders-03"); s.Detail != "leader-orders-03" {
		t.Errorf("plan step detail = %q, want the leader index", s.Detail)
	}
	// The fence step precedes every stop.
	fenceAt, firstStop := -1, -1
	for i, s := range jp.Steps {
		if s.Name == promote.StepFence && s.Status == promote.StepDone && fenceAt < 0 {
			fenceAt = i
		}
		if s.Name == promote.StepStop && firstStop < 0 {
			firstStop = i
		}
	}
	if fenceAt < 0 || fenceAt > firstStop {
		t.Fatalf("fence done at step %d, first stop at %d", fenceAt, firstStop)
	}
}

func TestLeaderUnreachableSkipsFence(t *testing.T) {
	l := newLab(t, 3)
	l.leader.down = true
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Fenced || len(res.Promoted) != 3 || !strings.Contains(res.Detail, "not fenced") {
		t.Fatalf("result = %+v", res)
	}
	s, ok := l.reload(t).Last(promote.StepFence, "")
	if !ok || s.Status != promote.StepSkipped || !strings.Contains(s.Detail, "unreachable") || !strings.Contains(s.Detail, string(observe.ClassConnRefused)) {
		t.Fatalf("fence step = %+v", s)
	}
	if len(l.leader.blocked) != 0 {
		t.Fatalf("blocked %v", l.leader.blocked)
	}
}

// The fence is decided anew on every attempt: the leader unreachable at
// the first (fence skipped), one stop fails, the partition heals and the
// old leader answers again; the retry fences it before any further _stop,
// so that both sides are never writable at once.
func TestFenceDecidedEachAttempt(t *testing.T) {
	l := newLab(t, 3)
	l.leader.down = true
	l.follower.stopErr["orders-01"] = &opensearch.Error{Op: "stop replication of orders-01", Class: observe.ClassTimeout, Detail: "timed out"}
	p := l.start(t, false)
	if _, err := l.executor().Run(context.Background(), p); err == nil {
		t.Fatal("the first attempt must fail on orders-01")
	}
	if s, _ := p.Last(promote.StepFence, ""); s.Status != promote.StepSkipped {
		t.Fatalf("first attempt's fence = %+v", s)
	}
	// The partition heals: the old leader answers and would take writes.
	l.leader.down = false
	delete(l.follower.stopErr, "orders-01")
	l.follower.onStop = func(idx string) {
		l.leader.mu.Lock()
		defer l.leader.mu.Unlock()
		if len(l.leader.blocked) == 0 {
			t.Errorf("%s stopped while the answering leader was not fenced", idx)
		}
	}
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || !res.Fenced || len(res.Promoted) != 3 {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if len(l.leader.blocked) != 3 || l.follower.calls()["orders-01"] != 2 {
		t.Fatalf("blocked %v, stop calls %v", l.leader.blocked, l.follower.calls())
	}
	if s, _ := l.reload(t).Last(promote.StepFence, ""); s.Status != promote.StepDone {
		t.Fatalf("retry's fence = %+v", s)
	}
}

func TestFenceLeaderFalseSkipsFence(t *testing.T) {
	l := newLab(t, 2)
	p := l.start(t, false)
	e := l.executor()
	e.FenceLeader = false
	res, err := e.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// The leader is asked once whether it answers (a hung one is
	// detached, fence or no fence), never write-blocked.
	if res.Fenced || l.leader.healthCalls > 1 || len(l.leader.blocked) != 0 {
		t.Fatalf("fenced=%v health=%d blocked=%v", res.Fenced, l.leader.healthCalls, l.leader.blocked)
	}
	if s, _ := p.Last(promote.StepFence, ""); s.Status != promote.StepSkipped || !strings.Contains(s.Detail, "fence_leader is false") {
		t.Fatalf("fence step = %+v", s)
	}
}

// A leader that answers but refuses the write block fails the attempt
// before any stop: drwatch never promotes under a live, unfenced leader.
// Once the block goes through, the retry promotes.
func TestFenceRefusedFailsTheAttempt(t *testing.T) {
	l := newLab(t, 2)
	l.leader.blockErr = &opensearch.Error{Op: "write-block leader indices", Class: observe.ClassAuth, Status: 403}
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err == nil || res.Fenced || !strings.Contains(err.Error(), "refused the write block") || !strings.Contains(err.Error(), "live, unfenced leader") {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if n := len(l.follower.calls()); n != 0 {
		t.Fatalf("%d indices stopped under an unfenced leader", n)
	}
	if s, _ := p.Last(promote.StepFence, ""); s.Status != promote.StepFailed || !strings.Contains(s.Detail, "HTTP 403") {
		t.Fatalf("fence step = %+v", s)
	}
	for _, blockErr := range []error{
		&opensearch.Error{Op: "write-block leader indices", Class: observe.ClassHTTP4xx, Status: 429},
		&opensearch.Error{Op: "write-block leader indices", Class: observe.ClassHTTP5xx, Status: 503},
	} {
		l.leader.blockErr = blockErr
		if _, err := l.executor().Run(context.Background(), p); err == nil || len(l.follower.calls()) != 0 {
			t.Fatalf("%v: %v, stops %v", blockErr, err, l.follower.calls())
		}
	}
	l.leader.blockErr = nil
	if res, err := l.executor().Run(context.Background(), l.reload(t)); err != nil || !res.Fenced || len(res.Promoted) != 2 {
		t.Fatalf("retry = %+v, %v", res, err)
	}
}

func TestGraceful(t *testing.T) {
	t.Run("leader down: error, nothing stopped", func(t *testing.T) {
		l := newLab(t, 3)
		l.leader.down = true
		p := l.start(t, true)
		e := l.executor()
		e.FenceLeader = false // graceful fences regardless
		caughtUp := 0
		e.CatchUp = func(context.Context, map[string]string) error { caughtUp++; return nil }
		res, err := e.Run(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "graceful promotion needs the leader fenced") {
			t.Fatalf("Run = %+v, %v", res, err)
		}
		if len(l.follower.stopCalls) != 0 || caughtUp != 0 || len(l.follower.deleted) != 0 || len(res.Promoted) != 0 {
			t.Fatalf("stops %v, catch-ups %d, rules deleted %v", l.follower.stopCalls, caughtUp, l.follower.deleted)
		}
		if s, _ := l.reload(t).Last(promote.StepFence, ""); s.Status != promote.StepFailed {
			t.Fatalf("fence step = %+v", s)
		}
		// When the leader is back, the fence is retried and it goes through.
		l.leader.down = false
		if _, err := e.Run(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		if caughtUp != 1 || len(l.leader.blocked) != 3 {
			t.Fatalf("catch-ups %d, blocked %v", caughtUp, l.leader.blocked)
		}
	})
	t.Run("leader up: fences, catches up, then stops", func(t *testing.T) {
		l := newLab(t, 3)
		p := l.start(t, true)
		e := l.executor()
		var plan map[string]string
		e.CatchUp = func(_ context.Context, pl map[string]string) error {
			if len(l.leader.blocked) != 3 {
				t.Errorf("catch-up before the fence: blocked %v", l.leader.blocked)
			}
			if n := len(l.follower.calls()); n != 0 {
				t.Errorf("catch-up after %d stops", n)
			}
			plan = maps2(pl)
			return nil
		}
		res, err := e.Run(context.Background(), p)
		if err != nil || !res.Fenced || len(res.Promoted) != 3 {
			t.Fatalf("Run = %+v, %v", res, err)
		}
		if len(plan) != 3 || plan["orders-01"] != "leader-orders-01" {
			t.Fatalf("CatchUp got plan %v", plan)
		}
		if lastStatus(l.reload(t), promote.StepCatchUp, "") != promote.StepDone {
			t.Fatal("catch-up not journaled")
		}
	})
	t.Run("catch-up fails: nothing stopped", func(t *testing.T) {
		l := newLab(t, 2)
		p := l.start(t, true)
		e := l.executor()
		e.CatchUp = func(context.Context, map[string]string) error { return errors.New("orders-01 lags by 12 operations") }
		if _, err := e.Run(context.Background(), p); err == nil || !strings.Contains(err.Error(), "lags by 12") {
			t.Fatalf("Run: %v", err)
		}
		if len(l.follower.stopCalls) != 0 {
			t.Fatalf("stopped %v", l.follower.stopCalls)
		}
	})
	t.Run("no catch-up configured", func(t *testing.T) {
		l := newLab(t, 2)
		p := l.start(t, true)
		if _, err := l.executor().Run(context.Background(), p); err == nil {
			t.Fatal("graceful promotion without CatchUp succeeded")
		}
		if len(l.follower.stopCalls) != 0 {
			t.Fatalf("stopped %v", l.follower.stopCalls)
		}
	})
}

func maps2(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestNoReplicationInProgressCountsAsDone(t *testing.T) {
	l := newLab(t, 3)
	p := l.start(t, false)
	e := l.executor()
	// Plan first (as a restart would have it), then someone stops orders-01
	// by hand before drwatch gets to it.
	if err := e.plan(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := l.follower.StopReplication(context.Background(), "orders-01"); err != nil {
		t.Fatal(err)
	}
	l.follower.resetCounters()
	res, err := e.Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 3 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	s, _ := l.reload(t).Last(promote.StepStop, "orders-01")
	if s.Status != promote.StepDone || !strings.Contains(s.Detail, "already stopped") {
		t.Fatalf("orders-01 step = %+v", s)
	}
}

// The stop happens but its answer is lost (504 after the fact): the index
// is reported failed; a rerun gets "No replication in progress" and counts
// it as done.
func TestLostAnswerThenRerun(t *testing.T) {
	l := newLab(t, 3)
	l.follower.lostAnswer["orders-02"] = true
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err == nil {
		t.Fatal("Run succeeded with a failed stop")
	}
	if _, ok := res.Failed["orders-02"]; !ok || len(res.Failed) != 1 {
		t.Fatalf("Failed = %v", res.Failed)
	}
	delete(l.follower.lostAnswer, "orders-02")
	l.follower.resetCounters()
	res, err = l.executor().Run(context.Background(), l.reload(t))
	if err != nil || len(res.Promoted) != 3 {
		t.Fatalf("rerun = %+v, %v", res, err)
	}
	if got := l.follower.calls(); !reflect.DeepEqual(got, map[string]int{"orders-02": 1}) {
		t.Fatalf("rerun stop calls = %v", got)
	}
}

func TestFailingIndexThenRerun(t *testing.T) {
	l := newLab(t, 5)
	l.follower.stopErr["orders-03"] = &opensearch.Error{Op: "stop replication of orders-03", Class: observe.ClassHTTP5xx, Status: 500, Detail: "boom"}
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "1 of 5 indices not promoted") || !strings.Contains(err.Error(), "orders-03") {
		t.Fatalf("Run error = %v", err)
	}
	if len(res.Failed) != 1 || !strings.Contains(res.Failed["orders-03"], "boom") {
		t.Fatalf("Failed = %v", res.Failed)
	}
	if want := []string{"orders-00", "orders-01", "orders-02", "orders-04"}; !reflect.DeepEqual(res.Promoted, want) {
		t.Fatalf("Promoted = %v, want %v", res.Promoted, want)
	}
	jp := l.reload(t)
	if lastStatus(jp, promote.StepStop, "orders-03") != promote.StepFailed || lastStatus(jp, promote.StepVerify, "") != promote.StepFailed {
		t.Fatalf("journal: stop %q verify %q", lastStatus(jp, promote.StepStop, "orders-03"), lastStatus(jp, promote.StepVerify, ""))
	}

	// The cause is fixed; a rerun (from the journal) retries only orders-03.
	delete(l.follower.stopErr, "orders-03")
	l.follower.resetCounters()
	res, err = l.executor().Run(context.Background(), jp)
	if err != nil || len(res.Promoted) != 5 || len(res.Failed) != 0 {
		t.Fatalf("rerun = %+v, %v", res, err)
	}
	if got := l.follower.calls(); !reflect.DeepEqual(got, map[string]int{"orders-03": 1}) {
		t.Fatalf("rerun stop calls = %v", got)
	}
	if l.leader.healthCalls != 1 || len(l.leader.blocked) != 5 {
		t.Fatalf("rerun fenced again: health %d, blocked %v", l.leader.healthCalls, l.leader.blocked)
	}
}

type crash struct{ after int }

func runUntilCrash(t *testing.T, e *Executor, p *promote.Promotion) (crashed bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	_, err := e.Run(context.Background(), p)
	t.Fatalf("Run returned (%v) instead of crashing", err)
	return false
}

func TestCrashAndResume(t *testing.T) {
	for _, tc := range []struct {
		n, conc, crashAfter int
	}{
		{n: 10, conc: 1, crashAfter: 4},
		{n: 10, conc: 3, crashAfter: 4}, // crash after a batch: the rest of the batch was journaled too
		{n: 10, conc: 1, crashAfter: 1},
	} {
		t.Run(fmt.Sprintf("n=%d,conc=%d,crash=%d", tc.n, tc.conc, tc.crashAfter), func(t *testing.T) {
			l := newLab(t, tc.n)
			p := l.start(t, false)
			e := l.executor()
			e.Concurrency = tc.conc
			e.afterStop = func(done int) {
				if done >= tc.crashAfter {
					panic(crash{done})
				}
			}
			if !runUntilCrash(t, e, p) {
				t.Fatal("no crash")
			}
			first := l.follower.calls()
			if len(first) < tc.crashAfter || len(first) == tc.n {
				t.Fatalf("stops before the crash: %v", first)
			}

			// Restart: a fresh executor and the promotion as the journal has it.
			jp := l.reload(t)
			if jp.Plan != nil {
				t.Fatalf("saved record carries a plan: %v", jp.Plan)
			}
			var journaledDone []string
			for _, idx := range names(tc.n) {
				if lastStatus(jp, promote.StepStop, idx) == promote.StepDone {
					journaledDone = append(journaledDone, idx)
				}
			}
			if len(journaledDone) != len(first) {
				t.Fatalf("journal has %v done, cluster saw stops %v", journaledDone, first)
			}
			l.follower.resetCounters()
			res, err := l.executor().Run(context.Background(), jp)
			if err != nil {
				t.Fatalf("resumed Run: %v", err)
			}
			if !reflect.DeepEqual(res.Promoted, names(tc.n)) {
				t.Fatalf("Promoted = %v", res.Promoted)
			}
			second := l.follower.calls()
			for idx := range first {
				if second[idx] != 0 {
					t.Errorf("%s was stopped before the crash and called again", idx)
				}
			}
			for _, idx := range names(tc.n) {
				if first[idx]+second[idx] != 1 {
					t.Errorf("%s: %d stop calls before the crash, %d after", idx, first[idx], second[idx])
				}
			}
			if l.leader.healthCalls != 1 {
				t.Errorf("the fence ran again after the restart (%d health calls)", l.leader.healthCalls)
			}
			checkStopOrder(t, l.reload(t), names(tc.n))

			// A third run (another restart) stops nothing.
			l.follower.resetCounters()
			res, err = l.executor().Run(context.Background(), l.reload(t))
			if err != nil || len(res.Promoted) != tc.n {
				t.Fatalf("third Run = %+v, %v", res, err)
			}
			if c := l.follower.calls(); len(c) != 0 {
				t.Fatalf("third Run stopped %v", c)
			}
		})
	}
}

// flakyJournal loses the "done" records of stops: a crash after the stop
// and before its journal entry.
type flakyJournal struct {
	*journal.Journal
	failDone bool
}

func (f *flakyJournal) AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error {
	for _, s := range steps {
		if f.failDone && s.Name == promote.StepStop && s.Status != promote.StepStarted {
			return errors.New("disk full")
		}
	}
	return f.Journal.AppendSteps(pair, p, steps...)
}

func TestCrashBetweenStopAndJournal(t *testing.T) {
	l := newLab(t, 4)
	p := l.start(t, false)
	e := l.executor()
	e.Journal = &flakyJournal{Journal: l.j, failDone: true}
	res, err := e.Run(context.Background(), p)
	if err == nil || len(res.Failed) != 4 || !strings.Contains(res.Failed["orders-00"], "disk full") {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	jp := l.reload(t)
	if lastStatus(jp, promote.StepStop, "orders-00") != promote.StepStarted {
		t.Fatalf("orders-00 last step = %q", lastStatus(jp, promote.StepStop, "orders-00"))
	}
	l.follower.resetCounters()
	res, err = l.executor().Run(context.Background(), jp)
	if err != nil || len(res.Promoted) != 4 {
		t.Fatalf("rerun = %+v, %v", res, err)
	}
	for _, idx := range names(4) {
		if s, _ := jp.Last(promote.StepStop, idx); s.Status != promote.StepDone || !strings.Contains(s.Detail, "already stopped") {
			t.Errorf("%s: %+v", idx, s)
		}
	}
}

func TestConcurrencyBound(t *testing.T) {
	for _, conc := range []int{1, 4, 7} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			l := newLab(t, 50)
			l.follower.stopDelay = 3 * time.Millisecond
			p := l.start(t, false)
			e := l.executor()
			e.Concurrency = conc
			res, err := e.Run(context.Background(), p)
			if err != nil || len(res.Promoted) != 50 {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			if l.follower.maxInFlight > conc {
				t.Fatalf("%d stops in flight, Concurrency is %d", l.follower.maxInFlight, conc)
			}
			if conc > 1 && l.follower.maxInFlight < 2 {
				t.Fatalf("stops never overlapped (max in flight %d): Concurrency is not used", l.follower.maxInFlight)
			}
			if len(l.follower.stopCalls) != 50 {
				t.Fatalf("%d indices stopped", len(l.follower.stopCalls))
			}
			checkStopOrder(t, l.reload(t), names(50))
		})
	}
	t.Run("zero means one", func(t *testing.T) {
		l := newLab(t, 5)
		l.follower.stopDelay = time.Millisecond
		e := l.executor()
		e.Concurrency = 0
		if _, err := e.Run(context.Background(), l.start(t, false)); err != nil {
			t.Fatal(err)
		}
		if l.follower.maxInFlight != 1 {
			t.Fatalf("max in flight %d", l.follower.maxInFlight)
		}
	})
}

func TestAutofollowIndexAddedToPlan(t *testing.T) {
	l := newLab(t, 3)
	l.follower.autofollowCreates["orders-new"] = "leader-orders-new"
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := append(names(3), "orders-new")
	if !reflect.DeepEqual(res.Promoted, want) {
		t.Fatalf("Promoted = %v, want %v", res.Promoted, want)
	}
	if l.follower.stopCalls["orders-new"] != 1 {
		t.Fatal("orders-new not stopped")
	}
	if p.Plan["orders-new"] != "leader-orders-new" {
		t.Fatalf("plan = %v", p.Plan)
	}
	// The added index's leader is fenced like the others.
	if !slices.Contains(l.leader.blocked, "leader-orders-new") {
		t.Fatalf("leader of the added index not fenced: blocked %v", l.leader.blocked)
	}
	blocked := len(l.leader.blocked)
	jp := l.reload(t)
	if s, ok := jp.Last(promote.StepPlan, "orders-new"); !ok || s.Detail != "leader-orders-new" {
		t.Fatalf("extended plan not journaled: %+v", s)
	}
	// A restart rebuilds the extended plan from the journal.
	l.follower.resetCounters()
	res, err = l.executor().Run(context.Background(), jp)
	if err != nil || !reflect.DeepEqual(res.Promoted, want) || len(l.follower.calls()) != 0 {
		t.Fatalf("rerun = %+v, %v, stops %v", res, err, l.follower.calls())
	}
	if len(l.leader.blocked) != blocked {
		t.Fatalf("rerun fenced again: %v", l.leader.blocked)
	}
}

func TestAutofollowDeleteFailure(t *testing.T) {
	l := newLab(t, 2)
	l.follower.deleteErr = &opensearch.Error{Op: "delete autofollow rule", Class: observe.ClassHTTP5xx, Status: 503}
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "autofollow rule") {
		t.Fatalf("Run error = %v", err)
	}
	if len(res.Promoted) != 2 {
		t.Fatalf("indices should still be promoted: %+v", res)
	}
	if lastStatus(p, promote.StepAutofollow, "orders-rule") != promote.StepFailed {
		t.Fatal("failed rule deletion not journaled")
	}
	// Fixed: the rerun deletes the rules and stops nothing again.
	l.follower.deleteErr = nil
	l.follower.resetCounters()
	if _, err := l.executor().Run(context.Background(), l.reload(t)); err != nil {
		t.Fatal(err)
	}
	if len(l.follower.rules) != 0 || len(l.follower.calls()) != 0 {
		t.Fatalf("rules %v, stops %v", l.follower.rules, l.follower.calls())
	}
}

// A rule the plugin does not know under the pair's alias (HTTP 500: it
// belongs to another remote cluster) is left in place, and the promotion
// still succeeds.
func TestAutofollowRuleOfAnotherAliasIsLeft(t *testing.T) {
	l := newLab(t, 2)
	l.follower.deleteErr = &opensearch.Error{Op: "delete autofollow rule", Class: observe.ClassHTTP5xx, Status: 500, Type: "exception", Detail: "Autofollow pattern orders-rule does not exist"}
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 2 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if lastStatus(p, promote.StepAutofollow, "orders-rule") != promote.StepSkipped {
		t.Fatal("the rule left in place is not journaled as skipped")
	}
}

// The plugin also answers 500 when it fails to update a rule that is
// ours: that fails the step, to be retried.
func TestAutofollowGeneric500Fails(t *testing.T) {
	l := newLab(t, 2)
	l.follower.deleteErr = &opensearch.Error{Op: "delete autofollow rule", Class: observe.ClassHTTP5xx, Status: 500, Type: "exception", Detail: "Failed to update autofollow pattern"}
	p := l.start(t, false)
	if _, err := l.executor().Run(context.Background(), p); err == nil {
		t.Fatal("a generic 500 on our rule must fail the promotion (retried)")
	}
	if lastStatus(p, promote.StepAutofollow, "orders-rule") != promote.StepFailed {
		t.Fatal("not journaled as failed")
	}
}

func TestRuleInScope(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		scope []string
		want  bool
	}{
		{"logs-*", []string{"*"}, true},
		{"logs-*", []string{"*", "-.*"}, true},
		{"logs-*", []string{"logs-2026-*"}, true},
		{"logs-2026-*", []string{"logs-*"}, true},
		{"logs-*", []string{"orders-*"}, false},
		{"logs-*", []string{"orders-1", "customers"}, false},
		{"orders-1", []string{"orders-1"}, true},
		{"orders-1", []string{"orders-2"}, false},
		{"orders-*", []string{"orders-1"}, true},
		{"*", []string{"orders-1"}, true},
		{"logs-*", []string{"*", "-logs-*"}, false},
		{"logs-2026-*", []string{"*", "-logs-*"}, false},
		{"orders-*", []string{"*", "-logs-*"}, true},
	} {
		if got := RuleInScope(tc.rule, tc.scope); got != tc.want {
			t.Errorf("RuleInScope(%q, %q) = %v, want %v", tc.rule, tc.scope, got, tc.want)
		}
	}
}

func TestVerifyFailure(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"block", "replication block still present"},
		{"closed", "index is closed and could not be opened"},
		{"noop", "still a follower index"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			l := newLab(t, 3)
			l.follower.brokenStop["orders-01"] = tc.mode
			l.follower.openErr = &opensearch.Error{Op: "open orders-01", Class: observe.ClassHTTP5xx, Status: 500}
			p := l.start(t, false)
			res, err := l.executor().Run(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), "orders-01") {
				t.Fatalf("Run error = %v", err)
			}
			if !strings.Contains(res.Failed["orders-01"], tc.want) || len(res.Failed) != 1 {
				t.Fatalf("Failed = %v, want orders-01: %s", res.Failed, tc.want)
			}
			if want := []string{"orders-00", "orders-02"}; !reflect.DeepEqual(res.Promoted, want) {
				t.Fatalf("Promoted = %v", res.Promoted)
			}
			if s, _ := l.reload(t).Last(promote.StepVerify, ""); s.Status != promote.StepFailed || !strings.Contains(s.Detail, tc.want) {
				t.Fatalf("verify step = %+v", s)
			}
		})
	}
	t.Run("index gone", func(t *testing.T) {
		l := newLab(t, 2)
		p := l.start(t, false)
		e := l.executor()
		if err := e.plan(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		delete(l.follower.followers, "orders-01")
		delete(l.follower.indices, "orders-01")
		// Gone (the plugin deletes an index stopped while restoring):
		// journaled lost, not failed - retrying cannot bring it back.
		res, err := e.Run(context.Background(), p)
		if err != nil || len(res.Failed) != 0 || !strings.Contains(res.Lost["orders-01"], "index not found") || !reflect.DeepEqual(res.Promoted, []string{"orders-00"}) {
			t.Fatalf("Run = %+v, %v", res, err)
		}
		res, err = e.Run(context.Background(), l.reload(t))
		if err != nil || len(res.Lost) != 1 || !strings.Contains(res.Detail, "1 lost") {
			t.Fatalf("rerun = %+v, %v", res, err)
		}
	})
}

// A follower index still restoring from the leader (a primary not
// started) is never stopped - the plugin deletes a restoring index on
// _stop - and the promotion does not fail forever on it: it is journaled
// lost, once, and the rest is promoted.
func TestRestoringIndexIsNotStopped(t *testing.T) {
	l := newLab(t, 3)
	l.follower.restoring["orders-02"] = true
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || !reflect.DeepEqual(res.Promoted, []string{"orders-00", "orders-01"}) || len(res.Failed) != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if why := res.Lost["orders-02"]; !strings.Contains(why, "1 of 1 primaries not started: still restoring from the leader") {
		t.Fatalf("lost = %v", res.Lost)
	}
	if n := l.follower.calls()["orders-02"]; n != 0 || !l.follower.isFollowerIndex("orders-02") {
		t.Fatalf("the restoring index was stopped %d times", n)
	}
	if s, _ := l.reload(t).Last(promote.StepStop, "orders-02"); s.Status != promote.StepSkipped || !s.Lost {
		t.Fatalf("stop step = %+v", s)
	}
	// Restored since: still not stopped by this promotion, which is over.
	delete(l.follower.restoring, "orders-02")
	if _, err := l.executor().Run(context.Background(), l.reload(t)); err != nil || l.follower.calls()["orders-02"] != 0 {
		t.Fatalf("rerun: %v, stops %v", err, l.follower.calls())
	}
}

func TestEmptyScope(t *testing.T) {
	l := newLab(t, 0)
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 0 || len(l.follower.stopCalls) != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if lastStatus(p, promote.StepVerify, "") != promote.StepDone {
		t.Fatal("verify not journaled")
	}
}

// Changed is what lets a failed promotion be given up: only one that sent
// no stop and no fence that may have taken effect has changed nothing.
func TestChanged(t *testing.T) {
	step := func(name promote.StepKind, target string, status promote.StepStatus) promote.Step {
		return promote.Step{Name: name, Target: target, Status: status}
	}
	for _, tc := range []struct {
		name  string
		steps []promote.Step
		want  bool
	}{
		{"nothing journaled", nil, false},
		{"planned only", []promote.Step{step(promote.StepPlan, "orders-1", promote.StepDone)}, false},
		{"fence skipped (leader unreachable)", []promote.Step{step(promote.StepFence, "", promote.StepSkipped)}, false},
		{"fence refused", []promote.Step{step(promote.StepFence, "", promote.StepStarted), step(promote.StepFence, "", promote.StepFailed)}, false},
		{"fence sent, outcome unknown (crash)", []promote.Step{step(promote.StepFence, "", promote.StepStarted)}, true},
		{"fenced", []promote.Step{step(promote.StepFence, "", promote.StepDone)}, true},
		{"a stop whose answer was lost", []promote.Step{step(promote.StepStop, "orders-1", promote.StepStarted), step(promote.StepStop, "orders-1", promote.StepFailed)}, true},
	} {
		if got := promote.Changed(&promote.Promotion{Steps: tc.steps}); got != tc.want {
			t.Errorf("%s: Changed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The leader comes back in the middle of an attempt (a partition heals
// while stops run): it is fenced before the next stop, not after the
// attempt.
func TestLeaderBackMidAttemptIsFencedBeforeTheNextStop(t *testing.T) {
	l := newLab(t, 4)
	l.leader.down = true
	stops := 0
	l.follower.onStop = func(idx string) {
		l.leader.mu.Lock()
		defer l.leader.mu.Unlock()
		stops++
		if stops == 1 {
			l.leader.down = false // the partition heals during the first stop
			return
		}
		if len(l.leader.blocked) == 0 {
			t.Errorf("stop %d (%s) under an answering, unfenced leader", stops, idx)
		}
	}
	p := l.start(t, false)
	e := l.executor()
	e.Concurrency = 1
	res, err := e.Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 4 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if s, _ := l.reload(t).Last(promote.StepFence, ""); s.Status != promote.StepDone || len(l.leader.blocked) != 4 {
		t.Fatalf("fence %+v, blocked %v", s, l.leader.blocked)
	}
	if !res.Fenced || strings.Contains(res.Detail, "not fenced") {
		t.Fatalf("a leader fenced mid-way reported unfenced: %+v", res)
	}
}

// A hung leader (SIGSTOP): the fence's check waits for it no longer than
// the liveness bound (not a whole step timeout), takes it for down, and
// the promotion goes on.
func TestHungLeaderFenceCheckBoundedByLiveness(t *testing.T) {
	l := newLab(t, 2)
	l.leader.hung = true
	p := l.start(t, false)
	e := l.executor()
	e.StepTimeout, e.Liveness = 5*time.Second, 200*time.Millisecond
	start := time.Now()
	res, err := e.Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 2 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the promotion took %s with a hung leader: the fence check is not bounded by its liveness bound", took)
	}
	if s, _ := l.reload(t).Last(promote.StepFence, ""); s.Status != promote.StepSkipped || !strings.Contains(s.Detail, "timeout") {
		t.Fatalf("fence = %+v", s)
	}
}

// The fence's check cut short by the lease window (or the attempt's
// deadline) before its liveness bound: the leader is neither fenced nor
// shown down, so nothing is stopped in this attempt.
func TestFenceCheckCutShortStopsNothing(t *testing.T) {
	l := newLab(t, 2)
	l.leader.hung = true
	p := l.start(t, false)
	e := l.executor()
	e.Liveness = 3 * time.Second
	end := time.Now().Add(100 * time.Millisecond)
	e.Window = func() time.Time { return end }
	_, err := e.Run(context.Background(), p)
	if !errors.Is(err, steps.ErrLivenessUnknown) {
		t.Fatalf("Run: %v, want ErrLivenessUnknown", err)
	}
	n := 0
	for _, c := range l.follower.calls() {
		n += c
	}
	if n != 0 {
		t.Fatalf("%d stops sent under a leader whose check was cut short", n)
	}
	if s, _ := l.reload(t).Last(promote.StepFence, ""); s.Status != promote.StepFailed || !strings.Contains(s.Detail, "cut short") {
		t.Fatalf("fence = %+v", s)
	}
}

// A leader gone at the fence that answers again between batches of stops
// with an error (401, 403, 429): it answers, so it is alive - fenced before
// any further stop, not taken for gone.
func TestLeaderAnsweringWithAnErrorMidAttemptIsFenced(t *testing.T) {
	for _, herr := range []error{
		&opensearch.Error{Op: "cluster health", Class: observe.ClassAuth, Status: 403, Type: "security_exception"},
		&opensearch.Error{Op: "cluster health", Class: observe.ClassHTTP4xx, Status: 429, Type: "rejected_execution_exception"},
	} {
		t.Run(herr.Error(), func(t *testing.T) {
			l := newLab(t, 4)
			l.leader.down = true
			stops := 0
			l.follower.onStop = func(idx string) {
				l.leader.mu.Lock()
				defer l.leader.mu.Unlock()
				stops++
				if stops == 1 {
					l.leader.down, l.leader.healthErr = false, herr
					return
				}
				if len(l.leader.blocked) == 0 {
					t.Errorf("stop %d (%s) under an answering, unfenced leader", stops, idx)
				}
			}
			p := l.start(t, false)
			e := l.executor()
			e.Concurrency = 1
			if res, err := e.Run(context.Background(), p); err != nil || len(res.Promoted) != 4 {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			if len(l.leader.blocked) != 4 {
				t.Fatalf("blocked %v", l.leader.blocked)
			}
		})
	}
}

// A stop cut short under a hung leader (the plugin closed the index, then
// the call timed out): the failed step says what the follower index is
// now - closed, still following - and the retry stops it and verifies it
// open and writable.
func TestStopCutShortSaysWhatTheIndexIsNow(t *testing.T) {
	l := newLab(t, 2)
	l.follower.stopErr["orders-00"] = &opensearch.Error{Op: "stop replication of orders-00", Class: observe.ClassTimeout, Detail: "no answer before the probe timeout"}
	l.follower.onStop = func(idx string) {
		l.follower.mu.Lock()
		defer l.follower.mu.Unlock()
		if l.follower.stopErr[idx] != nil {
			l.follower.indices[idx].open = false
		}
	}
	p := l.start(t, false)
	if _, err := l.executor().Run(context.Background(), p); err == nil {
		t.Fatal("Run succeeded with a stop cut short")
	}
	s, _ := l.reload(t).Last(promote.StepStop, "orders-00")
	if s.Status != promote.StepFailed || !strings.Contains(s.Detail, "the follower index is now closed (the stop was cut short") || !strings.Contains(s.Detail, "still following its leader") {
		t.Fatalf("stop step = %+v", s)
	}
	l.follower.mu.Lock()
	delete(l.follower.stopErr, "orders-00")
	l.follower.mu.Unlock()
	p = l.reload(t)
	if res, err := l.executor().Run(context.Background(), p); err != nil || len(res.Promoted) != 2 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if ix := l.follower.indices["orders-00"]; !ix.open || len(ix.blocks) != 0 {
		t.Fatalf("orders-00 after the retry: %+v", ix)
	}
}

// Seen on the lab with the leader SIGSTOPped: a _stop cut short leaves the
// follower index closed, still following. A closed index has no started
// primaries, but it is not restoring: the retry stops it again (it is not
// journaled lost, and the promotion does not end with it closed).
func TestClosedFollowerIndexIsStoppedAgainNotLost(t *testing.T) {
	l := newLab(t, 2)
	l.follower.indices["orders-00"].open = false
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 2 || len(res.Lost) != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if n := l.follower.calls()["orders-00"]; n != 1 {
		t.Fatalf("orders-00 stopped %d times, want 1", n)
	}
	if ix := l.follower.indices["orders-00"]; !ix.open {
		t.Fatal("orders-00 left closed")
	}
}

// A stop that removed the replication but never reopened the index: it
// is found closed and no longer following at verification, and opened
// (journaled) - never a promotion that ends with an index closed.
func TestClosedIndexWithoutReplicationIsReopened(t *testing.T) {
	l := newLab(t, 2)
	l.follower.brokenStop["orders-01"] = "closed"
	p := l.start(t, false)
	res, err := l.executor().Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 2 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if !slices.Equal(l.follower.opened, []string{"orders-01"}) || !l.follower.indices["orders-01"].open {
		t.Fatalf("opened %v", l.follower.opened)
	}
	if s, _ := l.reload(t).Last(promote.StepReopen, "orders-01"); s.Status != promote.StepDone {
		t.Fatalf("reopen step = %+v", s)
	}
}

// A hung leader (its check times out): the plugin's _stop would wait for
// it with the follower index closed, so the follower's remote settings of
// the alias are removed first - journaled with their values, once - and
// only then are the stops sent. A leader that refuses connections (dead)
// is not detached: its stops fail fast by themselves.
func TestHungLeaderIsDetachedBeforeTheStops(t *testing.T) {
	for _, hung := range []bool{true, false} {
		t.Run(fmt.Sprint("hung=", hung), func(t *testing.T) {
			l := newLab(t, 2)
			l.leader.hung, l.leader.down = hung, !hung
			detached := false
			l.follower.onDetach = func() { detached = true }
			l.follower.onStop = func(string) {
				l.follower.mu.Lock()
				defer l.follower.mu.Unlock()
				if hung && !detached {
					t.Error("a stop sent before the hung leader was detached")
				}
			}
			p := l.start(t, false)
			e := l.executor()
			e.Liveness = 100 * time.Millisecond
			if res, err := e.Run(context.Background(), p); err != nil || len(res.Promoted) != 2 {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			s, ok := l.reload(t).Last(promote.StepDetach, "")
			if !hung {
				if ok || len(l.follower.cleared) != 0 {
					t.Fatalf("a dead leader detached: %+v %v", s, l.follower.cleared)
				}
				return
			}
			if s.Status != promote.StepDone || !strings.Contains(s.Detail, `cluster.remote.leader.seeds=["10.0.0.1:9300"]`) || !strings.Contains(s.Detail, "127.0.0.1:1") ||
				!slices.Equal(l.follower.cleared, []string{"cluster.remote.leader.seeds"}) {
				t.Fatalf("detach = %+v, cleared %v", s, l.follower.cleared)
			}
			// A second attempt (a retry) does not detach again.
			if _, err := e.Run(context.Background(), l.reload(t)); err != nil || len(l.follower.cleared) != 1 {
				t.Fatalf("rerun: %v, cleared %v", err, l.follower.cleared)
			}
		})
	}
}

// The leader fenced, then frozen mid-promotion: the next stops hang with
// their index closed (the plugin waits on it). They are cut short, the
// leader is found hanging, detached, and the stops sent again complete:
// the promotion ends with every index open and writable.
func TestLeaderFrozenMidPromotionIsDetached(t *testing.T) {
	l := newLab(t, 4)
	var stops int
	frozen := false
	l.follower.stopsHang = func() bool { return frozen }
	l.follower.onStop = func(string) {
		l.follower.mu.Lock()
		stops++
		if stops == 2 {
			frozen = true
			l.leader.mu.Lock()
			l.leader.hung = true
			l.leader.mu.Unlock()
		}
		l.follower.mu.Unlock()
	}
	p := l.start(t, false)
	e := l.executor()
	e.Concurrency, e.StopTimeout, e.Liveness = 1, 200*time.Millisecond, 100*time.Millisecond
	res, err := e.Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 4 || !res.Fenced {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	for name, ix := range l.follower.indices {
		if !ix.open {
			t.Errorf("%s left closed", name)
		}
	}
	if s, _ := l.reload(t).Last(promote.StepDetach, ""); s.Status != promote.StepDone {
		t.Fatalf("detach = %+v", s)
	}
}

// A hung leader behind TLS: the connection opens, the handshake never
// ends, and the client's own handshake timeout (5s) fails the check
// before the liveness bound is up. That is the leader not answering -
// taken for down, detached - not a check cut short.
func TestHungTLSLeaderIsShownDownNotUnknown(t *testing.T) {
	l := newLab(t, 2)
	l.leader.healthErr = &opensearch.Error{Op: "cluster health", Class: observe.ClassTimeout, Detail: "network timeout"}
	p := l.start(t, false)
	e := l.executor()
	e.Liveness = time.Hour
	end := time.Now().Add(time.Hour)
	e.Window = func() time.Time { return end }
	res, err := e.Run(context.Background(), p)
	if err != nil || len(res.Promoted) != 2 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if s, _ := l.reload(t).Last(promote.StepDetach, ""); s.Status != promote.StepDone {
		t.Fatalf("the hung leader was not detached: %+v", s)
	}
}

// A promotion a human started by hand waits a whole step timeout for the
// leader's answer: a live leader slower than the policy's liveness bound
// is fenced, not taken for down and detached.
func TestByHandPromotionWaitsForASlowLeader(t *testing.T) {
	l := newLab(t, 2)
	l.leader.delay = 300 * time.Millisecond
	p := l.start(t, false)
	p.ByHand = true
	e := l.executor()
	e.Liveness = 100 * time.Millisecond
	res, err := e.Run(context.Background(), p)
	if err != nil || !res.Fenced || len(l.follower.cleared) != 0 {
		t.Fatalf("Run = %+v, %v; cleared %v", res, err, l.follower.cleared)
	}
}
