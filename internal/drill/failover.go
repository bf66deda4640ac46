package drill

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/ccr"
	"github.com/drwatch/drwatch/internal/promote/steps"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// Target is the pair a failover drill promotes and hands back: its
// watcher (the one promotion runner and journal).
type Target interface {
	State() policy.State
	// Promotion is the pair's current promotion record (nil: none).
	Promotion() *promote.Promotion
	DrillPromote(ctx context.Context, drill policy.DrillID, by string) (promote.Result, error)
	DrillEnd(drill policy.DrillID, summary, by string) error
	// Acting is nil while this daemon may act for the pair: always
	// without ha; with it, its lease confirmed in the follower cluster
	// (the fencing check before each of the restore's changes).
	Acting(ctx context.Context) error
	// Bound bounds a change's calls by the lease's window (ha).
	Bound(ctx context.Context) (context.Context, context.CancelFunc)
}

var _ Target = (*watch.Watcher)(nil)

// FailoverInput is what a failover drill works with.
type FailoverInput struct {
	Pair   *config.Pair
	Target Target
	// Leader and Follower are clients with retries (an executor's).
	Leader, Follower *opensearch.Client
	// Observe takes one observation of the pair (probe.Prober.Cycle).
	Observe func(ctx context.Context) observe.Observation
	// Save records the report as it progresses (Store.Save).
	Save func(*Report) error
	Now  func() time.Time
	// SyncTimeout bounds the wait for replication to sync again after the
	// restore (default 10 minutes); AutofollowWait, the wait for an
	// autofollow rule to pick its indices up before they are started by
	// hand (default 90 s); Poll, the pause between checks (default 1 s).
	SyncTimeout, AutofollowWait, Poll time.Duration
}

func (in *FailoverInput) defaults() {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.SyncTimeout == 0 {
		in.SyncTimeout = 10 * time.Minute
	}
	if in.AutofollowWait == 0 {
		in.AutofollowWait = 90 * time.Second
	}
	if in.Poll == 0 {
		in.Poll = time.Second
	}
}

// Owner is the value of policy.State.Drill while the drill of report r
// owns its pair.
func Owner(r *Report) policy.DrillID { return policy.NewDrillID(r.Drill, r.ID) }

// RunFailover runs a failover drill, or finishes one that stopped half-way
// (resume: its report, when the pair's state says the drill still owns
// it): a graceful promotion (write-block the leader, wait for the
// follower to catch up, stop replication, verify), measured, then the
// restore - the leader's write block lifted, the promoted copies deleted
// on the follower, the autofollow rules and _starts re-created as they
// were, and every index syncing with lag 0 again - and the pair handed
// back to drwatch. r is filled in and saved after every stage.
func RunFailover(ctx context.Context, in FailoverInput, r *Report, resume *Report) {
	in.defaults()
	f := &failover{in: in, r: r}
	if resume != nil {
		r.Failover = resume.Failover
		r.Failover.Where, r.Failover.Finish = nil, nil
		// The run it finishes did not pass: neither does this one, whatever
		// the restore does.
		r.Reason = "finishing the restore of drill report " + resume.ID
		if resume.Reason != "" {
			r.Reason += ", which failed: " + resume.Reason
		} else if !hasDone(r.Failover, "measure") {
			r.Reason += ", which was interrupted before it measured the promotion"
		}
		f.stage("resume", nil, fmt.Sprintf("finishing the restore of drill report %s", resume.ID))
		f.restore(ctx, Owner(resume))
		return
	}
	r.Failover = &Failover{}
	if err := f.preflight(ctx); err != nil {
		f.fail("not started: " + err.Error())
		return
	}
	if !f.snapshot(ctx) {
		return
	}
	if !f.promote(ctx) {
		return
	}
	f.measure(ctx)
	if holdAfterPromote != nil {
		holdAfterPromote()
	}
	f.restore(ctx, Owner(r))
}

// holdAfterPromote, set by a test build (holdhook.go), holds the drill
// between its promotion and its restore.
var holdAfterPromote func()

type failover struct {
	in    FailoverInput
	r     *Report
	stamp time.Time // when the current stage started
}

// stage records a stage's outcome (err nil: done) and saves the report.
func (f *failover) stage(name string, err error, detail string) bool {
	now := f.in.Now()
	st := Stage{Name: name, Status: "done", Detail: detail, At: now}
	if !f.stamp.IsZero() {
		st.Took = now.Sub(f.stamp).Seconds()
	}
	if err != nil {
		st.Status = "failed"
		st.Detail = strings.TrimPrefix(strings.TrimSpace(detail+": "+err.Error()), ": ")
	}
	f.r.Failover.Stages = append(f.r.Failover.Stages, st)
	f.stamp = now
	f.save()
	return err == nil
}

// stageStep is the kind of the restore's steps when they go through the
// step runner: their target is the stage's name.
const stageStep promote.StepKind = "stage"

// stageJournal journals the restore's steps as the report's stages: the
// report is the drill's journal (saved after each), started stages
// included, so that a crash mid-stage shows what was under way.
type stageJournal struct{ f *failover }

func (j stageJournal) AppendSteps(_ string, _ *promote.Promotion, steps ...promote.Step) error {
	f := j.f
	for _, s := range steps {
		st := Stage{Name: s.Target, Status: s.Status.String(), Detail: s.Detail, At: s.At}
		if s.Status != promote.StepStarted {
			if !f.stamp.IsZero() {
				st.Took = s.At.Sub(f.stamp).Seconds()
			}
			f.stamp = s.At
		}
		f.r.Failover.Stages = append(f.r.Failover.Stages, st)
	}
	f.save()
	return nil
}

// step runs one stage of the restore that changes the clusters through
// the step runner (steps.Runner.Do): the fencing check (with ha, this
// daemon still holds the lease), the stage journaled started, the call
// bounded by the lease's window (bound false: the call bounds each of its
// requests itself, for a stage of many), the outcome journaled (a failure
// as detail: error). notActing reports a failed fencing check.
func (f *failover) step(ctx context.Context, name, detail string, bound bool, call func(context.Context) error) (ok, notActing bool) {
	r := steps.Runner{Pair: f.in.Pair.Name, Journal: stageJournal{f}, Now: f.in.Now, Bound: f.in.Target.Bound,
		Acting: func(ctx context.Context) error {
			err := f.in.Target.Acting(ctx)
			notActing = err != nil
			return err
		}}
	if !bound {
		r.Bound = func(ctx context.Context) (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }
	}
	err := r.Do(ctx, nil, promote.Step{Name: stageStep, Target: name, Detail: detail}, func(ctx context.Context) (string, error) {
		if err := call(ctx); err != nil {
			return "", trimmed{fmt.Errorf("%s: %w", detail, err)}
		}
		return detail, nil
	})
	// Refused before the stage, or by the fencing check of one of its
	// changes (a stage of many).
	return err == nil, notActing || errors.Is(err, errNotActing)
}

func (f *failover) save() {
	if f.in.Save != nil {
		_ = f.in.Save(f.r) // the caller logs; the drill goes on
	}
}

func (f *failover) fail(reason string) {
	f.r.Result, f.r.Reason = ResultFailed, reason
	f.save()
}

// preflight: the pair is healthy now, as drwatch sees it and as a fresh
// observation shows (the leader answers, the follower sees it, every
// index syncs with a known lag).
func (f *failover) preflight(ctx context.Context) error {
	if !f.in.Pair.AllowDestructiveDrills {
		return fmt.Errorf("pair %s does not allow destructive drills (set allow_destructive_drills: true on a staging pair)", f.in.Pair.Name)
	}
	if st := f.in.Target.State(); st.Phase != policy.Healthy || st.Drill != "" {
		return fmt.Errorf("%w: the pair is %s", policy.ErrConflict, st.Phase)
	}
	f.stamp = f.in.Now()
	obs := f.in.Observe(ctx)
	if probs := report.Problems(obs); len(probs) > 0 {
		return fmt.Errorf("the pair is not healthy now: %s", strings.Join(probs, "; "))
	}
	if n := len(obs.Follower.Replication.Indices); n == 0 {
		return errors.New("the pair replicates no index in scope: nothing to rehearse")
	}
	return nil
}

// snapshot records the replication the restore re-creates.
func (f *failover) snapshot(ctx context.Context) bool {
	fol, err := f.in.Follower.FollowerIndices(ctx, f.in.Pair.Indices)
	if err != nil {
		f.stage("snapshot", err, "reading the follower indices")
		f.fail("could not read the replication to restore: " + err.Error())
		return false
	}
	af, err := f.in.Follower.AutofollowStats(ctx)
	if err != nil {
		f.stage("snapshot", err, "reading the autofollow rules")
		f.fail("could not read the autofollow rules to restore: " + err.Error())
		return false
	}
	before := Setup{Started: map[string]string{}, Autofollowed: map[string]string{}, Rules: map[string]string{}}
	alias := f.in.Pair.Follower.LeaderAlias
	for _, rule := range af.Rules {
		// The promotion deletes the rules that may feed the pair; the
		// restore re-creates those.
		if ruleFeeds(rule.Pattern, f.in.Pair.Indices) {
			before.Rules[rule.Name] = rule.Pattern
		}
	}
	for ix, fi := range fol {
		if fi.LeaderAlias != alias {
			continue // replicated from another cluster: not this pair's
		}
		auto := false
		for _, pat := range before.Rules {
			if fi.LeaderIndex == ix && probe.InScope(ix, []string{pat}) {
				auto = true
			}
		}
		if auto {
			before.Autofollowed[ix] = fi.LeaderIndex
		} else {
			before.Started[ix] = fi.LeaderIndex
		}
	}
	leaders := slices.Collect(maps.Values(before.all()))
	if len(leaders) > 0 {
		set, err := f.in.Leader.IndexSettings(ctx, leaders)
		if err != nil {
			f.stage("snapshot", err, "reading the leader indices' write blocks")
			f.fail("could not read the leader's write blocks to restore: " + err.Error())
			return false
		}
		for _, ix := range slices.Sorted(slices.Values(leaders)) {
			if v := fmt.Sprint(set[ix]["index.blocks.write"]); v == "true" {
				before.Blocked = append(before.Blocked, ix)
			}
		}
	}
	f.r.Failover.Before = before
	return f.stage("snapshot", nil, fmt.Sprintf("%d indices started by hand, %d by %d autofollow rules",
		len(before.Started), len(before.Autofollowed), len(before.Rules)))
}

// ruleFeeds reports whether an autofollow rule may create indices of
// the pair's scope: the rules the promotion deletes.
func ruleFeeds(pattern string, scope []string) bool { return ccr.RuleInScope(pattern, scope) }

// promote runs the graceful promotion; false when the drill cannot go on
// to measure (it may still need the restore: then that has run).
func (f *failover) promote(ctx context.Context) bool {
	start := f.in.Now()
	owner := Owner(f.r)
	res, err := f.in.Target.DrillPromote(ctx, owner, "drill "+f.r.Drill)
	if err != nil {
		if f.in.Target.State().Drill != owner {
			// Refused before anything was journaled: nothing changed.
			f.stage("promote", err, "refused, nothing changed")
			f.fail("the promotion did not start: " + err.Error())
			return false
		}
		// The pair is the drill's: the promotion failed, or its start
		// could not be journaled (the watcher retries it, gracefully).
		// Either way the restore runs, once no promotion does.
		f.stage("promote", err, "graceful promotion")
		f.r.Reason = "the promotion failed: " + err.Error()
		if !f.waitNotPromoting(ctx) {
			f.halt(ctx, "the drill's promotion is still running")
			return false
		}
		f.restore(ctx, owner)
		return false
	}
	f.r.Failover.PromotedAt = f.in.Now()
	f.r.Failover.WritableAfter = f.r.Failover.PromotedAt.Sub(start).Seconds()
	if p := f.in.Target.Promotion(); p != nil {
		for _, s := range p.Steps {
			line := fmt.Sprintf("+%.2fs %s", s.At.Sub(p.Started).Seconds(), s.Name)
			if s.Target != "" {
				line += " " + s.Target
			}
			f.r.Failover.Steps = append(f.r.Failover.Steps, line+": "+s.Status.String())
		}
	}
	// Stopped without an active primary is stopped too: the restore
	// must re-create its replication like any promoted index's.
	f.adopt(ctx, append(slices.Clone(res.Promoted), slices.Sorted(maps.Keys(res.Unassigned))...))
	return f.stage("promote", nil, fmt.Sprintf("graceful promotion: %s", res.Detail))
}

// waitNotPromoting waits (at most SyncTimeout) until the pair is not
// promoting.
func (f *failover) waitNotPromoting(ctx context.Context) bool {
	deadline := f.in.Now().Add(f.in.SyncTimeout)
	for f.in.Target.State().Phase == policy.Promoting {
		if f.in.Now().After(deadline) || !f.sleep(ctx) {
			return false
		}
	}
	return true
}

// adopt takes into the setup what the promotion did beyond the snapshot:
// indices it promoted that the snapshot did not have (created since, e.g.
// by an autofollow rule) are restored too - as autofollowed when an
// in-scope rule covers them, otherwise named as left promoted (the drill
// fails) - and rules it did not delete (another cluster's: the promotion
// deletes only its alias's) are not re-created.
func (f *failover) adopt(ctx context.Context, promoted []string) {
	b := &f.r.Failover.Before
	all := b.all()
	for _, ix := range promoted {
		if _, ok := all[ix]; ok {
			continue
		}
		covered := false
		for _, pat := range b.Rules {
			if probe.InScope(ix, []string{pat}) {
				covered = true
			}
		}
		if covered {
			b.Autofollowed[ix] = ix
		} else {
			f.r.Failover.Unknown = append(f.r.Failover.Unknown, ix)
		}
	}
	if af, err := f.in.Follower.AutofollowStats(ctx); err == nil {
		for _, rule := range af.Rules {
			delete(b.Rules, rule.Name) // still there: not deleted, not to re-create
		}
	}
}

// measure counts, per index, the documents the write-blocked leader holds
// and the promoted follower does not.
func (f *failover) measure(ctx context.Context) {
	b := f.r.Failover.Before
	plan := b.all()
	lost := map[string]int64{}
	var errs []string
	followers := slices.Sorted(maps.Keys(plan))
	leaders := make([]string, 0, len(plan))
	for _, ix := range followers {
		leaders = append(leaders, plan[ix])
	}
	if err := f.in.Leader.Refresh(ctx, leaders); err != nil {
		errs = append(errs, "leader refresh: "+err.Error())
	}
	if err := f.in.Follower.Refresh(ctx, followers); err != nil {
		errs = append(errs, "follower refresh: "+err.Error())
	}
	for _, ix := range followers {
		lc, lerr := f.in.Leader.Count(ctx, plan[ix])
		fc, ferr := f.in.Follower.Count(ctx, ix)
		if err := errors.Join(lerr, ferr); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		lost[ix] = max(0, lc-fc)
	}
	f.r.Failover.Lost = lost
	if len(errs) > 0 {
		f.stage("measure", errors.New(strings.Join(errs, "; ")), "counting documents on both sides")
		f.r.Reason = "the documents lost could not be counted: " + strings.Join(errs, "; ")
		return
	}
	f.stage("measure", nil, fmt.Sprintf("%d documents lost over %d indices (the write-blocked leader's count minus the promoted follower's)", sumLost(lost), len(lost)))
}

// restore undoes the promotion and hands the pair back; on failure it
// leaves where everything is and the commands that finish the restore.
func (f *failover) restore(ctx context.Context, owner policy.DrillID) {
	b := f.r.Failover.Before
	plan := b.all()
	followers := slices.Sorted(maps.Keys(plan))
	leaders := make([]string, 0, len(plan))
	for _, ix := range followers {
		leaders = append(leaders, plan[ix])
	}
	promotedAt := f.r.Failover.PromotedAt
	if promotedAt.IsZero() {
		promotedAt = f.in.Now()
	}
	alias := f.in.Pair.Follower.LeaderAlias
	unblock := slices.DeleteFunc(slices.Clone(leaders), func(ix string) bool { return slices.Contains(b.Blocked, ix) })

	if !f.stepOrHalt(ctx, "restore: lift the leader's write block", strings.Join(unblock, ", "), true,
		func(ctx context.Context) error { return f.in.Leader.UnblockWrite(ctx, unblock) }, "the leader's write block could not be lifted") {
		return
	}
	// Only the copies this drill promoted: an index that is a follower
	// again (a resumed restore) is left alone.
	still, err := f.in.Follower.FollowerIndices(ctx, followers)
	if err != nil {
		f.stage("restore: delete the promoted copies on the follower", err, "")
		f.halt(ctx, "the follower indices could not be read")
		return
	}
	var del []string
	for _, ix := range followers {
		if _, ok := still[ix]; !ok {
			del = append(del, ix)
		}
	}
	if st := f.in.Target.State(); st.Drill != owner {
		// Released by a human (or taken by another drill): its copies are
		// not the drill's to delete any more.
		f.stage("restore: delete the promoted copies on the follower", fmt.Errorf("the pair is no longer owned by this drill (it is %s)", st.Phase), "")
		f.halt(ctx, "the pair was released from the drill")
		return
	}
	if !f.stepOrHalt(ctx, "restore: delete the promoted copies on the follower", strings.Join(del, ", "), true,
		func(ctx context.Context) error { return f.in.Follower.DeleteIndices(ctx, del) }, "the promoted copies could not be deleted") {
		return
	}
	if !f.stepOrHalt(ctx, "restore: re-create the autofollow rules", strings.Join(ruleList(b.Rules), ", "), false, func(ctx context.Context) error {
		var rerrs []string
		for _, name := range slices.Sorted(maps.Keys(b.Rules)) {
			err := f.change(ctx, func(ctx context.Context) error {
				return f.in.Follower.CreateAutofollow(ctx, alias, name, b.Rules[name], f.in.Pair.Follower.UseRoles)
			})
			if errors.Is(err, errNotActing) {
				return errors.Join(joinErr(rerrs), err)
			}
			if err != nil && !alreadyExists(err) {
				rerrs = append(rerrs, err.Error())
			}
		}
		return joinErr(rerrs)
	}, "the autofollow rules could not be re-created") {
		return
	}
	started := slices.Sorted(maps.Keys(b.Started))
	if !f.stepOrHalt(ctx, "restore: start replication", strings.Join(started, ", "), false, func(ctx context.Context) error {
		var serrs []string
		for _, ix := range started {
			if _, ok := still[ix]; ok {
				continue
			}
			if err := f.start(ctx, ix, b.Started[ix]); err != nil {
				if errors.Is(err, errNotActing) {
					return errors.Join(joinErr(serrs), err)
				}
				serrs = append(serrs, err.Error())
			}
		}
		return joinErr(serrs)
	}, "replication could not be started again") {
		return
	}
	if err := f.waitSynced(ctx, plan); !f.stage("restore: every index syncing, lag 0", err, fmt.Sprintf("%d indices", len(plan))) {
		if errors.Is(err, errNotActing) {
			f.halt(ctx, "this daemon no longer holds the pair's lease")
		} else {
			f.halt(ctx, "replication did not sync again")
		}
		return
	}
	f.r.Failover.RestoredAfter = f.in.Now().Sub(promotedAt).Seconds()
	summary := fmt.Sprintf("%d indices syncing with lag 0", len(plan))
	// A command, not a cluster call: with ha a standby passes it to the
	// holder through the inbox, so no fencing check here.
	if err := f.in.Target.DrillEnd(owner, summary, "drill "+f.r.Drill); !f.stage("hand the pair back to drwatch", err, "") {
		f.halt(ctx, "the pair could not be handed back")
		return
	}
	if f.r.Reason != "" { // the promotion failed, the restore worked
		f.fail(f.r.Reason + " (replication was restored)")
		return
	}
	if n := sumLost(f.r.Failover.Lost); n > 0 {
		f.fail(fmt.Sprintf("%d acknowledged documents were lost by a graceful promotion", n))
		return
	}
	if u := f.r.Failover.Unknown; len(u) > 0 {
		f.fail(fmt.Sprintf("the promotion also promoted %s, created after the drill's snapshot and covered by no autofollow rule: left promoted; re-create their replication by hand", strings.Join(u, ", ")))
		return
	}
	f.r.Result = ResultPassed
	f.save()
}

// trimmed is a stage's error as the report words it: "detail: error",
// without the separator when there is no detail, trimmed of spaces.
type trimmed struct{ err error }

func (t trimmed) Error() string {
	return strings.TrimPrefix(strings.TrimSpace(t.err.Error()), ": ")
}
func (t trimmed) Unwrap() error { return t.err }

// stepOrHalt runs a stage that changes the clusters (step) and stops the
// restore there when it fails, saying where: a daemon that no longer
// holds the pair's lease (ha) stops before the stage, halted as why
// otherwise.
func (f *failover) stepOrHalt(ctx context.Context, name, detail string, bound bool, call func(context.Context) error, why string) bool {
	ok, notActing := f.step(ctx, name, detail, bound, call)
	switch {
	case ok:
		return true
	case notActing:
		f.halt(ctx, "this daemon no longer holds the pair's lease")
	default:
		f.halt(ctx, why)
	}
	return false
}

// start starts replication of one index again. The plugin can time out
// waiting for its own task on an index name stopped shortly before (HTTP
// 500 "Timed out when waiting for persistent task", an upstream bug:
// docs/replication.md "Traps when you set replication up"); the
// replication may then start anyway, so its status decides, and a start
// that did not happen is tried again on a fresh index.
func (f *failover) start(ctx context.Context, ix, leader string) error {
	alias := f.in.Pair.Follower.LeaderAlias
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = f.change(ctx, func(ctx context.Context) error {
			return f.in.Follower.StartReplication(ctx, ix, alias, leader, f.in.Pair.Follower.UseRoles)
		})
		if err == nil || alreadyReplicating(err) {
			return nil
		}
		if errors.Is(err, errNotActing) {
			return fmt.Errorf("%s: not started: %w", ix, err)
		}
		deadline := f.in.Now().Add(45 * time.Second)
		notStarted := false
		for f.in.Now().Before(deadline) {
			st, serr := f.in.Follower.ReplicationStatusOf(ctx, ix)
			if serr == nil && active(st.Status) {
				return nil
			}
			notStarted = serr == nil && st.Status == "REPLICATION NOT IN PROGRESS"
			if !f.sleep(ctx) {
				return ctx.Err()
			}
		}
		if !notStarted {
			// Unknown (the status unreadable) or paused: never delete an
			// index that may be replicating.
			return fmt.Errorf("%s: %w (its replication status is not known to be stopped: left as it is)", ix, err)
		}
		if derr := f.change(ctx, func(ctx context.Context) error { return f.in.Follower.DeleteIndices(ctx, []string{ix}) }); derr != nil {
			return fmt.Errorf("%s: %w (and deleting it for another try: %w)", ix, err, derr)
		}
	}
	return fmt.Errorf("%s: %w", ix, err)
}

// errNotActing marks a change refused by the fencing check.
var errNotActing = errors.New("refused by the fencing check")

// change makes one change to a cluster within a stage of many (each
// index's start, with its waits, outlasts a lease's window): the fencing
// check first (with ha, this daemon still holds the lease), then the call
// bounded by the window.
func (f *failover) change(ctx context.Context, call func(context.Context) error) error {
	if err := f.in.Target.Acting(ctx); err != nil {
		return fmt.Errorf("%w: %w", errNotActing, err)
	}
	bctx, cancel := f.in.Target.Bound(ctx)
	defer cancel()
	return call(bctx)
}

// waitSynced waits until every index is a follower index of its leader
// index again, syncing, with the leader's own checkpoints reached. An
// autofollowed index the rule did not pick up within AutofollowWait is
// started by hand.
func (f *failover) waitSynced(ctx context.Context, plan map[string]string) error {
	start := f.in.Now()
	deadline := start.Add(f.in.SyncTimeout)
	kicked := false
	for {
		pending, err := f.pending(ctx, plan)
		if err == nil && len(pending) == 0 {
			return nil
		}
		if !kicked && f.in.Now().Sub(start) > f.in.AutofollowWait {
			kicked = true
			for ix, leader := range f.r.Failover.Before.Autofollowed {
				if fi, _ := f.in.Follower.FollowerIndices(ctx, []string{ix}); len(fi) == 0 {
					if err := f.start(ctx, ix, leader); errors.Is(err, errNotActing) {
						return err
					}
				}
			}
		}
		if f.in.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("not synced within %s: %w", f.in.SyncTimeout, err)
			}
			return fmt.Errorf("not synced within %s: %s", f.in.SyncTimeout, strings.Join(pending, "; "))
		}
		if !f.sleep(ctx) {
			return ctx.Err()
		}
	}
}

// pending names the indices not yet synced, with why.
func (f *failover) pending(ctx context.Context, plan map[string]string) ([]string, error) {
	followers := slices.Sorted(maps.Keys(plan))
	fol, err := f.in.Follower.FollowerIndices(ctx, followers)
	if err != nil {
		return nil, err
	}
	var out, leaders []string
	for _, ix := range followers {
		fi, ok := fol[ix]
		switch {
		case !ok:
			out = append(out, ix+": not a follower index")
		case fi.LeaderIndex != plan[ix]:
			out = append(out, fmt.Sprintf("%s: follows %s, not %s", ix, fi.LeaderIndex, plan[ix]))
		default:
			st, err := f.in.Follower.ReplicationStatusOf(ctx, ix)
			if err != nil {
				out = append(out, ix+": "+err.Error())
			} else if st.Status != "SYNCING" {
				out = append(out, ix+": "+st.Status)
			}
		}
		leaders = append(leaders, plan[ix])
	}
	if len(out) > 0 {
		return out, nil
	}
	lseq, err := f.in.Leader.ShardSeqNos(ctx, leaders)
	if err != nil {
		return nil, err
	}
	fseq, err := f.in.Follower.ShardSeqNos(ctx, followers)
	if err != nil {
		return nil, err
	}
	for _, ix := range followers {
		l, lok := lseq[plan[ix]]
		fs, fok := fseq[ix]
		if !lok || !fok {
			out = append(out, ix+": checkpoints not readable yet")
			continue
		}
		if lag, _, _, ok := opensearch.ShardLag(l, fs, fol[ix].Shards); !ok || lag != 0 {
			out = append(out, fmt.Sprintf("%s: lag %d", ix, lag))
		}
	}
	return out, nil
}

// halt stops the restore half-way: the report says where everything is
// and how to finish by hand; the pair stays the drill's (nothing is
// decided for it) until the drill is run again, which finishes the
// restore.
func (f *failover) halt(ctx context.Context, why string) {
	b := f.r.Failover.Before
	plan := b.all()
	followers := slices.Sorted(maps.Keys(plan))
	var where []string
	fol, ferr := f.in.Follower.FollowerIndices(ctx, followers)
	states, serr := f.in.Follower.IndexStates(ctx, followers)
	for _, ix := range followers {
		switch {
		case ferr != nil || serr != nil:
			where = append(where, ix+": unknown (the follower could not be read: "+errors.Join(ferr, serr).Error()+")")
		case fol[ix].LeaderIndex != "":
			where = append(where, ix+": a follower index of "+fol[ix].LeaderIndex+" again")
		case states[ix].Exists:
			where = append(where, ix+": a promoted, writable copy on the follower")
		default:
			where = append(where, ix+": missing on the follower")
		}
	}
	f.r.Failover.Where = where
	f.r.Failover.Finish = finishCommands(f.in.Pair, f.r)
	reason := "restore stopped: " + why + "; the pair stays out of drwatch's hands until the restore finishes (run the drill again, or the commands in its report)"
	if f.r.Reason != "" {
		reason = f.r.Reason + "; " + reason
	}
	f.fail(reason)
}

// finishCommands are the curl commands that finish a restore by hand (no
// credentials in them), then the drill run that hands the pair back.
func finishCommands(p *config.Pair, r *Report) []string {
	b := r.Failover.Before
	plan := b.all()
	leaderURL, followerURL := p.Leader.BaseURL(), p.Follower.BaseURL()
	user := func(ep config.Endpoint) string {
		if ep.Username != "" {
			return " -u " + ep.Username
		}
		return ""
	}
	lu, fu := user(p.Leader), user(p.Follower)
	alias := p.Follower.LeaderAlias
	var out []string
	for _, ix := range slices.Sorted(maps.Keys(plan)) {
		out = append(out, fmt.Sprintf(`curl -sS%s -X PUT '%s/%s/_settings' -H 'Content-Type: application/json' -d '{"index.blocks.write":false}'`, lu, leaderURL, plan[ix]))
	}
	for _, ix := range slices.Sorted(maps.Keys(plan)) {
		out = append(out, fmt.Sprintf(`curl -sS%s -X DELETE '%s/%s'   # only if it is not a follower index again`, fu, followerURL, ix))
	}
	for _, name := range slices.Sorted(maps.Keys(b.Rules)) {
		out = append(out, fmt.Sprintf(`curl -sS%s -X POST '%s/_plugins/_replication/_autofollow' -H 'Content-Type: application/json' -d '{"leader_alias":%q,"name":%q,"pattern":%q}'`, fu, followerURL, alias, name, b.Rules[name]))
	}
	for _, ix := range slices.Sorted(maps.Keys(b.Started)) {
		out = append(out, fmt.Sprintf(`curl -sS%s -X PUT '%s/_plugins/_replication/%s/_start' -H 'Content-Type: application/json' -d '{"leader_alias":%q,"leader_index":%q}'`, fu, followerURL, ix, alias, b.Started[ix]))
	}
	out = append(out, fmt.Sprintf("drwatch drill --config <config> --name %s   # checks the restore and hands the pair back to drwatch", r.Drill))
	return out
}

func (f *failover) sleep(ctx context.Context) bool {
	t := time.NewTimer(f.in.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func hasDone(f *Failover, stage string) bool {
	for _, s := range f.Stages {
		if s.Name == stage && s.Status == "done" {
			return true
		}
	}
	return false
}

// all is every follower index of the setup and its leader index.
func (s Setup) all() map[string]string {
	out := maps.Clone(s.Started)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, s.Autofollowed)
	return out
}

func ruleList(rules map[string]string) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(rules)) {
		out = append(out, n+" ("+rules[n]+")")
	}
	return out
}

func joinErr(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

func active(status string) bool {
	switch status {
	case "SYNCING", "BOOTSTRAPPING", "RUNNING":
		return true
	}
	return false
}

func alreadyExists(err error) bool {
	e, ok := opensearch.AsError(err)
	return ok && (strings.Contains(strings.ToLower(e.Detail), "already exists") || strings.Contains(e.Type, "already_exists"))
}

func alreadyReplicating(err error) bool {
	e, ok := opensearch.AsError(err)
	if !ok {
		return false
	}
	d := strings.ToLower(e.Detail)
	return !strings.Contains(e.Type, "already_exists") && strings.Contains(d, "already") && strings.Contains(d, "replicat")
}
