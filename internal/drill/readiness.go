package drill

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/probe"
)

// ReadinessInput is what a readiness drill reads. It writes nothing.
type ReadinessInput struct {
	Pair  *config.Pair
	Hooks []config.Hook
	// Leader and Follower are clients without retries (a probe's).
	Leader, Follower *opensearch.Client
	// Observe takes one observation of the pair (probe.Prober.Cycle).
	Observe func(ctx context.Context) observe.Observation
	// StopTimes are measured promotion times per batch of
	// promote_concurrency indices (the pair's failover drills: Runner
	// gives them); none: the estimate assumes a stop time and says so.
	StopTimes []time.Duration
	Now       func() time.Time
	// CallTimeout bounds each read of the drill's own (the observation is
	// bounded by the pair's probe_timeout); zero: 30 s.
	CallTimeout time.Duration
	// HAIndex is the HA lease index ("" without HA): its permissions are
	// checked on the follower.
	HAIndex string
}

// Readiness check names, in the order Readiness returns them. They are
// stable machine keys (docs/drills.md, "Readiness checks").
const (
	CheckLeaderSeen   = "leader_seen"
	CheckReplicated   = "replicated"
	CheckAutofollow   = "autofollow"
	CheckFollowers    = "followers_syncing"
	CheckMappings     = "mapping_parity"
	CheckSettings     = "settings_parity"
	CheckDocCounts    = "doc_counts"
	CheckCredentials  = "credentials"
	CheckHooks        = "hooks"
	CheckVerdict      = "policy_verdict"
	CheckPromotionETA = "promotion_time"
	// CheckAiven is an Aiven pair's only: what its promotion needs of the
	// Aiven API.
	CheckAiven = "aiven"
)

// maxStatusCalls bounds the per-index _status calls that tell a paused
// follower index from a failed or bootstrapping one: a healthy pair makes
// none, a broken one names the first few and counts the rest.
const maxStatusCalls = 10

// Readiness runs the readiness checks of a pair, in a fixed order. It
// first reads (gather: one observation and a bounded number of requests
// to each cluster, whatever the index count), then judges what it read
// with pure functions. A call that fails makes the checks that needed its
// answer fail and say so; nothing panics on a malformed answer.
func Readiness(ctx context.Context, in ReadinessInput) []Check {
	if in.Pair == nil || in.Pair.Resolved == nil || in.Leader == nil || in.Follower == nil || in.Observe == nil {
		return []Check{{Name: CheckLeaderSeen, Title: titles[CheckLeaderSeen], Result: Fail,
			Detail: "the drill was given no pair, policy, clients or observer: nothing was checked"}}
	}
	g := gather(ctx, in, in.Observe(ctx))
	pol := in.Pair.Resolved
	found := docCountFindings(g.obs, g.counts)
	if len(found.failed) > 0 {
		// A race with writes, not a divergence, is the likely cause:
		// look once more, with a fresh lag, and keep what fails twice.
		obs2 := in.Observe(ctx)
		found = persistentFindings(found, docCountFindings(obs2, gatherCounts(ctx, in, obs2)))
	}
	counts := judgeDocCounts(found)
	verdict, sim := judgeVerdict(g.obs, pol)
	checks := []Check{
		judgeLeaderSeen(g.obs, g.alias, g.remote),
		judgeReplicated(g.obs, g.patterns, g.leaderSettings, g.leaderSettingsErr),
		judgeAutofollow(g.obs, g.patterns),
		judgeFollowers(g.obs, g.statuses),
		judgeMappings(indexPairs(g.obs), g.leaderMappings, g.leaderMappingsErr, g.followerMappings, g.followerMappingsErr),
		judgeSettings(indexPairs(g.obs), g.leaderSettings, g.leaderSettingsErr, g.followerSettings, g.followerSettingsErr),
		counts,
		judgeCredentials(g.obs, g.leaderAuth, g.followerAuth, in.Pair.Aiven != nil, in.Pair),
		judgeHooks(in.Hooks, pol.Mode),
		verdict,
		judgeETA(g.obs, pol, sim, in.StopTimes, len(ruleNamesInScope(g.obs, g.patterns))),
	}
	if in.Pair.Aiven != nil {
		checks = append(checks, judgeAiven(g.obs, in.Pair.Aiven))
	}
	return checks
}

// gathered is what the drill read, parsed; a failed read keeps its error.
type gathered struct {
	obs      observe.Observation
	alias    string
	patterns []string
	remote   remoteView

	leaderSettings, followerSettings       map[string]map[string]any
	leaderSettingsErr, followerSettingsErr error
	leaderMappings, followerMappings       map[string]json.RawMessage
	leaderMappingsErr, followerMappingsErr error

	counts   countsRead
	statuses statusesRead

	leaderAuth, followerAuth authRead
}

// remoteView is the follower's remote clusters, read for the drill; when
// the pair's alias was known but not connected, the outcome of one
// cross-cluster read that lets it reconnect, and the remote info after.
type remoteView struct {
	Info      map[string]opensearch.RemoteCluster
	Err       error
	Retried   bool
	ReachErr  error
	After     map[string]opensearch.RemoteCluster
	AfterErr  error
	FirstSeen bool // connected at the first read
}

type countsRead struct {
	Leader, Follower       map[string]int64
	LeaderErr, FollowerErr error
}

type statusesRead struct {
	Of      map[string]opensearch.ReplicationStatus
	Errs    map[string]error
	Skipped []string // not asked: over maxStatusCalls
}

type authRead struct {
	Info opensearch.AuthInfo
	Err  error
	// Checks are drwatch's permissions tried on the cluster (with the
	// security plugin only).
	Checks []opensearch.PermissionCheck
}

func (in ReadinessInput) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := in.CallTimeout
	if t <= 0 {
		t = 30 * time.Second
	}
	return context.WithTimeout(ctx, t)
}

// positive returns the patterns that include (not the "-" exclusions):
// they are what a request names; the exclusions are applied after, with
// probe.InScope, as the probe and the promotion do.
func positive(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if !strings.HasPrefix(p, "-") {
			out = append(out, p)
		}
	}
	return out
}

func gather(ctx context.Context, in ReadinessInput, obs observe.Observation) *gathered {
	g := &gathered{obs: obs, alias: in.Pair.Follower.LeaderAlias, patterns: in.Pair.Indices}
	pairs := indexPairs(obs)
	// The leader's side is asked by the scope's patterns (every leader
	// index in scope, for "replicated") plus, by name, the leader index
	// of any follower index whose name the patterns do not match.
	leaderTargets := positive(g.patterns)
	for _, p := range pairs {
		if !probe.InScope(p.Leader, g.patterns) {
			leaderTargets = append(leaderTargets, p.Leader)
		}
	}
	slices.Sort(leaderTargets)
	leaderTargets = slices.Compact(leaderTargets)
	followerTargets := positive(g.patterns)

	var wg sync.WaitGroup
	run := func(f func(ctx context.Context)) {
		wg.Go(func() {
			cctx, cancel := in.callCtx(ctx)
			defer cancel()
			f(cctx)
		})
	}
	run(func(ctx context.Context) { g.remote = readRemote(ctx, in.Follower, g.alias, g.patterns) })
	run(func(ctx context.Context) {
		g.leaderSettings, g.leaderSettingsErr = in.Leader.IndexSettings(ctx, leaderTargets)
	})
	run(func(ctx context.Context) {
		g.followerSettings, g.followerSettingsErr = in.Follower.IndexSettings(ctx, followerTargets)
	})
	run(func(ctx context.Context) {
		g.leaderMappings, g.leaderMappingsErr = in.Leader.Mappings(ctx, leaderTargets)
	})
	run(func(ctx context.Context) {
		g.followerMappings, g.followerMappingsErr = in.Follower.Mappings(ctx, followerTargets)
	})
	run(func(ctx context.Context) { g.statuses = readStatuses(ctx, in.Follower, obs) })
	probe := opensearch.Probe{Scope: in.Pair.Indices, Alias: in.Pair.Follower.LeaderAlias, HAIndex: in.HAIndex, UseRoles: in.Pair.Follower.UseRoles}
	run(func(ctx context.Context) {
		g.leaderAuth.Info, g.leaderAuth.Err = in.Leader.Authinfo(ctx)
		if g.leaderAuth.Err == nil && g.leaderAuth.Info.Security {
			g.leaderAuth.Checks = in.Leader.CheckPermissions(ctx, opensearch.SideLeader, probe)
		}
	})
	run(func(ctx context.Context) {
		g.followerAuth.Info, g.followerAuth.Err = in.Follower.Authinfo(ctx)
		if g.followerAuth.Err == nil && g.followerAuth.Info.Security {
			g.followerAuth.Checks = in.Follower.CheckPermissions(ctx, opensearch.SideFollower, probe)
		}
	})
	wg.Wait()
	// Counted after the observation: the lag it measured is compared
	// with them.
	g.counts = gatherCounts(ctx, in, obs)
	return g
}

// gatherCounts counts the documents of the pair's follower indices and
// their leader indices, the follower first (as the probe reads it first):
// a leader written to in between can only look further ahead.
func gatherCounts(ctx context.Context, in ReadinessInput, obs observe.Observation) countsRead {
	var c countsRead
	pairs := indexPairs(obs)
	if len(pairs) == 0 {
		return c
	}
	fnames := make([]string, 0, len(pairs))
	lnames := make([]string, 0, len(pairs))
	for _, p := range pairs {
		fnames = append(fnames, p.Follower)
		lnames = append(lnames, p.Leader)
	}
	slices.Sort(lnames)
	lnames = slices.Compact(lnames)
	cctx, cancel := in.callCtx(ctx)
	defer cancel()
	c.Follower, c.FollowerErr = in.Follower.DocCounts(cctx, fnames, len(fnames))
	c.Leader, c.LeaderErr = in.Leader.DocCounts(cctx, lnames, len(lnames))
	return c
}

// readRemote reads the follower's remote clusters. When the pair's alias
// is known but not connected it sends one cross-cluster read through it
// (the follower reconnects only when something asks, docs/replication.md)
// and reads the remote info again.
func readRemote(ctx context.Context, f *opensearch.Client, alias string, patterns []string) remoteView {
	var v remoteView
	v.Info, v.Err = f.RemoteInfo(ctx)
	if v.Err != nil {
		return v
	}
	rc, ok := v.Info[alias]
	if !ok {
		return v
	}
	v.FirstSeen = rc.Connected
	if rc.Connected {
		return v
	}
	pattern := "*"
	if p := positive(patterns); len(p) > 0 {
		pattern = p[0]
	}
	v.Retried = true
	v.ReachErr = f.ReachRemote(ctx, alias, pattern)
	v.After, v.AfterErr = f.RemoteInfo(ctx)
	return v
}

// readStatuses asks _status of the in-scope follower indices that are
// not syncing (at most maxStatusCalls of them, in name order).
func readStatuses(ctx context.Context, f *opensearch.Client, obs observe.Observation) statusesRead {
	s := statusesRead{Of: map[string]opensearch.ReplicationStatus{}, Errs: map[string]error{}}
	var names []string
	for _, ix := range obs.Follower.Replication.Indices {
		if ix.State != observe.StateSyncing {
			names = append(names, ix.Name)
		}
	}
	if len(names) > maxStatusCalls {
		s.Skipped = names[maxStatusCalls:]
		names = names[:maxStatusCalls]
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	sem := make(chan struct{}, 4)
	for _, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := f.ReplicationStatusOf(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.Errs[n] = err
				return
			}
			s.Of[n] = st
		})
	}
	wg.Wait()
	return s
}

// indexPair is a follower index of the pair and its leader index.
type indexPair struct{ Follower, Leader string }

func indexPairs(obs observe.Observation) []indexPair {
	out := make([]indexPair, 0, len(obs.Follower.Replication.Indices))
	for _, ix := range obs.Follower.Replication.Indices {
		out = append(out, indexPair{Follower: ix.Name, Leader: ix.LeaderIndex})
	}
	return out
}

// errText is an error in one line, for a check's detail.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var e *opensearch.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}
