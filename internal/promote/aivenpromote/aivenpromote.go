// Package aivenpromote promotes the follower service of an Aiven for
// OpenSearch pair into a standalone service, the way Aiven does it: by
// deleting the opensearch_cross_cluster_replication service integration
// whose destination is the follower service and whose source is the leader
// service (docs/aiven.md, "What promote to standalone is"; there is no
// promote call). It then verifies that the integration is gone and
// that every in-scope follower index is writable, read through OpenSearch
// (Aiven stops replication asynchronously, so both checks poll, bounded).
// Before the delete it fences a leader that answers (write-blocks its
// copies, promote/steps, as the replication plugin's executor does), and a
// graceful promotion also waits until the follower has caught up with the
// fenced leader: a planned move loses nothing.
//
// The delete is journaled before it is sent and after it answers, and is
// made at most once: a run that finds a delete step in the journal never
// looks for an integration again, and reads the journaled one before
// deleting it (gone: done). Aiven unreachable or failing fails the attempt
// with the reason in words; the executor has no way to fall back to the
// replication plugin's _stop - its Follower interface has no such call.
//
// It implements promote.Executor. It never decides whether to promote
// (internal/policy does).
package aivenpromote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/steps"
)

// API is what promotion needs of the Aiven API (*aiven.Client). Each call
// carries its own deadline and bounded, logged retries.
type API interface {
	ServiceIntegrations(ctx context.Context, project, service string) ([]aiven.Integration, error)
	GetIntegration(ctx context.Context, project, id string) (aiven.Integration, error)
	DeleteIntegration(ctx context.Context, project, id string) error
}

// Leader is what promotion needs of the old leader's OpenSearch: to fence
// it.
type Leader = steps.Leader

// Follower is what promotion needs of the follower's OpenSearch: reads
// only. It deliberately lacks StopReplication: an Aiven pair is promoted
// through the Aiven API or not at all.
type Follower interface {
	FollowerIndices(ctx context.Context, patterns []string) (map[string]opensearch.FollowerIndex, error)
	IndexStates(ctx context.Context, indices []string) (map[string]opensearch.IndexState, error)
}

// Journal records promotion steps durably.
type Journal = steps.Journal

// Defaults of the Executor's bounds.
const (
	// DefaultStepTimeout bounds one call (the Aiven client bounds its own
	// calls, retries included, at 30 s; this is the outer bound).
	DefaultStepTimeout = 45 * time.Second
	// DefaultGoneTimeout bounds the wait for the deleted integration to
	// answer 404.
	DefaultGoneTimeout = time.Minute
	// DefaultWritableTimeout bounds the wait for every follower index to
	// be writable after the delete: Aiven stops replication on the
	// follower asynchronously.
	DefaultWritableTimeout = 2 * time.Minute
	// DefaultPollInterval is the pause between two checks of a wait.
	DefaultPollInterval = time.Second
)

// Executor promotes one Aiven pair.
type Executor struct {
	Pair            string
	Project         string // the aiven block's project (the follower's)
	LeaderService   string
	FollowerService string
	// Alias is the follower's remote alias for the leader
	// (<leader project>_<leader service> on Aiven): follower indices of
	// another remote are not this pair's.
	Alias   string
	Indices []string // follower index patterns in scope

	API      API
	Leader   Leader
	Follower Follower
	Journal  Journal
	Log      *zap.Logger
	Now      func() time.Time
	// FenceLeader is the policy's fence_leader: write-block a leader that
	// answers before the integration is deleted.
	FenceLeader bool
	// CatchUp, for graceful promotions, waits until every planned index
	// has caught up with the fenced leader (steps.CatchUp). Nil: graceful
	// promotions are refused.
	CatchUp func(ctx context.Context, plan map[string]string) error

	StepTimeout time.Duration
	// Liveness bounds the fence's check of whether the leader answers
	// (0: the step timeout).
	Liveness time.Duration
	// Window, with ha, is the end of the lease's window (steps.Bound):
	// no call outlives it. Nil without ha.
	Window          func() time.Time
	GoneTimeout     time.Duration
	WritableTimeout time.Duration
	PollInterval    time.Duration
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// runner is the shared step runner (steps.Runner) of this executor's
// pair: journal, bounds, crash hook.
func (e *Executor) runner() steps.Runner {
	return steps.Runner{Pair: e.Pair, Journal: e.Journal, StepTimeout: orDefault(e.StepTimeout, DefaultStepTimeout), Window: e.Window, Now: e.Now}
}

func (e *Executor) record(p *promote.Promotion, done ...promote.Step) error {
	return e.runner().Record(p, done...)
}

func (e *Executor) call(ctx context.Context, f func(context.Context) error) error {
	return e.runner().Call(ctx, f)
}

// noFallback ends the error of a failed Aiven call.
const noFallback = "the follower is not promoted by this attempt; drwatch promotes an Aiven pair only through the Aiven API (never with the replication API's _stop) and retries"

// integrationTarget is the target of the verify step of the integration's
// removal (index names cannot contain ':').
func integrationTarget(id string) string { return "integration:" + id }

// Run runs (or resumes) promotion p. The error is nil only when the CCR
// integration is deleted and gone and every planned index is verified
// writable.
func (e *Executor) Run(ctx context.Context, p *promote.Promotion) (promote.Result, error) {
	res := promote.Result{Failed: map[string]string{}, Lost: map[string]string{}}
	if p.Graceful && e.CatchUp == nil {
		return res, fmt.Errorf("%w: graceful promotion: no catch-up check configured; nothing was changed", promote.ErrRefused)
	}
	if err := e.plan(ctx, p); err != nil {
		return res, err
	}
	liveness := e.Liveness
	if p.ByHand || p.Graceful {
		liveness = 0 // a human's promotion: the leader may be alive, only slow
	}
	fence := steps.Fencer{Leader: e.Leader, Enabled: e.FenceLeader, Record: e.record, Call: e.call, Liveness: liveness, Window: e.Window}
	deleted := deleteDone(p)
	refused := "no integration is deleted under a live, unfenced leader"
	if deleted {
		refused = "the integration was deleted by an earlier attempt, so the follower takes writes while the old leader answers unfenced: " +
			"both sides are writable until the old leader is write-blocked (drwatch retries the fence; block it by hand if it keeps refusing)"
	}
	fenced, fenceErr := fence.Fence(ctx, p, refused)
	res.Fenced = fenced
	if fenceErr != nil && !deleted {
		if s, ok := lastDelete(p); !ok || !e.goneAlready(ctx, p, s.Target) {
			return res, fenceErr
		}
		fenceErr = fmt.Errorf("%w; and yet the integration is gone (an earlier attempt's delete took effect): the follower takes writes while the old leader answers unfenced: "+
			"both sides are writable until the old leader is write-blocked (drwatch retries the fence; block it by hand if it keeps refusing)", fenceErr)
	}
	// With the integration deleted already (its delete journaled done), a
	// refused fence does not stop the verification: the attempt finishes
	// it and then fails with the fence's reason, and the retry fences
	// again. A delete journaled but not done may not have happened: then
	// nothing more is deleted under the live leader (above).
	if p.Graceful {
		if err := e.catchUp(ctx, p); err != nil {
			return res, err
		}
	}
	id, err := e.deleteIntegration(ctx, p)
	if err != nil {
		return res, err
	}
	if err := e.waitGone(ctx, p, id); err != nil {
		return res, err
	}
	bad, err := e.verify(ctx, p)
	if err != nil {
		return res, err
	}
	for idx, why := range bad {
		res.Failed[idx] = why
	}
	res.Tally(p, func(idx string) (string, bool) { return lostIndex(p, idx) }, fmt.Sprintf("Aiven integration %s deleted; ", id))
	var errs []error
	if fenceErr != nil {
		errs = append(errs, fenceErr)
	}
	if len(res.Failed) > 0 {
		errs = append(errs, fmt.Errorf("%d of %d indices not writable %s after the Aiven integration was deleted: %s",
			len(res.Failed), len(p.Plan), orDefault(e.WritableTimeout, DefaultWritableTimeout), promote.Summarize(res.Failed)))
	}
	return res, errors.Join(errs...)
}

// catchUp waits, journaled, until the follower holds everything the fenced
// leader has.
func (e *Executor) catchUp(ctx context.Context, p *promote.Promotion) error {
	return steps.WaitCaughtUp(ctx, p, e.record, e.CatchUp, "the integration is not deleted")
}

// plan fixes the follower indices to verify, once, from the follower's
// OpenSearch before anything is deleted (afterwards they are no longer
// follower indices); a restart rebuilds it from the journal.
func (e *Executor) plan(ctx context.Context, p *promote.Promotion) error {
	planFromSteps(p)
	if p.Plan != nil {
		return nil
	}
	if _, ok := lastDelete(p); ok {
		// A delete was journaled without a plan: the journal is not one
		// this executor wrote. Listing follower indices now would find none.
		return errors.New("plan: the journal holds an integration delete but no plan; cannot verify the follower indices")
	}
	var fis map[string]opensearch.FollowerIndex
	err := e.call(ctx, func(ctx context.Context) (err error) {
		fis, err = e.Follower.FollowerIndices(ctx, e.Indices)
		return err
	})
	if err != nil {
		return fmt.Errorf("plan: list follower indices through OpenSearch: %w", err)
	}
	plan := make(map[string]string, len(fis))
	for idx, fi := range fis {
		if fi.LeaderAlias == e.Alias {
			plan[idx] = fi.LeaderIndex
		}
	}
	if len(plan) == 0 {
		// Deleting the integration would stop whatever replication Aiven
		// runs for the follower, with nothing here to verify: a
		// leader_alias that is not Aiven's, or no index replicated yet.
		return fmt.Errorf("plan: no follower index in scope (%s) replicates from the remote alias %s (%d follower indices of other aliases): "+
			"nothing to verify after deleting the Aiven integration, so it is not deleted; check the pair's leader_alias (Aiven's is <leader project>_<leader service>) and indices",
			strings.Join(e.Indices, ","), e.Alias, len(fis))
	}
	if err := e.record(p, promote.PlanSteps(plan, len(plan))...); err != nil {
		return err
	}
	p.Plan = plan
	return nil
}

// planFromSteps rebuilds a plan journaled as one step per index.
func planFromSteps(p *promote.Promotion) {
	if p.Plan != nil {
		return
	}
	for _, s := range p.Steps {
		if s.Name == promote.StepPlan && s.Target != "" {
			if p.Plan == nil {
				p.Plan = map[string]string{}
			}
			p.Plan[s.Target] = s.Detail
		}
	}
}

// goneAlready reports whether the integration of a delete journaled but
// not done is gone (HTTP 404), and journals it done if so: the delete took
// effect. Present, or unknown, is not gone.
func (e *Executor) goneAlready(ctx context.Context, p *promote.Promotion, id string) bool {
	err := e.call(ctx, func(ctx context.Context) error { _, err := e.API.GetIntegration(ctx, e.Project, id); return err })
	if !aiven.IsNotFound(err) {
		return false
	}
	return e.record(p, promote.Step{Name: promote.StepDeleteIntegration, Target: id, Status: promote.StepDone,
		Detail: "gone (HTTP 404) when resumed: the earlier delete took effect"}) == nil
}

// deleteDone reports whether the integration's delete is journaled done
// (deleted, or found gone).
func deleteDone(p *promote.Promotion) bool {
	s, ok := lastDelete(p)
	return ok && s.Status == promote.StepDone
}

// lastDelete is the latest journaled delete step, whatever its target.
func lastDelete(p *promote.Promotion) (promote.Step, bool) {
	for i := len(p.Steps) - 1; i >= 0; i-- {
		if s := p.Steps[i]; s.Name == promote.StepDeleteIntegration && s.Target != "" {
			return s, true
		}
	}
	return promote.Step{}, false
}

// deleteIntegration deletes the pair's CCR integration at most once and
// returns its id. On a first run it finds the integration; once a delete
// step is journaled, only that integration is ever touched: done means
// never again; started or failed (the delete may have happened, or not)
// means read it first - 404 is done, present is deleted.
func (e *Executor) deleteIntegration(ctx context.Context, p *promote.Promotion) (string, error) {
	var id, detail string
	if s, ok := lastDelete(p); ok {
		id = s.Target
		if s.Status == promote.StepDone {
			return id, nil
		}
		var err error
		err = e.call(ctx, func(ctx context.Context) error { _, err := e.API.GetIntegration(ctx, e.Project, id); return err })
		switch {
		case aiven.IsNotFound(err):
			e.Log.Info("the Aiven integration of an earlier delete is gone: delete done", zap.String("integration", id))
			return id, e.record(p, promote.Step{Name: promote.StepDeleteIntegration, Target: id, Status: promote.StepDone,
				Detail: "gone (HTTP 404) when resumed: the earlier delete took effect"})
		case err != nil:
			_ = e.record(p, promote.Step{Name: promote.StepDeleteIntegration, Target: id, Status: promote.StepFailed, Detail: "check the earlier delete: " + err.Error()})
			return id, fmt.Errorf("promote through the Aiven API: check whether integration %s is gone: %w; %s", id, err, noFallback)
		}
		detail = "still present when resumed: deleting it"
	} else {
		in, err := e.find(ctx)
		if err != nil {
			return "", err
		}
		id, detail = in.ID, fmt.Sprintf("%s integration %s -> %s in project %s", in.Type, in.SourceService, in.DestService, e.Project)
	}
	err := e.runner().Do(ctx, p, promote.Step{Name: promote.StepDeleteIntegration, Target: id, Detail: detail}, func(ctx context.Context) (string, error) {
		e.Log.Warn("promoting the follower service: deleting its Aiven cross-cluster-replication integration",
			zap.String("integration", id), zap.String("project", e.Project), zap.String("leader_service", e.LeaderService),
			zap.String("follower_service", e.FollowerService))
		err := e.API.DeleteIntegration(ctx, e.Project, id)
		switch {
		case err == nil:
			return "deleted", nil
		case aiven.IsNotFound(err):
			// Our own delete's earlier attempt (the client retries a 5xx)
			// or someone else deleted it: either way it is gone.
			return "already gone (HTTP 404 on delete)", nil
		}
		return "", err
	})
	var jerr *steps.JournalError
	if err != nil && !errors.As(err, &jerr) {
		return id, fmt.Errorf("promote through the Aiven API: %w; %s", err, noFallback)
	}
	return id, err
}

// find returns the one CCR integration whose destination is the
// follower service; its source must be the leader service, and it must
// have an id (a malformed answer deletes nothing).
func (e *Executor) find(ctx context.Context) (aiven.Integration, error) {
	var ints []aiven.Integration
	err := e.call(ctx, func(ctx context.Context) (err error) {
		ints, err = e.API.ServiceIntegrations(ctx, e.Project, e.FollowerService)
		return err
	})
	if err != nil {
		return aiven.Integration{}, fmt.Errorf("promote through the Aiven API: find the follower's integration: %w; %s", err, noFallback)
	}
	var ccr []aiven.Integration
	for _, in := range ints {
		if in.IsCCR() && in.DestService == e.FollowerService && (in.DestProject == "" || in.DestProject == e.Project) {
			ccr = append(ccr, in)
		}
	}
	switch {
	case len(ccr) == 0:
		return aiven.Integration{}, fmt.Errorf("no %s integration has service %s of project %s as its destination: on Aiven it is not a follower "+
			"(never set up, or already promoted by someone else); nothing was deleted, and this is not a promotion", aiven.IntegrationTypeCCR, e.FollowerService, e.Project)
	case len(ccr) > 1:
		ids := make([]string, len(ccr))
		for i, in := range ccr {
			ids[i] = in.ID
		}
		return aiven.Integration{}, fmt.Errorf("%d %s integrations have service %s as their destination (%s): refusing to choose; nothing was deleted",
			len(ccr), aiven.IntegrationTypeCCR, e.FollowerService, strings.Join(ids, ", "))
	case ccr[0].ID == "":
		return aiven.Integration{}, fmt.Errorf("the Aiven API listed the %s integration of service %s without an id (a malformed answer): nothing was deleted", aiven.IntegrationTypeCCR, e.FollowerService)
	case ccr[0].SourceService != e.LeaderService:
		return aiven.Integration{}, fmt.Errorf("the %s integration %s of service %s replicates from service %s, not from the pair's leader service %s: "+
			"refusing to delete it (check the pair's aiven.leader_service); nothing was deleted", aiven.IntegrationTypeCCR, ccr[0].ID, e.FollowerService, ccr[0].SourceService, e.LeaderService)
	}
	return ccr[0], nil
}

// waitGone waits, bounded, until the deleted integration answers 404.
func (e *Executor) waitGone(ctx context.Context, p *promote.Promotion, id string) error {
	target := integrationTarget(id)
	if s, ok := p.Last(promote.StepVerify, target); ok && s.Status == promote.StepDone {
		return nil
	}
	bound := orDefault(e.GoneTimeout, DefaultGoneTimeout)
	deadline := time.Now().Add(bound)
	var last string
	for {
		var in aiven.Integration
		err := e.call(ctx, func(ctx context.Context) (err error) {
			in, err = e.API.GetIntegration(ctx, e.Project, id)
			return err
		})
		switch c := aiven.ClassOf(err); {
		case aiven.IsNotFound(err):
			return e.record(p, promote.Step{Name: promote.StepVerify, Target: target, Status: promote.StepDone, Detail: "the integration answers 404: gone"})
		case err == nil:
			last = fmt.Sprintf("still present (active %t, status %q)", in.Active, in.Status)
		case c == aiven.ClassUnauthorized || c == aiven.ClassForbidden || c == aiven.ClassRejected || c == aiven.ClassCanceled:
			last = err.Error() // waiting will not change it
			deadline = time.Time{}
		default:
			last = err.Error()
		}
		if !time.Now().Before(deadline) || !sleep(ctx, orDefault(e.PollInterval, DefaultPollInterval)) {
			why := fmt.Sprintf("the deleted integration %s is not gone after %s: %s", id, bound, last)
			_ = e.record(p, promote.Step{Name: promote.StepVerify, Target: target, Status: promote.StepFailed, Detail: why})
			return fmt.Errorf("verify: %s", why)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// verify waits, bounded, until every planned index is open, no longer a
// follower index, and free of the replication block, read through the
// follower's OpenSearch. An index that does not exist is journaled lost
// (waiting cannot bring it back).
func (e *Executor) verify(ctx context.Context, p *promote.Promotion) (map[string]string, error) {
	names := make([]string, 0, len(p.Plan))
	for idx := range p.Plan {
		if _, lost := lostIndex(p, idx); !lost {
			names = append(names, idx)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, e.record(p, promote.Step{Name: promote.StepVerify, Status: promote.StepDone, Detail: "no follower index in scope"})
	}
	bound := orDefault(e.WritableTimeout, DefaultWritableTimeout)
	deadline := time.Now().Add(bound)
	var (
		bad  map[string]string
		gone []string
	)
	for {
		var err error
		bad, gone, err = e.check(ctx, names)
		if err != nil {
			bad, gone = map[string]string{}, nil
			for _, idx := range names {
				bad[idx] = "not readable through OpenSearch: " + err.Error()
			}
		}
		if len(bad) == 0 || !time.Now().Before(deadline) || !sleep(ctx, orDefault(e.PollInterval, DefaultPollInterval)) {
			break
		}
		e.Log.Debug("waiting for the follower indices to become writable", zap.Int("pending", len(bad)))
	}
	var steps []promote.Step
	for _, idx := range gone {
		steps = append(steps, promote.Step{Name: promote.StepVerify, Target: idx, Status: promote.StepSkipped, Lost: true,
			Detail: "index not found on the follower after the integration's delete: gone, not retried"})
	}
	status, detail := promote.StepDone, fmt.Sprintf("%d indices open and writable", len(names)-len(gone))
	if len(bad) > 0 {
		status, detail = promote.StepFailed, fmt.Sprintf("not writable within %s: %s", bound, promote.Summarize(bad))
	}
	steps = append(steps, promote.Step{Name: promote.StepVerify, Status: status, Detail: detail})
	return bad, e.record(p, steps...)
}

// check reads the indices once: those not writable, with why, and those
// that do not exist.
func (e *Executor) check(ctx context.Context, names []string) (map[string]string, []string, error) {
	var (
		states    map[string]opensearch.IndexState
		followers map[string]opensearch.FollowerIndex
	)
	err := e.call(ctx, func(ctx context.Context) (err error) {
		if states, err = e.Follower.IndexStates(ctx, names); err != nil {
			return err
		}
		followers, err = e.Follower.FollowerIndices(ctx, names)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	bad := map[string]string{}
	var gone []string
	for _, idx := range names {
		st := states[idx]
		switch {
		case !st.Exists:
			gone = append(gone, idx)
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
	return bad, gone, nil
}

// lostIndex reports whether a planned index was found gone, and why.
func lostIndex(p *promote.Promotion, idx string) (string, bool) {
	if s, ok := p.Last(promote.StepVerify, idx); ok && s.Lost {
		return s.Detail, true
	}
	return "", false
}

// FenceOldLeader write-blocks the old leader's copies of a finished
// promotion's indices through OpenSearch: it answers again after the
// promotion, and must not take writes the promoted follower never sees.
// Write-blocking is idempotent.
func (e *Executor) FenceOldLeader(ctx context.Context, p *promote.Promotion) (string, error) {
	if p != nil {
		planFromSteps(p)
	}
	if p == nil || len(p.Plan) == 0 {
		return "", errors.New("no promotion plan in the journal: nothing known to fence")
	}
	leaders := p.LeaderIndices()
	if err := e.call(ctx, func(ctx context.Context) error { return e.Leader.BlockWrite(ctx, leaders) }); err != nil {
		return "", fmt.Errorf("write-block the old leader: %w", err)
	}
	return fmt.Sprintf("write-blocked %d leader indices", len(leaders)), nil
}
