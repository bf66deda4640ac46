// Package probe takes one observation of a leader/follower pair per cycle:
// the leader's health, the follower's own view of the leader (the witness),
// and the replication lag of every in-scope follower index. It keeps no
// decision state: the observe.Observation it returns is plain data for the
// policy engine, the status command and the metrics.
//
// A cycle costs a bounded number of HTTP requests whatever the number of
// indices: three on the leader (health, its write blocks, and the sequence
// numbers of every shard of the replicated leader indices and of those in
// scope) and at most six on the follower
// (remote info, follower_stats, autofollow_stats, follower-index settings,
// its shards' sequence numbers, and the active witness's cross-cluster
// search, which is not sent again while one is pending). The lag is the
// leader's truth minus the follower's, read from each cluster itself.
//
// For an Aiven pair, a cycle also reads both services from the Aiven API
// (two requests), at most once per aiven.probe_interval: the one state a
// Prober keeps between cycles is that last reading.
package probe

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// Cluster is what a probe needs from one cluster. *opensearch.Client
// implements it; tests may substitute their own.
type Cluster interface {
	ClusterHealth(ctx context.Context) (opensearch.Health, error)
	// WriteBlocks is the cluster's blocks that refuse writes (the leader's
	// are read every cycle: a leader that answers but takes no write is
	// degraded, not down).
	WriteBlocks(ctx context.Context) ([]string, map[string][]string, error)
	RemoteInfo(ctx context.Context) (map[string]opensearch.RemoteCluster, error)
	FollowerStats(ctx context.Context) ([]byte, error)
	AutofollowStats(ctx context.Context) (opensearch.AutofollowStats, error)
	// CrossCluster is the active witness's request: the follower's search
	// of the leader through its remote alias (see witness).
	CrossCluster(ctx context.Context, alias string) (opensearch.WitnessAnswer, error)
	// WitnessTasks counts the follower's tasks that are the witness's
	// request (asked only while one is pending).
	WitnessTasks(ctx context.Context) (int, error)
	FollowerIndices(ctx context.Context, patterns []string) (map[string]opensearch.FollowerIndex, error)
	ShardSeqNos(ctx context.Context, indices []string) (map[string]opensearch.IndexSeqNos, error)
	RetentionLeasePeriods(ctx context.Context, indices []string) (map[string]time.Duration, error)
	Requests() int64
}

// Prober observes one pair.
type Prober struct {
	Pair        string
	Leader      Cluster
	Follower    Cluster
	LeaderAlias string
	Indices     []string // follower index patterns in scope
	Timeout     time.Duration
	Now         func() time.Time
	// Aiven, for an Aiven pair, reads its services through the Aiven API
	// in the same cycle (nil: OpenSearch only).
	Aiven *Aiven

	// witness is the pair's one cross-cluster request in flight: the
	// state a Prober keeps between cycles besides the Aiven reading and
	// the retention lease period.
	witness witness
	lease   leasePeriod
	stopped stoppedStatus
}

// LeasePeriodEvery is how often the leader's retention lease period is
// read again (a setting that rarely changes): one request then.
const LeasePeriodEvery = 10 * time.Minute

// leasePeriod is the last reading of the leader's shortest
// index.soft_deletes.retention_lease.period over the pair's indices.
type leasePeriod struct {
	mu     sync.Mutex
	at     time.Time
	period time.Duration
}

// Cycle takes one observation. It never fails: every failed call is
// recorded, classified, in the observation. The whole cycle is bounded by
// p.Timeout, and by half as much again while a witness request is pending
// (its task check has a bound of its own: witness.verdict).
func (p *Prober) Cycle(ctx context.Context) observe.Observation {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	start := now()
	reqBefore := p.Leader.Requests() + p.Follower.Requests()
	// The witness's request outlives the cycle (bounded by WitnessCap
	// and the caller's context): it is started, or still pending, here.
	wit := p.witness.begin(ctx, p.Follower, p.LeaderAlias, now)
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()

	obs := observe.Observation{Pair: p.Pair, Time: start}
	obs.Follower.Remote.Alias = p.LeaderAlias

	// The Aiven API, when due, under the same deadline, waited for only
	// at the end: a slow Aiven API must not delay the leader's sequence
	// numbers (read after the follower's) into the deadline. It writes
	// only its own reading: an Aiven failure never touches the
	// OpenSearch fields.
	var (
		aivenWG   sync.WaitGroup
		aivenReqs int64
	)
	if p.Aiven != nil && p.Aiven.due(start) {
		aivenWG.Go(func() { aivenReqs = p.Aiven.refresh(ctx, start) })
	}

	var (
		wg        sync.WaitGroup
		fsBody    []byte
		fsErr     error
		followers map[string]opensearch.FollowerIndex
		fiErr     error
		remote    map[string]opensearch.RemoteCluster
		riErr     error
		af        opensearch.AutofollowStats
		afErr     error
		seqnos    map[string]opensearch.IndexSeqNos
		snErr     error
		leaderLat time.Duration
		riLat     time.Duration
	)
	wg.Go(func() {
		t := time.Now()
		h, err := p.Leader.ClusterHealth(ctx)
		leaderLat = time.Since(t)
		if err != nil {
			obs.Leader.Failure = failureOf(err)
			return
		}
		obs.Leader.Reachable = true
		obs.Leader.Health = h.Status
		obs.Leader.ClusterName = h.ClusterName
		global, byIndex, err := p.Leader.WriteBlocks(ctx)
		if err != nil {
			obs.Leader.BlocksFailure = failureOf(err)
			return
		}
		for _, b := range global {
			obs.Leader.WriteBlocks = append(obs.Leader.WriteBlocks, "*: "+b)
		}
		names := make([]string, 0, len(byIndex))
		for name := range byIndex {
			if InScope(name, p.Indices) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			for _, b := range byIndex[name] {
				obs.Leader.WriteBlocks = append(obs.Leader.WriteBlocks, name+": "+b)
			}
		}
	})
	wg.Go(func() {
		t := time.Now()
		remote, riErr = p.Follower.RemoteInfo(ctx)
		riLat = time.Since(t)
	})
	wg.Go(func() { fsBody, fsErr = p.Follower.FollowerStats(ctx) })
	wg.Go(func() { followers, fiErr = p.Follower.FollowerIndices(ctx, p.Indices) })
	wg.Go(func() { af, afErr = p.Follower.AutofollowStats(ctx) })
	wg.Go(func() { seqnos, snErr = p.Follower.ShardSeqNos(ctx, p.Indices) })
	wg.Wait()
	obs.Leader.Latency = leaderLat
	obs.Follower.Latency = riLat

	p.remote(&obs.Follower, remote, riErr)
	obs.Follower.Reachable = riErr == nil || !unreachable(riErr)
	if !obs.Follower.Reachable {
		obs.Follower.Failure = failureOf(riErr)
	}
	p.autofollow(&obs.Follower.Autofollow, af, afErr)
	p.replication(ctx, &obs, fsBody, fsErr, followers, fiErr, seqnos, snErr)
	p.unreplicated(&obs.Follower)
	// Last: a witness that answers late must not eat the deadline of the
	// leader's sequence numbers, read just above.
	obs.Follower.Witness = p.witness.verdict(ctx, wit, obs.Follower.Reachable, p.Timeout, now)
	p.explainStopped(ctx, &obs, now())

	aivenWG.Wait()
	obs.Duration = now().Sub(start)
	obs.Requests = p.Leader.Requests() + p.Follower.Requests() - reqBefore
	if p.Aiven != nil {
		obs.Aiven, obs.AivenRequests = p.Aiven.current(), aivenReqs
	}
	return obs
}

func (p *Prober) remote(f *observe.Follower, info map[string]opensearch.RemoteCluster, err error) {
	r := &f.Remote
	if err != nil {
		r.Failure = failureOf(err)
		return
	}
	rc, ok := info[p.LeaderAlias]
	if !ok {
		return // Known=false: the follower has no such alias
	}
	r.Known = true
	r.Connected = rc.Connected
	r.Mode = rc.Mode
	r.NodesConnected = rc.NumNodesConnected
	r.ProxySocketsConnected = rc.NumProxySocketsConnected
}

func (p *Prober) autofollow(a *observe.Autofollow, st opensearch.AutofollowStats, err error) {
	if err != nil {
		a.Failure = failureOf(err)
		return
	}
	a.Rules = make([]observe.Rule, 0, len(st.Rules))
	for _, r := range st.Rules {
		a.Rules = append(a.Rules, observe.Rule{Name: r.Name, Pattern: r.Pattern})
	}
	a.FailedIndices = st.FailedIndices
}

// replication joins the follower index list (settings) with
// follower_stats (which indices sync, and the follower's view of its
// leader), then reads the leader's own sequence numbers for their leader
// indices - after the follower's, so that a lag can only be overstated -
// and computes each index's lag shard by shard.
func (p *Prober) replication(ctx context.Context, obs *observe.Observation, body []byte, fsErr error,
	followers map[string]opensearch.FollowerIndex, fiErr error,
	fseq map[string]opensearch.IndexSeqNos, fseqErr error,
) {
	r := &obs.Follower.Replication
	r.Indices = []observe.Index{}
	var fs *opensearch.FollowerStats
	if fsErr == nil {
		fs, fsErr = opensearch.ParseFollowerStats(body)
	}
	if err := errors.Join(fsErr, fiErr); err != nil {
		// Report the follower_stats failure first: it is the one that
		// says whether replication can be read at all.
		if fsErr != nil {
			r.Failure = failureOf(fsErr)
		} else {
			r.Failure = failureOf(fiErr)
		}
		return
	}
	r.ClusterSyncing = fs.NumSyncingIndices
	r.ClusterBootstrapping = fs.NumBootstrappingIndices
	r.ClusterPaused = fs.NumPausedIndices
	r.ClusterFailed = fs.NumFailedIndices

	leaderNames := make([]string, 0, len(followers))
	for name, fi := range followers {
		if fi.LeaderAlias != p.LeaderAlias {
			continue // follows another remote cluster: not this pair's
		}
		ix := observe.Index{Name: name, LeaderIndex: fi.LeaderIndex, Shards: fi.Shards}
		if st, ok := fs.IndexStats[name]; ok {
			ix.State = observe.StateSyncing
			ix.FollowerView = &observe.FollowerView{
				LeaderCheckpoint:   st.LeaderCheckpoint,
				FollowerCheckpoint: st.FollowerCheckpoint,
				Lag:                max(0, st.LeaderCheckpoint-st.FollowerCheckpoint),
			}
			ix.FailedReadRequests = st.FailedReadRequests
			ix.OperationsWritten = st.OperationsWritten
			r.Syncing++
			r.ViewLeaderCheckpoint += st.LeaderCheckpoint
			r.ViewFollowerCheckpoint += st.FollowerCheckpoint
			r.FailedReadRequests += st.FailedReadRequests
		} else {
			ix.State = observe.StateNotSyncing
			r.Stopped++
		}
		r.Indices = append(r.Indices, ix)
		leaderNames = append(leaderNames, fi.LeaderIndex)
	}
	sort.Slice(r.Indices, func(i, j int) bool { return r.Indices[i].Name < r.Indices[j].Name })
	p.leaderLag(ctx, obs, leaderNames, fseq, fseqErr)
	r.LagComplete = len(r.Unfollowed) == 0
	for _, ix := range r.Indices {
		if !ix.LagKnown {
			r.LagComplete = false
			continue
		}
		r.TotalLag += ix.Lag
		r.MaxLag = max(r.MaxLag, ix.Lag)
		r.LeaderSeqNoSum += ix.LeaderCheckpoint
	}
}

// leaderLag computes each index's lag from both clusters' own sequence
// numbers. Without the leader's (it is down, or its stats do not answer)
// every lag is unknown: the follower's view of its leader is shown beside
// it, never taken for it.
func (p *Prober) leaderLag(ctx context.Context, obs *observe.Observation, leaderNames []string,
	fseq map[string]opensearch.IndexSeqNos, fseqErr error,
) {
	r := &obs.Follower.Replication
	if len(r.Indices) == 0 {
		return
	}
	switch {
	case fseqErr != nil:
		r.CheckpointsFailure = failureOf(fseqErr)
		r.CheckpointsFailure.Message = "follower's checkpoints not read: " + r.CheckpointsFailure.Message
		r.CheckpointsSide = observe.SideFollower
		return
	case !obs.Leader.Reachable:
		f := observe.Failure{Class: observe.ClassNetwork}
		if obs.Leader.Failure != nil {
			f = *obs.Leader.Failure
		}
		f.Message = "leader's checkpoints not read: its health did not answer (" + f.Message + ")"
		r.CheckpointsFailure, r.CheckpointsSide = &f, observe.SideLeader
		return
	}
	slices.Sort(leaderNames)
	leaderNames = slices.Compact(leaderNames)
	// The pair's patterns too: a leader index in scope that no follower
	// index follows yet (a rollover's new index, before autofollow made
	// its follower) takes writes that no lag counts.
	lseq, err := p.Leader.ShardSeqNos(ctx, append(slices.Clone(leaderNames), p.Indices...))
	if err != nil {
		r.CheckpointsFailure = failureOf(err)
		r.CheckpointsFailure.Message = "leader's checkpoints not read: " + r.CheckpointsFailure.Message
		r.CheckpointsSide = observe.SideLeader
		return
	}
	r.LeaderCheckpointsRead = true
	p.leasePeriod(ctx, obs, leaderNames)
	dotted := slices.ContainsFunc(p.Indices, func(pat string) bool { return strings.HasPrefix(pat, ".") })
	for name := range lseq {
		if !InScope(name, p.Indices) || (strings.HasPrefix(name, ".") && !dotted) {
			// A system index (".kibana", ".plugins-...") is no follower's
			// unless the pair's patterns name dot-indices themselves.
			continue
		}
		if _, followed := slices.BinarySearch(leaderNames, name); !followed {
			r.Unfollowed = append(r.Unfollowed, name)
		}
	}
	slices.Sort(r.Unfollowed)
	for i := range r.Indices {
		ix := &r.Indices[i]
		lag, lsum, fsum, ok := opensearch.ShardLag(lseq[ix.LeaderIndex], fseq[ix.Name], ix.Shards)
		if !ok {
			continue // a primary is not started on one side: the sum would be partial
		}
		ix.LeaderCheckpoint, ix.FollowerCheckpoint = lsum, fsum
		ix.Lag, ix.LagKnown = lag, true
	}
}

// leasePeriod sets the observation's retention lease period: the last
// reading, read again from the leader when LeasePeriodEvery has passed.
// A failed read keeps the last one (the next cycle tries again).
func (p *Prober) leasePeriod(ctx context.Context, obs *observe.Observation, leaderNames []string) {
	l := &p.lease
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(leaderNames) > 0 && (l.at.IsZero() || obs.Time.Sub(l.at) >= LeasePeriodEvery || obs.Time.Before(l.at)) {
		// The pair's patterns: one request whatever the index count.
		if periods, err := p.Leader.RetentionLeasePeriods(ctx, p.Indices); err == nil && len(periods) > 0 {
			l.period = 0
			for _, d := range periods {
				if l.period == 0 || d < l.period {
					l.period = d
				}
			}
			l.at = obs.Time
		}
	}
	obs.Leader.RetentionLeasePeriod = l.period
}

// unreplicated marks the leader indices in the pair's scope that an
// autofollow rule failed to start replicating: their writes are on no
// follower index, so no lag reading of the pair can be complete.
func (p *Prober) unreplicated(f *observe.Follower) {
	r := &f.Replication
	for _, name := range f.Autofollow.FailedIndices {
		if InScope(name, p.Indices) {
			r.Unreplicated = append(r.Unreplicated, name)
		}
	}
	if len(r.Unreplicated) > 0 {
		slices.Sort(r.Unreplicated)
		r.LagComplete = false
	}
}

// InScope reports whether an index name matches a pair's index patterns
// (opensearch.InScope).
func InScope(name string, patterns []string) bool { return opensearch.InScope(name, patterns) }

func failureOf(err error) *observe.Failure {
	if err == nil {
		return nil
	}
	f := &observe.Failure{Class: observe.ClassNetwork, Message: err.Error()}
	if e, ok := opensearch.AsError(err); ok {
		f.Class, f.Status, f.Type = e.Class, e.Status, e.Type
		f.Permission, f.Certificate = e.Permission, e.Certificate
	}
	return f
}

// unreachable reports whether err means the cluster did not answer at all
// (as opposed to answering with an error).
func unreachable(err error) bool {
	e, ok := opensearch.AsError(err)
	if !ok {
		return true
	}
	return e.Status == 0
}
