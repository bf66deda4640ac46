// Package steps holds the promotion steps that read or write the clusters
// through OpenSearch and that every executor shares, whatever removes the
// replication afterwards (promote/ccr: the replication plugin's _stop;
// promote/aivenpromote: the Aiven API): fencing the old leader, waiting for
// a graceful promotion's catch-up, and the crash hook of the end-to-end
// tests. It decides nothing and knows no executor.
package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
)

// Clients are the OpenSearch clients of a pair's promotion, for either
// executor: both sides, retrying 502/503/504 (a retried write that already
// happened answers as done: a _stop "No replication in progress", a write
// block acknowledged again).
func Clients(p *config.Pair) (leader, follower *opensearch.Client, err error) {
	opts := opensearch.Options{UserAgent: "drwatch/" + buildinfo.Version, Retry: true}
	if leader, err = opensearch.New(p.Leader, opts.WithSide("leader")); err != nil {
		return nil, nil, fmt.Errorf("pair %s: leader: %w", p.Name, err)
	}
	if follower, err = opensearch.New(p.Follower, opts.WithSide("follower")); err != nil {
		return nil, nil, fmt.Errorf("pair %s: follower: %w", p.Name, err)
	}
	return leader, follower, nil
}

// Bound bounds one cluster call: timeout, and with ha the lease's window
// (window returns its end; the zero time when this daemon holds no
// lease: the call is not sent). A request, and its transport's retries,
// are never sent after the window in which the fencing check confirmed
// the lease. window nil: no lease.
func Bound(ctx context.Context, timeout time.Duration, window func() time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	if window == nil {
		return ctx, cancel
	}
	wctx, wcancel := context.WithDeadline(ctx, window())
	return wctx, func() { wcancel(); cancel() }
}

// LivenessOf is how long a promotion waits for the leader to answer
// before it takes it for down: twice the policy's probe_timeout (a leader
// slower than a probe still gets fenced), at least a second, at most 30s.
func LivenessOf(pol *config.Policy) time.Duration {
	if pol == nil {
		return 0
	}
	return min(max(2*pol.ProbeTimeout.D(), time.Second), 30*time.Second)
}

// Leader is what fencing needs of the old leader.
type Leader interface {
	ClusterHealth(ctx context.Context) (opensearch.Health, error)
	BlockWrite(ctx context.Context, indices []string) error
}

// Fencer write-blocks the old leader's copies of a promotion's indices.
type Fencer struct {
	Leader Leader
	// Enabled is the policy's fence_leader. A graceful promotion fences
	// whatever it says.
	Enabled bool
	// Record journals steps; Call bounds one cluster call.
	Record func(p *promote.Promotion, steps ...promote.Step) error
	Call   func(ctx context.Context, f func(context.Context) error) error
	// Liveness bounds the check of whether the leader answers (0: only
	// Call's bound): a hung leader must not hold the promotion for a
	// whole step timeout.
	Liveness time.Duration
	// OnDown, if set, is told why the leader was taken for down (the
	// class of its failed check: a timeout is a leader that hangs).
	OnDown func(class observe.Class)
	// Window, with ha, is the lease window's end (LeaderAnswers).
	Window func() time.Time
}

// ErrLivenessUnknown: the check of whether the leader answers was cut
// short (the attempt's deadline, the lease window, a shutdown) before it
// could show either way. Nothing is removed under a leader that may be
// alive: the attempt ends and is retried.
var ErrLivenessUnknown = errors.New("the check of whether the leader answers was cut short before it showed either way")

// LeaderAnswers checks, within liveness (0: call's bound alone), whether
// the leader answers. alive: it answered, even with an error (refused
// credentials, 429, an OpenSearch error): it is alive. Not alive with a
// nil error: it did not answer - a timeout of its own bound or of the
// client's connect or TLS handshake, a refused connection - shown down in
// this attempt. ErrLivenessUnknown: the check was cut short by what bounds
// the attempt rather than the check: ctx ended, or with ha the lease's
// window (window returns its end; zero: no longer held) ended first.
func LeaderAnswers(ctx context.Context, call func(context.Context, func(context.Context) error) error, leader Leader, liveness time.Duration, window func() time.Time) (alive bool, class observe.Class, err error) {
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if liveness > 0 {
		cctx, cancel = context.WithTimeout(ctx, liveness)
	}
	defer cancel()
	herr := call(cctx, func(ctx context.Context) error { _, err := leader.ClusterHealth(ctx); return err })
	switch {
	case herr == nil || answered(herr):
		return true, "", nil
	case ctx.Err() != nil:
		return false, "", fmt.Errorf("%w (%v)", ErrLivenessUnknown, ctx.Err())
	}
	if window != nil {
		if end := window(); end.IsZero() || !time.Now().Before(end) {
			return false, "", fmt.Errorf("%w (the lease's window ended)", ErrLivenessUnknown)
		}
	}
	return false, opensearch.ClassOf(herr), nil
}

// Fence write-blocks the leader copies of the planned indices before
// anything removes replication. It is decided anew on every attempt until
// it is done: a leader unreachable at one attempt (skipped, the failover
// goes on) may answer at the next, and is fenced then. A leader that
// answers but refuses the write block fails the attempt: drwatch never
// removes replication under a live, unfenced leader - that would leave
// both sides writable. A graceful promotion requires the fence. Only
// fence_leader: false skips it for a failover. It reports whether the
// leader is fenced; refused ends the error of a refused block (what that
// means for the promotion).
func (f Fencer) Fence(ctx context.Context, p *promote.Promotion, refused string) (bool, error) {
	if s, ok := p.Last(promote.StepFence, ""); ok && s.Status == promote.StepDone {
		return true, nil
	}
	skip := func(why string) (bool, error) {
		if p.Graceful {
			_ = f.Record(p, promote.Step{Name: promote.StepFence, Status: promote.StepFailed, Detail: why})
			return false, fmt.Errorf("graceful promotion needs the leader fenced: %s", why)
		}
		return false, f.Record(p, promote.Step{Name: promote.StepFence, Status: promote.StepSkipped, Detail: why})
	}
	if !f.Enabled && !p.Graceful {
		if f.OnDown != nil {
			// Not fenced by policy; whether it hangs is still asked.
			if alive, class, err := LeaderAnswers(ctx, f.Call, f.Leader, f.Liveness, f.Window); err == nil && !alive {
				f.OnDown(class)
			}
		}
		if s, ok := p.Last(promote.StepFence, ""); ok && s.Status == promote.StepSkipped {
			return false, nil
		}
		return skip("fence_leader is false")
	}
	alive, class, err := LeaderAnswers(ctx, f.Call, f.Leader, f.Liveness, f.Window)
	if err != nil {
		// Neither fenced nor shown down: nothing is removed in this
		// attempt.
		_ = f.Record(p, promote.Step{Name: promote.StepFence, Status: promote.StepFailed, Detail: err.Error()})
		return false, fmt.Errorf("fence: %w; %s", err, refused)
	}
	if !alive {
		if f.OnDown != nil {
			f.OnDown(class)
		}
		return skip("leader unreachable (" + string(class) + "): not fenced")
	}
	// A leader that answers, even with an error (drwatch's credentials
	// refused, an OpenSearch error), is alive: it is fenced, or the
	// attempt fails.
	leaders := p.LeaderIndices()
	if err := f.Record(p, promote.Step{Name: promote.StepFence, Status: promote.StepStarted, Detail: strings.Join(leaders, ",")}); err != nil {
		return false, err
	}
	if err := f.Call(ctx, func(ctx context.Context) error { return f.Leader.BlockWrite(ctx, leaders) }); err != nil {
		why := "the leader answers but refused the write block: " + err.Error()
		_ = f.Record(p, promote.Step{Name: promote.StepFence, Status: promote.StepFailed, Detail: why})
		return false, fmt.Errorf("fence: %s; %s", why, refused)
	}
	return true, f.Record(p, promote.Step{Name: promote.StepFence, Status: promote.StepDone, Detail: fmt.Sprintf("write-blocked %d leader indices", len(leaders))})
}

// WaitCaughtUp runs a graceful promotion's catch-up step, journaled: wait
// (CatchUp's function) until the follower holds everything the fenced
// leader has. A step already done is not waited for again. A failure's
// error ends with then, what the executor does not do because of it.
func WaitCaughtUp(ctx context.Context, p *promote.Promotion, record func(*promote.Promotion, ...promote.Step) error,
	wait func(ctx context.Context, plan map[string]string) error, then string) error {
	if s, ok := p.Last(promote.StepCatchUp, ""); ok && s.Status == promote.StepDone {
		return nil
	}
	if wait == nil {
		return errors.New("graceful promotion: no catch-up check configured")
	}
	if err := record(p, promote.Step{Name: promote.StepCatchUp, Status: promote.StepStarted}); err != nil {
		return err
	}
	if err := wait(ctx, p.Plan); err != nil {
		_ = record(p, promote.Step{Name: promote.StepCatchUp, Status: promote.StepFailed, Detail: err.Error()})
		return fmt.Errorf("graceful promotion: %w; %s", err, then)
	}
	return record(p, promote.Step{Name: promote.StepCatchUp, Status: promote.StepDone, Detail: "every index caught up with the fenced leader"})
}

// answered reports whether a failed call got an answer from the cluster
// itself, as the decision core judges the leader's health
// (observe.Leader.Answered): a 401/403, OpenSearch's own error, a
// certificate drwatch does not accept, or a body drwatch cannot read. Connection failures, timeouts and 5xx are not.
func answered(err error) bool {
	e, ok := opensearch.AsError(err)
	if !ok {
		return false
	}
	return observe.Leader{Failure: &observe.Failure{Class: e.Class, Status: e.Status, Type: e.Type, Certificate: e.Certificate}}.Answered()
}

// Checkpoints is what the catch-up wait reads of each cluster.
type Checkpoints interface {
	ShardSeqNos(ctx context.Context, indices []string) (map[string]opensearch.IndexSeqNos, error)
}

// CatchUpTimeout bounds a graceful promotion's wait for the follower.
const CatchUpTimeout = 5 * time.Minute

// CatchUp returns the wait of a graceful promotion: until every planned
// follower index holds everything its fenced leader index has, shard by
// shard, read from both clusters directly (the follower's own view of the
// leader, follower_stats, may lag behind its read retries).
func CatchUp(leader, follower Checkpoints) func(ctx context.Context, plan map[string]string) error {
	return func(ctx context.Context, plan map[string]string) error {
		ctx, cancel := context.WithTimeout(ctx, CatchUpTimeout)
		defer cancel()
		for {
			pending, err := Behind(ctx, leader, follower, plan)
			if err == nil && pending == "" {
				return nil
			}
			if err != nil {
				pending = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("follower did not catch up within %s: %s", CatchUpTimeout, pending)
			case <-time.After(time.Second):
			}
		}
	}
}

// Behind names a planned index that has not caught up ("" when none has):
// one whose follower primaries have not replayed up to the leader
// primaries' max_seq_no, shard by shard.
func Behind(ctx context.Context, leader, follower Checkpoints, plan map[string]string) (string, error) {
	followers := make([]string, 0, len(plan))
	leaders := make([]string, 0, len(plan))
	for f, l := range plan {
		followers, leaders = append(followers, f), append(leaders, l)
	}
	slices.Sort(followers)
	lseq, err := leader.ShardSeqNos(ctx, leaders)
	if err != nil {
		return "", fmt.Errorf("leader checkpoints: %w", err)
	}
	fseq, err := follower.ShardSeqNos(ctx, followers)
	if err != nil {
		return "", fmt.Errorf("follower checkpoints: %w", err)
	}
	for _, f := range followers {
		l, fs := lseq[plan[f]], fseq[f]
		lag, _, _, ok := opensearch.ShardLag(l, fs, len(l))
		switch {
		case !ok || len(l) != len(fs):
			return fmt.Sprintf("%s: checkpoints not readable on both clusters", f), nil
		case lag > 0:
			return fmt.Sprintf("%s: %d operations behind", f, lag), nil
		}
	}
	return "", nil
}

// AfterRecord is called with every journaled step of every executor; it
// is set only in binaries built with -tags crashhook (crashhook.go).
var AfterRecord func(s promote.Step)

// Recorded calls AfterRecord, if set, for each step.
func Recorded(steps []promote.Step) {
	if AfterRecord == nil {
		return
	}
	for _, s := range steps {
		AfterRecord(s)
	}
}
