// Package policy is drwatch's decision core: observations, the pair's
// durable state, the policy and the time go in; the next state, the reasons
// and the actions to take come out. It does no I/O, reads no clock and
// starts no goroutines, so every path that can promote is a table test.
//
// Safety rules it enforces:
//   - The leader is down only when drwatch's probes have failed for
//     leader_down_after AND min_failed_probes in a row, and (with
//     require_follower_witness) the follower has lost the leader too. A
//     leader that answers once resets the clock.
//   - If drwatch loses the leader but the follower still sees it, drwatch is
//     the one cut off: isolated, never act.
//   - Unattended promotion needs the RPO guard: a complete lag reading, taken
//     while the leader and the follower's link were up, at most
//     max_observation_age before the leader was lost, within
//     max_lag_operations. An unknown lag never passes.
//   - A promoted pair is never promoted again.
package policy

import (
	"math"
	"strings"
	"time"
)

// Phase is a pair's decision state (docs/events.md, "The states").
type Phase string

// String is the phase's word in the contract (the metrics' state label,
// the status's decision.state, the events' state).
func (p Phase) String() string { return string(p) }

// Phases.
const (
	Healthy          Phase = "healthy"
	Suspect          Phase = "suspect"
	Isolated         Phase = "isolated"
	LeaderDown       Phase = "leader_down"
	AwaitingApproval Phase = "awaiting_approval"
	Promoting        Phase = "promoting"
	Promoted         Phase = "promoted"
	Failed           Phase = "failed"
	Paused           Phase = "paused"
)

// Phases lists every phase, for metrics.
var Phases = []Phase{Healthy, Suspect, Isolated, LeaderDown, AwaitingApproval, Promoting, Promoted, Failed, Paused}

// State is what drwatch remembers about a pair between cycles and across
// restarts (the journal stores it). Its fields are grouped by what they
// are about (an outage, the witness, an approval, a pause, ...); the
// groups are embedded, so the journal's JSON is one flat object and a
// field reads as s.OutageStart. A group is not reset as a whole unless
// its doc says so (resetTracking says what an outage's end resets).
type State struct {
	Phase Phase     `json:"phase"`
	Since time.Time `json:"since"`

	Outage
	Witness
	Checkpoints

	Tracking

	ApprovalRequest
	// Denial is a human's no to promoting in this outage: it holds until
	// the leader answers again or a human approves after all (not reset
	// with the request).
	Denial *Answer `json:"denial,omitempty"`

	Lease

	Health

	Cooldown

	PauseInfo
	Attempt
	Aftermath

	// Drill names the failover drill ("<drill>/<report id>") that owns the
	// pair from its graceful promotion until its restore ends (DrillStart,
	// DrillEnded): the promotion is a rehearsal, the leader answering after
	// it is expected, and nothing is decided until the drill hands the
	// pair back.
	Drill DrillID `json:"drill,omitempty"`

	// Reasons for the current phase, human-readable.
	Reasons []string `json:"reasons"`
}

// Tracking is what the observations folded in so far say about the
// outage's evidence: when the last was taken, the gap before it, the
// last good lag reading and the leader indices replication misses.
type Tracking struct {
	// ObservedAt is the time of the last observation folded into the
	// tracking; GapBefore, the gap before the current one when it was
	// longer than max_observation_age (the tracking started afresh).
	ObservedAt time.Time     `json:"observed_at,omitzero"`
	GapBefore  time.Duration `json:"gap_before_ns,omitempty"`

	// LastGoodLag is the last complete lag reading taken while the leader
	// answered and the follower's link to it was up.
	LastGoodLag *LagReading `json:"last_good_lag,omitempty"`
	// Unreplicated are leader indices in scope an autofollow rule failed
	// to replicate, kept until a complete lag reading shows none: the
	// RPO guard fails while there are any.
	Unreplicated []string `json:"unreplicated,omitempty"`
	// Unfollowed are leader indices in scope no follower index followed
	// (a rollover's new index before its follower existed), kept the same
	// way: the RPO guard fails while there are any.
	Unfollowed []string `json:"unfollowed,omitempty"`
}

// Health is what the replication_degraded/recovered and
// leader_degraded/writable events are raised from.
type Health struct {
	// Degraded is set while replication is unhealthy with the leader up
	// (lag over max_lag_operations, or an index not syncing or of unknown
	// lag): it drives replication_degraded / replication_recovered.
	Degraded bool `json:"degraded,omitempty"`
	// LeaderDegraded is set while the leader answers but refuses writes
	// (write blocks): it drives leader_degraded / leader_writable.
	LeaderDegraded bool `json:"leader_degraded,omitempty"`
	// LinkUnreached counts the observations in a row, with the leader
	// answering drwatch, in which the follower's request to the leader
	// went unanswered (the active witness): from WitnessProbes on, the
	// link between them is reported cut (replication_degraded).
	LinkUnreached int `json:"link_unreached,omitempty"`
}

// Cooldown is an outage episode and what follows it: whether one is
// under way, whether Aiven's view delayed it, whether its page is open,
// and when the last one ended (the cooldown counts from it).
type Cooldown struct {
	// Episode is set from the first leader_down of an outage until the
	// leader answers again: blips of the witness or the thresholds inside
	// it (leader_down -> suspect -> leader_down) are the same episode.
	Episode bool `json:"episode,omitempty"`
	// AivenDelayed is set when the leader was down by the usual rules but
	// not declared so because Aiven reported its service up (waiting up
	// to 2 x leader_down_after): when the leader answers again, the
	// cooldown starts as after an episode, so that Aiven's view never
	// leaves drwatch less careful about the next outage.
	AivenDelayed bool `json:"aiven_delayed,omitempty"`
	// OutageRaised is set while an outage event (leader_suspect,
	// leader_down, watcher_isolated) has been raised and no
	// leader_recovered or promotion_succeeded has closed it: the leader
	// answering again closes it, whatever happened in between (a pause, a
	// restart), so that a page an outage opened is always resolved.
	OutageRaised bool `json:"outage_raised,omitempty"`
	// EpisodeEnd is when the last outage episode ended (cooldown).
	EpisodeEnd time.Time `json:"episode_end,omitzero"`
}

// Outage is the current leader outage, as drwatch sees it: when its
// probes started failing and how many failed in a row. Zero while the
// leader answers.
type Outage struct {
	OutageStart  time.Time `json:"outage_start,omitzero"`
	FailedProbes int       `json:"failed_probes"`
}

// Witness is the follower's testimony: WitnessLostSince is when the
// follower was first seen without the leader in this outage, in the
// current run of observations that all showed it without the leader
// (zero once it is seen with the leader or cannot be asked).
type Witness struct {
	WitnessLostSince  time.Time `json:"witness_lost_since,omitzero"`
	WitnessLostProbes int       `json:"witness_lost_probes,omitempty"`
}

// Checkpoints tracks the follower's view of the leader's checkpoint for
// the frozen-checkpoint witness: a leader checkpoint that stands still
// while the follower's failed reads keep rising. A reset of the tracking
// clears the frozen-since time and the rises; the values last seen are
// only compared once a frozen-since time is set again.
type Checkpoints struct {
	LeaderCheckpoint      int64     `json:"leader_checkpoint"`
	FailedReads           int64     `json:"failed_reads"`
	CheckpointFrozenSince time.Time `json:"checkpoint_frozen_since,omitzero"`
	FailedReadRises       int       `json:"failed_read_rises,omitempty"` // since the checkpoint last moved
	OutageReadRises       int       `json:"outage_read_rises,omitempty"` // of those, during the current outage
}

// Lease tracks the leader's retention lease for the follower: it is
// renewed while the follower fetches, and once it has not been for the
// leader's index.soft_deletes.retention_lease.period the leader drops the
// history the follower needs - it can never resume. StalledSince is when
// the follower was first seen not fetching (an index paused or failed,
// its link to the leader down or hanging); LeasePeriod the period last
// read from the leader; LeaseWarned the share of it (50, 90) already
// paged.
type Lease struct {
	StalledSince time.Time     `json:"replication_stalled_since,omitzero"`
	LeasePeriod  time.Duration `json:"retention_lease_period_ns,omitempty"`
	LeaseWarned  int           `json:"retention_lease_warned,omitempty"`
	// LeaseNote is the reason the last cycle gave about the lease running
	// down (one a cycle, replaced by the next).
	LeaseNote string `json:"retention_lease_note,omitempty"`
}

// DefaultLeasePeriod is OpenSearch's default retention lease period,
// assumed until the leader's own is read.
const DefaultLeasePeriod = 12 * time.Hour

// LeaseLeft is how long the follower's retention lease on the leader has
// left at now (the whole period while the follower fetches), and the
// period it is counted against.
func (s *State) LeaseLeft(now time.Time) (left, period time.Duration) {
	period = s.LeasePeriod
	if period <= 0 {
		period = DefaultLeasePeriod
	}
	if s.StalledSince.IsZero() {
		return period, period
	}
	return period - now.Sub(s.StalledSince), period
}

// ApprovalRequest is the approval request of the current episode.
// ApprovalID names it: an approve must name it, so that a late or
// replayed approve never approves another request. ApprovalGuardOK is
// the RPO guard's verdict it was asked under: when it flips, the
// situation is another one and a new request is made.
type ApprovalRequest struct {
	ApprovalRequested time.Time `json:"approval_requested,omitzero"`
	ApprovalID        string    `json:"approval_id,omitempty"`
	ApprovalGuardOK   bool      `json:"approval_guard_ok,omitempty"`
	Approval          *Answer   `json:"approval,omitempty"`
	ApprovalExpired   bool      `json:"approval_expired,omitempty"`
}

// PauseInfo is a human's pause: until when (zero: until resumed), by
// whom, why, and the phase it paused.
type PauseInfo struct {
	PausedUntil time.Time `json:"paused_until,omitzero"`
	PausedBy    string    `json:"paused_by,omitempty"`
	PauseReason string    `json:"pause_reason,omitempty"`
	PausedFrom  Phase     `json:"paused_from,omitempty"`
}

// Attempt is the current promotion's attempts (promoting, failed).
type Attempt struct {
	PromotionAttempts int       `json:"promotion_attempts,omitempty"`
	RetryAt           time.Time `json:"retry_at,omitzero"`
	LastError         string    `json:"last_error,omitempty"`
	// PromotionByHand: the promotion was started by a human's promote
	// command, whatever the leader's state - never abandoned.
	// PromotionChanged: an attempt fenced the leader or stopped
	// replication somewhere - the pair may be split, so it goes on.
	PromotionByHand  bool `json:"promotion_by_hand,omitempty"`
	PromotionChanged bool `json:"promotion_changed,omitempty"`
}

// Aftermath is what happened after the promotion: when, whether the old
// leader answered again, and whether its copies of the promoted indices
// were write-blocked since.
type Aftermath struct {
	PromotedAt        time.Time `json:"promoted_at,omitzero"`
	OldLeaderReturned bool      `json:"old_leader_returned,omitempty"`
	OldLeaderFenced   bool      `json:"old_leader_fenced,omitempty"`
	// UnfencedNote is the reason given while the old leader answers and
	// is not fenced (the last of the reasons, replaced each cycle).
	UnfencedNote string `json:"old_leader_unfenced_note,omitempty"`
}

// LagReading is a lag measurement and when it was taken, with the sum of
// the leader primaries' max_seq_no it was measured against and the
// leader's write rate up to it (ops/s, from the previous reading).
type LagReading struct {
	TotalOperations int64   `json:"total_operations"`
	MaxOperations   int64   `json:"max_operations"`
	Indices         int     `json:"indices"`
	LeaderSeqNos    int64   `json:"leader_seq_nos,omitempty"`
	WriteRate       float64 `json:"write_rate_ops_per_second,omitempty"`
	// RateKnown: WriteRate was measured, index by index, against a
	// previous reading of every index in this one. A first reading, or
	// one with an index the previous did not have (a rollover's new
	// index), has no known rate: never 0.
	RateKnown bool      `json:"write_rate_known,omitempty"`
	At        time.Time `json:"at"`

	// ByIndex is each leader index's sum of primary max_seq_no: the next
	// reading's rate is computed per index name from it.
	ByIndex map[string]int64 `json:"leader_seq_nos_by_index,omitempty"`
}

// EstimatedLoss is what an unattended promotion would lose if the leader
// was lost age after the reading: the lag it measured, plus what the
// leader is estimated to have acknowledged since, at its last write rate
// (writes no reading saw, and the follower may not have fetched). known
// is false when writes may have happened since and the rate is unknown:
// the loss cannot be estimated.
func (r *LagReading) EstimatedLoss(age time.Duration) (loss, since int64, known bool) {
	if age > 0 && !r.RateKnown {
		return r.TotalOperations, 0, false
	}
	if age > 0 && r.WriteRate > 0 {
		since = int64(math.Ceil(r.WriteRate * age.Seconds()))
	}
	return r.TotalOperations + since, since, true
}

// Answer is a human's answer to an approval request.
type Answer struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// ShiftDeadlines moves the state's deadlines by d: when a pause ends, when
// a failed promotion is retried, when an approval request expires (it
// counts from when it was asked) and when the cooldown ends (from the
// episode's end). A daemon that adopts another's published state shifts
// them by its own clock's now minus the publisher's time of publishing:
// the time left is kept, whatever the two hosts' clocks say (and the
// publication's age is added: a pause or a cooldown may last that much
// longer, never end early). The evidence's times (the outage, the
// witness, the lag reading) are not moved: their age is what they prove.
func (s State) ShiftDeadlines(d time.Duration) State {
	move := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.Add(d)
		}
	}
	move(&s.PausedUntil)
	move(&s.RetryAt)
	move(&s.ApprovalRequested)
	move(&s.EpisodeEnd)
	return s
}

// Terminal reports whether no decision can leave the phase.
func (p Phase) Terminal() bool { return p == Promoted }

// Initial is the state of a pair drwatch has never seen.
func Initial(now time.Time) State {
	return State{Phase: Healthy, Since: now, Reasons: []string{"first start"}}
}

// Upgrade brings a state journaled or published by an earlier version to
// this one's form: such a state kept no note of which of its reasons are
// the lease's and the unfenced old leader's, so the next cycle would add
// them a second time. The journal and the adoption of a published state
// call it where they read a state; no decision reads the words.
func Upgrade(s State) State {
	if s.LeaseNote == "" {
		for _, r := range s.Reasons {
			if strings.HasPrefix(r, "the follower has not fetched from the leader since ") {
				s.LeaseNote = r
			}
		}
	}
	if n := len(s.Reasons); s.UnfencedNote == "" && n > 0 && s.Phase == Promoted && !s.OldLeaderFenced &&
		strings.HasPrefix(s.Reasons[n-1], "the old leader answers again and is not fenced") {
		s.UnfencedNote = s.Reasons[n-1]
	}
	return s
}
