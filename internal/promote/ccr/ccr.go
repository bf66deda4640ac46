// Package ccr promotes a follower of self-managed OpenSearch with the
// replication plugin into a standalone cluster: it fences the
// old leader when it can, deletes the autofollow rules, stops replication on
// every follower index in scope with bounded concurrency, and verifies that
// every index is writable. Every step is journaled before and after it runs,
// and every step is idempotent, so a crash at any point resumes where it
// stopped without doing anything twice with a different outcome. It never
// decides whether to promote (internal/policy does) and never rolls a
// promoted index back into a follower. It implements promote.Executor.
package ccr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/steps"
)

// Leader is what promotion needs of the old leader.
type Leader interface {
	ClusterHealth(ctx context.Context) (opensearch.Health, error)
	BlockWrite(ctx context.Context, indices []string) error
}

// Follower is what promotion needs of the follower.
type Follower interface {
	FollowerIndices(ctx context.Context, patterns []string) (map[string]opensearch.FollowerIndex, error)
	AutofollowStats(ctx context.Context) (opensearch.AutofollowStats, error)
	DeleteAutofollow(ctx context.Context, alias, name string) error
	StopReplication(ctx context.Context, index string) error
	IndexStates(ctx context.Context, indices []string) (map[string]opensearch.IndexState, error)
	ShardSeqNos(ctx context.Context, indices []string) (map[string]opensearch.IndexSeqNos, error)
	OpenIndex(ctx context.Context, index string) error
	Topology(ctx context.Context) (opensearch.Topology, error)
	CloseIndices(ctx context.Context, indices []string) error
	OpenIndices(ctx context.Context, indices []string) error
	IndicesHealth(ctx context.Context, indices []string) (map[string]opensearch.IndexHealth, error)
	RemoteClusterSettings(ctx context.Context, alias string) (map[string]json.RawMessage, error)
	DetachRemoteCluster(ctx context.Context, alias string, keys []string) error
}

// Journal records promotion steps durably.
type Journal = steps.Journal

// Executor runs OpenSearch-native promotions for one pair.
type Executor struct {
	Pair        string
	Leader      Leader
	Follower    Follower
	Alias       string
	Indices     []string // follower index patterns in scope
	Concurrency int
	FenceLeader bool
	Journal     Journal
	Log         *zap.Logger
	Now         func() time.Time
	// StepTimeout bounds each cluster call (default 30s).
	StepTimeout time.Duration
	// StopTimeout bounds each _stop (0: the package's StopTimeout).
	StopTimeout time.Duration
	// Liveness bounds each check of whether the leader answers (the
	// fence's, and the re-check between batches of stops): 0 is
	// StepTimeout.
	Liveness time.Duration
	// CatchUp, for graceful promotions, waits until every planned index has
	// caught up with the (fenced) leader. Nil: not supported.
	CatchUp func(ctx context.Context, plan map[string]string) error

	// Window, with ha, is the end of the lease's window (steps.Bound):
	// no call outlives it. Nil without ha.
	Window func() time.Time

	// afterStop is a test hook called after each journaled successful stop.
	afterStop func(done int)
	// hung: this attempt's check of the leader timed out (it hangs).
	hung bool
}

// runner is the shared step runner (steps.Runner) of this executor's
// pair: journal, bounds, crash hook.
func (e *Executor) runner() steps.Runner {
	return steps.Runner{Pair: e.Pair, Journal: e.Journal, StepTimeout: e.StepTimeout, Window: e.Window, Now: e.Now}
}

func (e *Executor) record(p *promote.Promotion, done ...promote.Step) error {
	return e.runner().Record(p, done...)
}

func (e *Executor) call(ctx context.Context, f func(context.Context) error) error {
	return e.runner().Call(ctx, f)
}

// callFor is call with its own timeout.
func (e *Executor) callFor(ctx context.Context, t time.Duration, f func(context.Context) error) error {
	return e.runner().CallFor(ctx, t, f)
}

// Run runs (or resumes) promotion p. The error is nil only when every
// planned index is verified writable and every autofollow rule is gone.
func (e *Executor) Run(ctx context.Context, p *promote.Promotion) (promote.Result, error) {
	res := promote.Result{Failed: map[string]string{}, Lost: map[string]string{}}
	if err := e.plan(ctx, p); err != nil {
		return res, err
	}
	e.hung = false
	fenced, err := e.fence(ctx, p)
	res.Fenced = fenced
	if err != nil {
		return res, err
	}
	if e.hung && !fenced {
		if err := e.detach(ctx, p); err != nil {
			return res, err
		}
	}
	if p.Graceful {
		if err := e.catchUp(ctx, p); err != nil {
			return res, err
		}
	}
	afErr := e.deleteAutofollow(ctx, p)
	// Autofollow may have started new follower indices until its rule was
	// deleted: add them to the plan.
	if err := e.extendPlan(ctx, p); err != nil {
		return res, err
	}
	stopErrs, err := e.stopAll(ctx, p)
	if err != nil {
		return res, err
	}
	for idx, msg := range stopErrs {
		res.Failed[idx] = msg
	}
	settleErrs, err := e.settle(ctx, p)
	if err != nil {
		return res, err
	}
	for idx, msg := range settleErrs {
		if _, ok := res.Failed[idx]; !ok {
			res.Failed[idx] = msg
		}
	}
	verifyErrs, unassigned, err := e.verify(ctx, p)
	if err != nil {
		return res, err
	}
	for idx, msg := range verifyErrs {
		if _, ok := res.Failed[idx]; !ok {
			res.Failed[idx] = msg
		}
	}
	for idx, msg := range unassigned {
		if _, ok := res.Failed[idx]; !ok {
			if res.Unassigned == nil {
				res.Unassigned = map[string]string{}
			}
			res.Unassigned[idx] = msg
		}
	}
	// A leader that answered again mid-way was fenced then (refence):
	// the outcome says so, not only the first fence's.
	if s, ok := p.Last(promote.StepFence, ""); ok && s.Status == promote.StepDone {
		res.Fenced = true
	}
	res.Tally(p, func(idx string) (string, bool) { return lostIndex(p, idx) }, "")
	switch {
	case len(res.Failed) > 0:
		return res, fmt.Errorf("%d of %d indices not promoted: %s", len(res.Failed), len(p.Plan), promote.Summarize(res.Failed))
	case len(res.Promoted) == 0 && len(res.Unassigned) > 0:
		// Nothing takes writes: not a promotion to report as done (the
		// attempt is retried, the outage stays open).
		return res, fmt.Errorf("no index writable: %d of %d without an active primary: %s", len(res.Unassigned), len(p.Plan), promote.Summarize(res.Unassigned))
	case afErr != nil:
		return res, afErr
	}
	return res, nil
}

// plan fixes the set of follower indices to promote, once. The plan is
// journaled as one step per index, so a restart rebuilds it from the log.
func (e *Executor) plan(ctx context.Context, p *promote.Promotion) error {
	if p.Plan == nil {
		for _, s := range p.Steps {
			if s.Name == promote.StepPlan && s.Target != "" {
				if p.Plan == nil {
					p.Plan = map[string]string{}
				}
				p.Plan[s.Target] = s.Detail
			}
		}
	}
	if p.Plan != nil {
		return nil
	}
	var fis map[string]opensearch.FollowerIndex
	err := e.call(ctx, func(ctx context.Context) (err error) {
		fis, err = e.Follower.FollowerIndices(ctx, e.Indices)
		return err
	})
	if err != nil {
		return fmt.Errorf("plan: list follower indices: %w", err)
	}
	p.Plan = make(map[string]string, len(fis))
	for idx, fi := range fis {
		if fi.LeaderAlias == e.Alias { // one following another remote cluster is not this pair's
			p.Plan[idx] = fi.LeaderIndex
		}
	}
	return e.recordPlan(p, p.Plan)
}

func (e *Executor) recordPlan(p *promote.Promotion, entries map[string]string) error {
	return e.record(p, promote.PlanSteps(entries, len(p.Plan))...)
}

func (e *Executor) extendPlan(ctx context.Context, p *promote.Promotion) error {
	var fis map[string]opensearch.FollowerIndex
	err := e.call(ctx, func(ctx context.Context) (err error) {
		fis, err = e.Follower.FollowerIndices(ctx, e.Indices)
		return err
	})
	if err != nil {
		return fmt.Errorf("list follower indices: %w", err)
	}
	added := map[string]string{}
	for idx, fi := range fis {
		if _, ok := p.Plan[idx]; !ok && fi.LeaderAlias == e.Alias {
			p.Plan[idx] = fi.LeaderIndex
			added[idx] = fi.LeaderIndex
		}
	}
	if len(added) == 0 {
		return nil
	}
	if err := e.recordPlan(p, added); err != nil {
		return err
	}
	return e.fenceAdded(ctx, p, added)
}

// fenceAdded write-blocks the leaders of indices added to the plan after
// the fence step ran, so that they are fenced like the rest. A leader gone
// since is skipped, like the fence of a failover; one that answers but
// refuses fails the attempt.
func (e *Executor) fenceAdded(ctx context.Context, p *promote.Promotion, added map[string]string) error {
	if s, ok := p.Last(promote.StepFence, ""); !ok || s.Status != promote.StepDone {
		return nil // the leader was not fenced at all: nothing to extend
	}
	leaders := make([]string, 0, len(added))
	for _, l := range added {
		leaders = append(leaders, l)
	}
	slices.Sort(leaders)
	target := strings.Join(leaders, ",")
	if s, ok := p.Last(promote.StepFence, target); ok && s.Status != promote.StepStarted {
		return nil
	}
	if err := e.record(p, promote.Step{Name: promote.StepFence, Target: target, Status: promote.StepStarted}); err != nil {
		return err
	}
	err := e.call(ctx, func(ctx context.Context) error { return e.Leader.BlockWrite(ctx, leaders) })
	switch {
	case err == nil:
		return e.record(p, promote.Step{Name: promote.StepFence, Target: target, Status: promote.StepDone, Detail: fmt.Sprintf("write-blocked %d more leader indices", len(leaders))})
	case !p.Graceful && !answered(err):
		// The leader went away since it was fenced: nothing answers to
		// take writes on these indices either.
		return e.record(p, promote.Step{Name: promote.StepFence, Target: target, Status: promote.StepSkipped, Detail: "leader unreachable (" + string(opensearch.ClassOf(err)) + "): not fenced"})
	}
	why := "the leader answers but refused the write block: " + err.Error()
	_ = e.record(p, promote.Step{Name: promote.StepFence, Target: target, Status: promote.StepFailed, Detail: why})
	return fmt.Errorf("fence: %s; no replication is stopped under a live, unfenced leader", why)
}

// fence write-blocks the leader before any further _stop of this attempt
// (steps.Fencer: decided anew on every attempt until done; a live leader
// that refuses fails the attempt; a graceful promotion requires it).
func (e *Executor) fence(ctx context.Context, p *promote.Promotion) (bool, error) {
	f := steps.Fencer{Leader: e.Leader, Enabled: e.FenceLeader, Record: e.record, Call: e.call, Liveness: e.liveness(p), Window: e.Window,
		OnDown: func(class observe.Class) { e.hung = class == observe.ClassTimeout }}
	return f.Fence(ctx, p, "no replication is stopped under a live, unfenced leader")
}

// liveness is the bound of p's checks of whether the leader answers: the
// policy's short one for a promotion the policy decided (the leader was
// found down, with its witness); a whole step timeout for one a human
// started by hand or a graceful one - the leader may be alive, only
// slow, and must be fenced.
func (e *Executor) liveness(p *promote.Promotion) time.Duration {
	if p.ByHand || p.Graceful {
		return 0
	}
	return e.Liveness
}

// detach points the follower's remote alias of the leader at a refused
// loopback address (opensearch.DetachAddress, proxy mode), journaled with
// the settings it replaced, when the leader hangs (its check timed out in
// this attempt): the plugin's _stop closes the follower index and then
// waits for the leader - with no bound of its own - before it reopens it.
// Seen on the lab with the leader SIGSTOPped: the stop returned only when
// the leader resumed, or within a second of the alias's change. The alias
// stays known and reads disconnected, so other pairs that follow through
// it see their leader lost and fail over by their own rules. It also ends
// the follower's replication from the hung leader: after the promotion
// nothing is to be pulled from it. Done once per promotion.
func (e *Executor) detach(ctx context.Context, p *promote.Promotion) error {
	if s, ok := p.Last(promote.StepDetach, ""); ok && s.Status == promote.StepDone {
		return nil
	}
	var settings map[string]json.RawMessage
	if err := e.call(ctx, func(ctx context.Context) (err error) {
		settings, err = e.Follower.RemoteClusterSettings(ctx, e.Alias)
		return err
	}); err != nil {
		return fmt.Errorf("detach the hung leader: read the remote cluster settings: %w", err)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	was := make([]string, 0, len(keys))
	for _, k := range keys {
		was = append(was, k+"="+string(settings[k]))
	}
	detail := strings.Join(was, " ")
	if err := e.record(p, promote.Step{Name: promote.StepDetach, Status: promote.StepStarted, Detail: detail}); err != nil {
		return err
	}
	if err := e.call(ctx, func(ctx context.Context) error { return e.Follower.DetachRemoteCluster(ctx, e.Alias, keys) }); err != nil {
		_ = e.record(p, promote.Step{Name: promote.StepDetach, Status: promote.StepFailed, Detail: err.Error()})
		return fmt.Errorf("detach the hung leader: %w", err)
	}
	e.Log.Warn("the leader hangs: pointed the follower's remote alias at a refused address, so that the stops do not wait for it",
		zap.String("alias", e.Alias), zap.String("address", opensearch.DetachAddress), zap.Strings("replaced", was))
	return e.record(p, promote.Step{Name: promote.StepDetach, Status: promote.StepDone,
		Detail: fmt.Sprintf("cluster.remote.%s pointed at %s (proxy mode, refused); it was (set it again for failback): %s", e.Alias, opensearch.DetachAddress, detail)})
}

// refence re-checks, between batches of stops, a leader whose fence this
// promotion skipped because it did not answer: if it answers now, it is
// fenced (journaled) before any further stop. Quiet while it stays away.
func (e *Executor) refence(ctx context.Context, p *promote.Promotion) error {
	if !e.FenceLeader {
		return nil
	}
	if s, ok := p.Last(promote.StepFence, ""); !ok || s.Status != promote.StepSkipped {
		return nil // fenced already (or failed: the attempt stopped)
	}
	alive, _, err := steps.LeaderAnswers(ctx, e.call, e.Leader, e.liveness(p), e.Window)
	if err != nil {
		return fmt.Errorf("re-check of the unfenced leader between batches of stops: %w; no further replication is stopped in this attempt", err)
	}
	if !alive {
		return nil
	}
	// A leader that answers at all - even 401, 403 or 429 - is alive.
	e.Log.Warn("the leader answers again in the middle of the promotion: fencing it before any further stop")
	_, err = e.fence(ctx, p)
	return err
}

func (e *Executor) catchUp(ctx context.Context, p *promote.Promotion) error {
	return steps.WaitCaughtUp(ctx, p, e.record, e.CatchUp, "no replication is stopped")
}

// deleteAutofollow deletes every autofollow rule of the follower, so the
// old leader's new indices are not followed again.
func (e *Executor) deleteAutofollow(ctx context.Context, p *promote.Promotion) error {
	var st opensearch.AutofollowStats
	err := e.call(ctx, func(ctx context.Context) (err error) {
		st, err = e.Follower.AutofollowStats(ctx)
		return err
	})
	if err != nil {
		_ = e.record(p, promote.Step{Name: promote.StepAutofollow, Status: promote.StepFailed, Detail: "list rules: " + err.Error()})
		return fmt.Errorf("list autofollow rules: %w", err)
	}
	var errs []error
	for _, r := range st.Rules {
		if !RuleInScope(r.Pattern, e.Indices) {
			continue // another pair's rule: not ours to delete
		}
		err := e.runner().Do(ctx, p, promote.Step{Name: promote.StepAutofollow, Target: r.Name}, func(ctx context.Context) (string, error) {
			err := e.Follower.DeleteAutofollow(ctx, e.Alias, r.Name)
			switch {
			case err == nil:
				return "deleted", nil
			case unknownRule(err):
				// The plugin does not know the rule under this alias: it
				// belongs to another remote cluster. Leaving it is right;
				// failing the promotion for it is not. Any other failure
				// (the plugin also answers 500 when it cannot update the
				// rule) fails the step and is retried.
				e.Log.Warn("autofollow rule left in place", zap.String("rule", r.Name), zap.Error(err))
				return "", steps.Skip("not deleted: the plugin does not know it under alias " + e.Alias + " (" + err.Error() + ")")
			}
			return "", err
		})
		var jerr *steps.JournalError
		switch {
		case errors.As(err, &jerr):
			return err
		case err != nil:
			errs = append(errs, fmt.Errorf("autofollow rule %s: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}

// RuleInScope reports whether an autofollow rule's pattern can match an
// index of the pair's scope (its index patterns). It compares the literal
// prefixes before the first wildcard: a rule whose prefix and a scope
// pattern's prefix extend one another may overlap; an exclusion that
// covers the rule's prefix takes it out. Otherwise it errs on the side of
// deleting a rule that may feed the pair.
func RuleInScope(rule string, scope []string) bool {
	rp := literalPrefix(rule)
	for _, s := range scope {
		// An exclusion with a wildcard whose prefix covers the rule's
		// ("-logs-*" for rule "logs-2026-*") takes the rule out.
		if x, ok := strings.CutPrefix(s, "-"); ok && strings.ContainsAny(x, "*?") && strings.HasPrefix(rp, literalPrefix(x)) {
			return false
		}
	}
	for _, s := range scope {
		if strings.HasPrefix(s, "-") {
			continue
		}
		sp := literalPrefix(s)
		if !strings.Contains(s, "*") && !strings.Contains(rule, "*") {
			if s == rule {
				return true
			}
			continue
		}
		if strings.HasPrefix(rp, sp) || strings.HasPrefix(sp, rp) {
			return true
		}
	}
	return false
}

func literalPrefix(p string) string {
	if i := strings.IndexAny(p, "*?"); i >= 0 {
		return p[:i]
	}
	return p
}

// FenceOldLeader write-blocks the old leader's copies of a finished
// promotion's indices: it answers again after the promotion, and must not
// take writes the promoted follower never sees. Write-blocking is
// idempotent.
func (e *Executor) FenceOldLeader(ctx context.Context, p *promote.Promotion) (string, error) {
	if p == nil || len(p.Plan) == 0 {
		return "", errors.New("no promotion plan in the journal: nothing known to fence")
	}
	leaders := p.LeaderIndices()
	if err := e.call(ctx, func(ctx context.Context) error { return e.Leader.BlockWrite(ctx, leaders) }); err != nil {
		return "", fmt.Errorf("write-block the old leader: %w", err)
	}
	return fmt.Sprintf("write-blocked %d leader indices", len(leaders)), nil
}

// answered reports whether a call failed with an answer from the cluster
// (an HTTP status), as opposed to no answer at all.
func answered(err error) bool {
	e, ok := opensearch.AsError(err)
	return ok && e.Status != 0
}

// unknownRule reports whether a delete failed because the rule does not
// exist (under the alias used).
func unknownRule(err error) bool {
	e, ok := opensearch.AsError(err)
	if !ok || e.Status == 0 {
		return false
	}
	d := strings.ToLower(e.Detail)
	return e.Type == "resource_not_found_exception" || strings.Contains(d, "does not exist") ||
		strings.Contains(d, "doesn't exist") || strings.Contains(d, "not found")
}

// stopAll stops replication on every planned index not already stopped,
// at most Concurrency at a time. It returns the indices it could not stop.
// An index whose primaries are not all started - still restoring from
// the leader - is never stopped (the plugin deletes a restoring index on
// _stop): it is journaled lost, once, and left as it is.
func (e *Executor) stopAll(ctx context.Context, p *promote.Promotion) (map[string]string, error) {
	todo, err := e.skipLost(ctx, p, pendingStops(p))
	if err != nil {
		return nil, err
	}
	failed := map[string]string{}
	failRest := func(from int, err error) {
		for _, idx := range todo[from:] {
			if _, ok := failed[idx]; !ok {
				failed[idx] = err.Error()
			}
		}
	}
	conc := max(e.Concurrency, 1)
	done := 0
	var before topology
	if len(todo) > 0 {
		before = e.topology(ctx)
	}
	for i := 0; i < len(todo); i += conc {
		if i > 0 {
			// A leader unreachable when this attempt began may answer
			// again mid-way (a partition heals): fence it before the next
			// stop, or stop the attempt if it refuses.
			if err := e.refence(ctx, p); err != nil {
				failRest(i, err)
				return failed, err
			}
		}
		batch := todo[i:min(i+conc, len(todo))]
		started := make([]promote.Step, len(batch))
		for j, idx := range batch {
			started[j] = promote.Step{Name: promote.StepStop, Target: idx, Status: promote.StepStarted}
		}
		if err := e.record(p, started...); err != nil {
			failRest(i, err)
			return failed, nil
		}
		results, stuck := e.stopBatch(ctx, batch)
		if len(stuck) > 0 {
			// Stops cut short with their index closed or still
			// following: the plugin waits on the leader. One that
			// hangs now (frozen mid-promotion, after it was fenced) is
			// detached, and those stops are sent again.
			if again, err := e.unstick(ctx, p, stuck); err != nil {
				failRest(i, err)
				return failed, err
			} else if again {
				retried, _ := e.stopBatch(ctx, stuck)
				for k := range results {
					for _, r := range retried {
						if results[k].Target == r.Target {
							results[k] = r
						}
					}
				}
			}
		}
		for _, r := range results {
			if r.Status == promote.StepFailed {
				failed[r.Target] = r.Detail
			}
		}
		if err := e.record(p, results...); err != nil {
			failRest(i, err)
			return failed, nil
		}
		after := e.topology(ctx)
		if change := before.change(after); change != "" {
			if err := e.markUnsettled(p, results, change); err != nil {
				failRest(i, err)
				return failed, nil
			}
		}
		before = after
		for _, r := range results {
			if r.Status != promote.StepDone {
				e.Log.Warn("stop failed", zap.String("index", r.Target), zap.String("error", r.Detail))
				continue
			}
			done++
			e.Log.Info("replication stopped", zap.String("index", r.Target), zap.String("detail", r.Detail))
			if hook := e.afterStop; hook != nil {
				hook(done)
			} else if crashAfterStops != nil {
				crashAfterStops(done)
			}
		}
	}
	return failed, nil
}

// pendingStops are the planned indices not yet stopped (or found lost),
// sorted.
func pendingStops(p *promote.Promotion) []string {
	var todo []string
	for idx := range p.Plan {
		if s, ok := p.Last(promote.StepStop, idx); ok && (s.Status == promote.StepDone || s.Status == promote.StepSkipped) {
			continue // stopped (or found lost) before: not touched again
		}
		todo = append(todo, idx)
	}
	slices.Sort(todo)
	return todo
}

// skipLost journals the indices of todo still restoring from the leader
// as lost (a stop would delete them), and returns the others.
func (e *Executor) skipLost(ctx context.Context, p *promote.Promotion, todo []string) ([]string, error) {
	if len(todo) == 0 {
		return todo, nil
	}
	restoring, err := e.restoring(ctx, todo)
	if err != nil {
		return nil, err
	}
	var lost []promote.Step
	for _, idx := range todo {
		if why, ok := restoring[idx]; ok {
			lost = append(lost, promote.Step{Name: promote.StepStop, Target: idx, Status: promote.StepSkipped, Lost: true, Detail: promote.LostPrefix + why})
		}
	}
	if len(lost) == 0 {
		return todo, nil
	}
	if err := e.record(p, lost...); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(todo, func(idx string) bool { _, ok := restoring[idx]; return ok }), nil
}

// stopBatch stops replication on every index of batch at once, and says
// how each went.
func (e *Executor) stopBatch(ctx context.Context, batch []string) ([]promote.Step, []string) {
	results := make([]promote.Step, len(batch))
	cutShort := make([]bool, len(batch))
	var wg sync.WaitGroup
	for j, idx := range batch {
		wg.Go(func() {
			err := e.callFor(ctx, e.stopTimeout(), func(ctx context.Context) error { return e.Follower.StopReplication(ctx, idx) })
			c := opensearch.ClassOf(err)
			cutShort[j] = c == observe.ClassTimeout || c == observe.ClassCanceled
			st := promote.Step{Name: promote.StepStop, Target: idx, Status: promote.StepDone, Detail: "replication stopped"}
			switch {
			case errors.Is(err, opensearch.ErrNotReplicating):
				st.Detail = "no replication in progress: already stopped"
			case err != nil:
				st.Status, st.Detail = promote.StepFailed, err.Error()
			}
			results[j] = st
		})
	}
	wg.Wait()
	cut := map[string]bool{}
	for j, idx := range batch {
		cut[idx] = cutShort[j]
	}
	return results, e.describeFailed(ctx, results, cut)
}

// StopTimeout bounds one _stop (a healthy one takes well under a second).
// Under a hung leader the plugin closes the follower index, then waits on
// the leader with no bound of its own before it reopens it: a stop cut
// short by this bound leaves its index closed or still following, and
// the leader is then checked - a hung one is detached (see detach) and
// the stop sent again; otherwise the attempt's retry finds the stop done
// or sends it again.
const StopTimeout = 20 * time.Second

func (e *Executor) stopTimeout() time.Duration {
	if e.StopTimeout > 0 {
		return e.StopTimeout
	}
	return StopTimeout
}

// unstick checks, after stops cut short, whether the leader hangs; if it
// does (and was not detached yet), it is detached: it reports whether the
// stops should be sent again.
func (e *Executor) unstick(ctx context.Context, p *promote.Promotion, stuck []string) (bool, error) {
	if s, ok := p.Last(promote.StepDetach, ""); ok && s.Status == promote.StepDone {
		return false, nil // detached already: the retry's stops find them done
	}
	// The short bound even by hand: these stops already wait on the
	// leader with their index closed, and the leader, if it answered
	// before, is fenced - detaching a slow one costs nothing more.
	alive, class, err := steps.LeaderAnswers(ctx, e.call, e.Leader, e.Liveness, e.Window)
	if err != nil || alive || class != observe.ClassTimeout {
		return false, nil // not a hang (or unknown): the attempt's retry decides
	}
	e.Log.Warn("stops cut short while the leader hangs: detaching it", zap.Strings("indices", stuck))
	if err := e.detach(ctx, p); err != nil {
		return false, err
	}
	return true, nil
}

// describeFailed adds to each failed stop what the follower index is now:
// open or closed, still following or not - a stop cut short may have left
// it closed, and says so; the retry stops it again (or finds it done) and
// verification requires it open and writable.
//
// It returns the stops that were cut short (cut: a timeout or a
// cancellation) with their index left closed or still following: stuck on
// the leader.
func (e *Executor) describeFailed(ctx context.Context, results []promote.Step, cut map[string]bool) (stuck []string) {
	var names []string
	for _, r := range results {
		if r.Status == promote.StepFailed {
			names = append(names, r.Target)
		}
	}
	if len(names) == 0 {
		return nil
	}
	var (
		states map[string]opensearch.IndexState
		fis    map[string]opensearch.FollowerIndex
	)
	err := e.call(ctx, func(ctx context.Context) (err error) {
		if states, err = e.Follower.IndexStates(ctx, names); err != nil {
			return err
		}
		fis, err = e.Follower.FollowerIndices(ctx, names)
		return err
	})
	for i := range results {
		r := &results[i]
		if r.Status != promote.StepFailed {
			continue
		}
		if err != nil {
			r.Detail += "; the index's state could not be read: " + err.Error()
			if cut[r.Target] {
				stuck = append(stuck, r.Target)
			}
			continue
		}
		st := states[r.Target]
		var what []string
		switch {
		case !st.Exists:
			what = append(what, "missing")
		case st.Open:
			what = append(what, "open")
		default:
			what = append(what, "closed (the stop was cut short; it is stopped again on the retry)")
		}
		if _, ok := fis[r.Target]; ok {
			what = append(what, "still following its leader")
		} else if st.Exists {
			what = append(what, "no longer following")
		}
		r.Detail += "; the follower index is now " + strings.Join(what, ", ")
		if _, following := fis[r.Target]; cut[r.Target] && st.Exists && (!st.Open || following) {
			stuck = append(stuck, r.Target)
		}
	}
	return stuck
}

// lostIndex reports whether a planned index was found lost, and why: its
// last stop or verify step says so (Step.Lost).
func lostIndex(p *promote.Promotion, idx string) (string, bool) {
	for _, name := range []promote.StepKind{promote.StepStop, promote.StepVerify} {
		if s, ok := p.Last(name, idx); ok && s.Lost {
			return strings.TrimPrefix(s.Detail, promote.LostPrefix), true // the words, for people
		}
	}
	return "", false
}

// restoring returns the indices among names whose primaries are not all
// started on the follower, with why.
func (e *Executor) restoring(ctx context.Context, names []string) (map[string]string, error) {
	var (
		fis    map[string]opensearch.FollowerIndex
		seqs   map[string]opensearch.IndexSeqNos
		states map[string]opensearch.IndexState
	)
	err := e.call(ctx, func(ctx context.Context) (err error) {
		if fis, err = e.Follower.FollowerIndices(ctx, names); err != nil {
			return err
		}
		if states, err = e.Follower.IndexStates(ctx, names); err != nil {
			return err
		}
		seqs, err = e.Follower.ShardSeqNos(ctx, names)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the follower indices' shards: %w", err)
	}
	out := map[string]string{}
	for _, idx := range names {
		fi, ok := fis[idx]
		if !ok {
			continue // no longer a follower index: stopped already, verify says
		}
		if st, ok := states[idx]; ok && !st.Open {
			// A closed index has no started primaries, but it is not
			// restoring: a _stop closes it first (one cut short under a
			// hung leader leaves it so). It is stopped again.
			continue
		}
		if started := len(seqs[idx]); started < fi.Shards {
			out[idx] = fmt.Sprintf("%d of %d primaries not started: still restoring from the leader, not stopped (a _stop deletes a restoring index); its data never reached the follower", fi.Shards-started, fi.Shards)
		}
	}
	return out, nil
}

// verify checks every planned index: open, no longer a follower, and free
// of the replication block. A lost index is not checked; one that is gone
// is journaled lost (retrying cannot bring it back).
func (e *Executor) verify(ctx context.Context, p *promote.Promotion) (bad, unassigned map[string]string, err error) {
	names := make([]string, 0, len(p.Plan))
	for idx := range p.Plan {
		if _, lost := lostIndex(p, idx); !lost {
			names = append(names, idx)
		}
	}
	slices.Sort(names)
	bad = map[string]string{}
	if len(names) == 0 {
		return bad, nil, e.record(p, promote.Step{Name: promote.StepVerify, Status: promote.StepDone, Detail: "no follower index in scope"})
	}
	var (
		states    map[string]opensearch.IndexState
		followers map[string]opensearch.FollowerIndex
	)
	err = e.call(ctx, func(ctx context.Context) (err error) {
		if states, err = e.Follower.IndexStates(ctx, names); err != nil {
			return err
		}
		followers, err = e.Follower.FollowerIndices(ctx, names)
		return err
	})
	if err != nil {
		_ = e.record(p, promote.Step{Name: promote.StepVerify, Status: promote.StepFailed, Detail: err.Error()})
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	var gone []promote.Step
	for _, idx := range names {
		st := states[idx]
		if st.Exists && !st.Open && followers[idx].LeaderIndex == "" && !replicationBlocked(st) {
			// Replication removed, the reopen never came (a _stop cut
			// short): open it, as the plugin would have. An index left
			// closed takes no writes on the side that now owns them.
			if err := e.reopen(ctx, p, idx); err != nil {
				if jerr := (*steps.JournalError)(nil); errors.As(err, &jerr) {
					return nil, nil, err // the journal does not know: the attempt ends
				}
				bad[idx] = "index is closed and could not be opened: " + err.Error()
				continue
			}
			st.Open = true
		}
		switch {
		case !st.Exists:
			gone = append(gone, promote.Step{Name: promote.StepVerify, Target: idx, Status: promote.StepSkipped, Lost: true,
				Detail: "index not found on the follower after its stop: gone, not retried"})
		case !st.Open:
			bad[idx] = "index is closed"
		case followers[idx].LeaderIndex != "":
			bad[idx] = "still a follower index (replication settings present)"
		default:
			if b, ok := st.ReplicationBlock(); ok {
				bad[idx] = "replication block still present: " + b.String()
			}
		}
	}
	if len(gone) > 0 {
		if err := e.record(p, gone...); err != nil {
			return nil, nil, err
		}
	}
	// Open and standalone is not yet writable: each primary must be
	// active (a node lost during the stops may have taken one away).
	var allocate []string
	for _, idx := range names {
		if _, b := bad[idx]; !b && states[idx].Exists {
			allocate = append(allocate, idx)
		}
	}
	if len(allocate) > 0 {
		var missing map[string]string
		unassigned, missing, err = e.primariesUnassigned(ctx, allocate, e.primaryWait())
		maps.Copy(bad, missing)
		if err != nil {
			_ = e.record(p, promote.Step{Name: promote.StepVerify, Status: promote.StepFailed, Detail: err.Error()})
			return nil, nil, fmt.Errorf("verify: %w", err)
		}
	}
	// Stopped, standalone, but no active primary: the follower holds the
	// only in-sync copy on a node it lost. Nothing drwatch sends changes
	// that (the copy comes back with the node); retrying would only hold
	// the pair short of promoted while the follower takes the writes of
	// every other index. The result names them.
	status, detail := promote.StepDone, fmt.Sprintf("%d indices open and writable", len(names)-len(gone)-len(unassigned))
	if len(unassigned) > 0 {
		detail += fmt.Sprintf("; %d standalone without an active primary: %s", len(unassigned), promote.Summarize(unassigned))
	}
	if len(bad) > 0 {
		status, detail = promote.StepFailed, promote.Summarize(bad)
	}
	return bad, unassigned, e.record(p, promote.Step{Name: promote.StepVerify, Status: status, Detail: detail})
}

// primaryWait bounds how long verify waits for promoted indices'
// primaries to be active: StepTimeout (default 30s).
func (e *Executor) primaryWait() time.Duration {
	if e.StepTimeout > 0 {
		return e.StepTimeout
	}
	return 30 * time.Second
}

// replicationBlocked reports whether an index still carries the
// replication block.
func replicationBlocked(st opensearch.IndexState) bool {
	_, ok := st.ReplicationBlock()
	return ok
}

// reopen opens a planned index found closed after its replication was
// removed, journaled.
func (e *Executor) reopen(ctx context.Context, p *promote.Promotion, idx string) error {
	return e.runner().Do(ctx, p, promote.Step{Name: promote.StepReopen, Target: idx}, func(ctx context.Context) (string, error) {
		if err := e.Follower.OpenIndex(ctx, idx); err != nil {
			return "", err
		}
		e.Log.Warn("reopened a promoted index its stop left closed", zap.String("index", idx))
		return "found closed after its replication was removed (a stop cut short): opened", nil
	})
}

// crashAfterStops is set only in crashhook builds (see crashhook.go).
var crashAfterStops func(done int)
