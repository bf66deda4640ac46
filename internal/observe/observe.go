// Package observe is what drwatch sees of a leader/follower pair in one
// probe cycle, as plain data: the leader's health, the follower's view of
// the leader (the witness), the lag of every in-scope follower index, and
// why a call failed (Class). It is a leaf: it imports nothing of drwatch
// and no HTTP client, so the decision core (policy), the journal, the
// status report and the metrics read observations without depending on
// how they were taken (probe, opensearch).
package observe

import (
	"sort"
	"time"
)

// Observation is what one probe cycle saw of one pair.
type Observation struct {
	Pair     string        `json:"pair"`
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration_ns"`
	Requests int64         `json:"http_requests"`
	Leader   Leader        `json:"leader"`
	Follower Follower      `json:"follower"`
	// Aiven is what the Aiven API says of an Aiven pair's services (nil
	// for other pairs). It is refreshed at most once per the pair's
	// aiven.probe_interval: between refreshes it is the last reading,
	// with the time it was taken.
	Aiven *Aiven `json:"aiven,omitempty"`
	// AivenRequests counts the Aiven API requests of this cycle (0
	// between refreshes), apart from the OpenSearch requests.
	AivenRequests int64 `json:"aiven_requests,omitempty"`
}

// Class is why a call failed, in words an SRE can act on. The set is closed
// and small: it is a metric label.
type Class string

// Failure classes.
const (
	ClassConnRefused   Class = "connection_refused"
	ClassTimeout       Class = "timeout"
	ClassTLS           Class = "tls"
	ClassDNS           Class = "dns"
	ClassNetwork       Class = "network"  // reset, unreachable, closed mid-answer
	ClassAuth          Class = "auth"     // 401 or 403
	ClassHTTP4xx       Class = "http_4xx" // any other 4xx
	ClassHTTP5xx       Class = "http_5xx"
	ClassMalformed     Class = "malformed_response"
	ClassPluginMissing Class = "plugin_missing" // the replication plugin is not installed
	ClassCanceled      Class = "canceled"
)

// Classes lists every class, for initialising metric labels.
var Classes = []Class{
	ClassConnRefused, ClassTimeout, ClassTLS, ClassDNS, ClassNetwork, ClassAuth,
	ClassHTTP4xx, ClassHTTP5xx, ClassMalformed, ClassPluginMissing, ClassCanceled,
}

// Failure is a classified failed call.
type Failure struct {
	Class   Class  `json:"class"`
	Status  int    `json:"status,omitempty"`
	Type    string `json:"type,omitempty"` // OpenSearch error type, when the answer was an OpenSearch error
	Message string `json:"message"`
	// Permission is the action the security plugin refused (a 403).
	Permission string `json:"permission,omitempty"`
	// Certificate is why drwatch did not accept the certificate the
	// cluster presented (unknown_authority, hostname, expired, invalid):
	// the cluster answered, its trust is misconfigured.
	Certificate string `json:"certificate,omitempty"`
}

// Side is one cluster of a pair.
type Side string

const (
	SideLeader   Side = "leader"
	SideFollower Side = "follower"
)

func (s Side) String() string { return string(s) }

// Leader is the leader as drwatch sees it directly.
type Leader struct {
	Reachable   bool          `json:"reachable"`
	Health      string        `json:"health,omitempty"` // green, yellow, red
	ClusterName string        `json:"cluster_name,omitempty"`
	Latency     time.Duration `json:"latency_ns"`
	Failure     *Failure      `json:"failure,omitempty"`
	// WriteBlocks are the blocks with which a leader that answers refuses
	// writes: cluster-wide ones (index "*") and those of its indices in
	// the pair's scope, as "index: id: description" (a disk watermark's
	// read_only_allow_delete, a human's write block, no elected cluster
	// manager). BlocksFailure says why they could not be read.
	WriteBlocks   []string `json:"write_blocks,omitempty"`
	BlocksFailure *Failure `json:"blocks_failure,omitempty"`
	// RetentionLeasePeriod is the shortest
	// index.soft_deletes.retention_lease.period of the pair's leader
	// indices (read every 10 minutes; 0: never read): how long the leader
	// keeps the history of a follower that stopped fetching.
	RetentionLeasePeriod time.Duration `json:"retention_lease_period_ns,omitempty"`
}

// Follower is the follower cluster and its view of the leader.
type Follower struct {
	Reachable   bool          `json:"reachable"`
	Latency     time.Duration `json:"latency_ns"`
	Failure     *Failure      `json:"failure,omitempty"`
	Remote      Remote        `json:"remote"`
	Witness     Witness       `json:"witness"`
	Replication Replication   `json:"replication"`
	Autofollow  Autofollow    `json:"autofollow"`
}

// Remote is the follower's remote-cluster connection to the leader alias:
// drwatch's witness. Connected false while drwatch cannot reach the leader
// either means the leader is really gone; connected true means drwatch is
// the one cut off.
type Remote struct {
	Alias                 string   `json:"alias"`
	Known                 bool     `json:"known"` // the alias exists on the follower
	Connected             bool     `json:"connected"`
	Mode                  string   `json:"mode,omitempty"`
	NodesConnected        int      `json:"nodes_connected"`
	ProxySocketsConnected int      `json:"proxy_sockets_connected"`
	Failure               *Failure `json:"failure,omitempty"`
}

// Verdict is what the active witness came to in one cycle. The set is
// closed and small: it is a metric label.
type Verdict string

// Witness verdicts.
const (
	// WitnessReached: the follower reached the leader now - a request
	// drwatch made through the follower crossed its link to the leader
	// and was answered by the leader.
	WitnessReached Verdict = "reached"
	// WitnessUnreached: the follower answered that its request to the
	// leader failed, or the request has had no answer for probe_timeout
	// while the follower answers drwatch's other calls: the witness
	// agrees the leader is gone (or the link to it is cut).
	WitnessUnreached Verdict = "unreached"
	// WitnessNone: the follower itself did not answer, or answered with an
	// error of its own (a permission, an unknown alias): no witness.
	WitnessNone Verdict = "none"
)

// Verdicts lists every verdict, for initialising metric labels.
var Verdicts = []Verdict{WitnessReached, WitnessUnreached, WitnessNone}

// Witness is the active witness: a cross-cluster request that drwatch
// makes to the follower and the follower makes to the leader, so that
// the follower's verdict on its link comes from a request crossing it
// now, not from counters that a hung leader never moves. At most one
// such request is in flight per pair: one still pending is not sent
// again, and its age is the verdict.
type Witness struct {
	Verdict Verdict `json:"verdict,omitempty"`
	// SentAt is when the request this verdict is about was sent (for a
	// pending request, possibly in an earlier cycle).
	SentAt time.Time `json:"sent_at,omitzero"`
	// Latency is how long an answered request took; Pending, how long an
	// unanswered one has been in flight.
	Latency time.Duration `json:"latency_ns,omitempty"`
	Pending time.Duration `json:"pending_ns,omitempty"`
	// Type is the follower's error type for a request to the leader that
	// failed (e.g. connect_transport_exception).
	Type string `json:"type,omitempty"`
	// Failure says why there is no witness (Verdict none).
	Failure *Failure `json:"failure,omitempty"`
}

// Text says what the witness saw, in words.
func (w Witness) Text() string {
	switch w.Verdict {
	case WitnessReached:
		return "the follower reached the leader now (in " + w.Latency.Round(time.Millisecond).String() + ")"
	case WitnessUnreached:
		if w.Type != "" {
			return "the follower's request to the leader failed (" + w.Type + ")"
		}
		return "the follower's request to the leader has had no answer for " + w.Pending.Round(100*time.Millisecond).String()
	case WitnessNone:
		why := "unknown"
		if w.Failure != nil {
			why = string(w.Failure.Class)
			if w.Failure.Message != "" {
				why = w.Failure.Message
			}
		}
		return "no witness: the follower did not answer drwatch's request to the leader (" + why + ")"
	}
	return "the follower was not asked to reach the leader"
}

// Replication is the lag and state of the in-scope follower indices.
type Replication struct {
	Failure *Failure `json:"failure,omitempty"`
	Indices []Index  `json:"indices"`
	// The follower's view (follower_stats), summed over in-scope syncing
	// indices. Not a lag: the follower's leader checkpoint only moves as
	// it fetches. The policy compares them across cycles (a leader
	// checkpoint frozen while failed reads rise means the follower has
	// lost the leader).
	ViewLeaderCheckpoint   int64 `json:"follower_view_leader_checkpoint"`
	ViewFollowerCheckpoint int64 `json:"follower_view_follower_checkpoint"`
	FailedReadRequests     int64 `json:"failed_read_requests"`
	// TotalLag sums the lag of every in-scope index whose lag is known;
	// MaxLag is the largest. A lag is known only when drwatch read both
	// clusters' own sequence numbers in this cycle, every shard of the
	// index on both sides. LagComplete is false when some index's lag is
	// unknown: an RPO guard must not treat an unknown as zero.
	TotalLag    int64 `json:"total_lag_operations"`
	MaxLag      int64 `json:"max_lag_operations"`
	LagComplete bool  `json:"lag_complete"`
	// Unreplicated are leader indices in the pair's scope that an
	// autofollow rule failed to start replicating (autofollow_stats'
	// failed_indices): they make LagComplete false.
	Unreplicated []string `json:"unreplicated_leader_indices,omitempty"`
	// Unfollowed are leader indices in the pair's scope that no follower
	// index follows (yet): a rolled-over index before autofollow created
	// its follower. Their writes are in no lag: they make LagComplete
	// false.
	Unfollowed []string `json:"unfollowed_leader_indices,omitempty"`
	// LeaderSeqNoSum sums the leader primaries' max_seq_no over the
	// in-scope indices (with LagComplete): its growth between cycles is
	// the leader's write rate.
	LeaderSeqNoSum int64 `json:"leader_seq_no_sum"`
	// LeaderCheckpointsRead: the leader's sequence numbers were read in
	// this cycle. CheckpointsFailure says why a side's could not be, and
	// CheckpointsSide whose (SideLeader, SideFollower).
	LeaderCheckpointsRead bool     `json:"leader_checkpoints_read"`
	CheckpointsFailure    *Failure `json:"checkpoints_failure,omitempty"`
	CheckpointsSide       Side     `json:"checkpoints_side,omitempty"`
	// Counts by state, over the in-scope indices.
	Syncing int `json:"syncing"`
	Stopped int `json:"not_syncing"`
	// Cluster-wide counters of follower_stats (all indices, not only
	// those in scope).
	ClusterSyncing       int64 `json:"cluster_syncing_indices"`
	ClusterBootstrapping int64 `json:"cluster_bootstrapping_indices"`
	ClusterPaused        int64 `json:"cluster_paused_indices"`
	ClusterFailed        int64 `json:"cluster_failed_indices"`
}

// Index states.
const (
	// StateSyncing: the index has running shard tasks (it is in
	// follower_stats). Its checkpoints come from there.
	StateSyncing = "syncing"
	// StateNotSyncing: a follower index with no running shard tasks -
	// paused, failed or still bootstrapping. follower_stats does not list
	// it.
	StateNotSyncing = "not_syncing"
)

// Index is one in-scope follower index.
//
// Its lag is measured from both sides: per shard, the leader primary's
// max_seq_no minus the follower primary's local checkpoint, read from
// each cluster's own index stats in the same cycle (the leader after the
// follower, so a lag can only be overstated). LeaderCheckpoint and
// FollowerCheckpoint are those sums. The follower's own idea of its
// leader (follower_stats) is FollowerView, shown beside it, never used
// as the lag.
type Index struct {
	Name               string        `json:"name"`
	LeaderIndex        string        `json:"leader_index"`
	Shards             int           `json:"shards"`
	State              string        `json:"state"`
	LeaderCheckpoint   int64         `json:"leader_checkpoint"`
	FollowerCheckpoint int64         `json:"follower_checkpoint"`
	Lag                int64         `json:"lag_operations"`
	LagKnown           bool          `json:"lag_known"`
	FollowerView       *FollowerView `json:"follower_view,omitempty"`
	FailedReadRequests int64         `json:"failed_read_requests"`
	OperationsWritten  int64         `json:"operations_written"`
	// Replication and Reason are what the plugin's _status said of an
	// index follower_stats still lists but whose replication FAILED or
	// is PAUSED (then State is not_syncing), and why.
	Replication string `json:"replication_status,omitempty"`
	Reason      string `json:"replication_reason,omitempty"`
}

// FollowerView is what follower_stats says of a syncing index: the
// follower's belief about its leader, which only moves as the follower
// fetches. Right after writes on the leader it can read lag 0 while the
// follower misses them.
type FollowerView struct {
	LeaderCheckpoint   int64 `json:"leader_checkpoint"`
	FollowerCheckpoint int64 `json:"follower_checkpoint"`
	Lag                int64 `json:"lag_operations"`
}

// Disagrees reports whether the follower's view of the index's lag differs
// from the lag measured on both sides.
func (ix Index) Disagrees() bool {
	return ix.LagKnown && ix.FollowerView != nil && ix.FollowerView.Lag != ix.Lag
}

// Autofollow is the follower's autofollow rules.
type Autofollow struct {
	Failure       *Failure `json:"failure,omitempty"`
	Rules         []Rule   `json:"rules"`
	FailedIndices []string `json:"failed_indices,omitempty"`
}

// Rule is one autofollow rule.
type Rule struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
}

// LaggingIndices returns the in-scope indices whose lag is above zero or
// unknown, or on which the follower's view disagrees, largest first.
func (r Replication) LaggingIndices() []Index {
	var out []Index
	for _, ix := range r.Indices {
		if !ix.LagKnown || ix.Lag > 0 || ix.Disagrees() {
			out = append(out, ix)
		}
	}
	sortByLag(out)
	return out
}

// UnknownLag counts the in-scope indices whose lag is unknown.
func (r Replication) UnknownLag() int {
	n := 0
	for _, ix := range r.Indices {
		if !ix.LagKnown {
			n++
		}
	}
	return n
}

// Disagreeing counts the indices whose follower view differs from the lag
// measured on both sides.
func (r Replication) Disagreeing() int {
	n := 0
	for _, ix := range r.Indices {
		if ix.Disagrees() {
			n++
		}
	}
	return n
}

// ViewLag sums the follower's view of the lag over its syncing indices.
func (r Replication) ViewLag() int64 {
	var n int64
	for _, ix := range r.Indices {
		if ix.FollowerView != nil {
			n += ix.FollowerView.Lag
		}
	}
	return n
}

// Answered reports whether the leader answered at all. A leader that
// answers its health with a 4xx (a rotated password, a missing permission)
// or with a body drwatch cannot read is alive: that is an observation
// error, not an outage. So is a leader whose certificate drwatch does not
// accept (expired, unknown CA, wrong host name): it answered the TLS
// handshake with it. Connection failures, timeouts, other TLS failures,
// DNS failures and 5xx answers are outage evidence.
//
// A 4xx counts as an answer from the leader only when it is OpenSearch's
// own error (its error envelope has a type) or a 401/403: a proxy's or
// ingress's 404 for a backend that is gone is not the leader answering.
// A body drwatch cannot read stays an observation error: by contract, a
// malformed answer never leads to a promotion.
func (l Leader) Answered() bool {
	if l.Reachable {
		return true
	}
	f := l.Failure
	if f == nil {
		return false
	}
	switch {
	case f.Class == ClassMalformed:
		return true
	case f.Class == ClassTLS && f.Certificate != "":
		return true
	case f.Status == 401 || f.Status == 403:
		return true
	case f.Status >= 400 && f.Status < 500:
		return f.Type != ""
	}
	return false
}

func sortByLag(ixs []Index) {
	sort.SliceStable(ixs, func(i, j int) bool {
		if ixs[i].LagKnown != ixs[j].LagKnown {
			return !ixs[i].LagKnown // unknown first: it is the worst case
		}
		if ixs[i].Lag != ixs[j].Lag {
			return ixs[i].Lag > ixs[j].Lag
		}
		return ixs[i].Name < ixs[j].Name
	})
}
