package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// witnessView is the follower's view of the leader in one observation.
type witnessView struct {
	sees bool // the follower is connected and replication is not stalled
	lost bool // the follower has lost the leader
	// active: lost on the active witness's evidence alone (the
	// follower's request to the leader failed or has no answer) while
	// its remote connection still reads connected. Like drwatch's own
	// probes, that must last leader_down_after: a slow leader answers
	// the follower late, not never.
	active bool
	why    string
}

// track updates the outage, checkpoint, witness and lag tracking from an
// observation, and returns the witness.
func track(s *State, obs observe.Observation, pol *config.Policy) witnessView {
	if gap := obs.Time.Sub(s.ObservedAt); !s.ObservedAt.IsZero() && gap > GapLimit(pol) {
		// A gap in observation (drwatch frozen, stopped, its host
		// suspended) longer than max_observation_age: what the readings
		// before it showed - an outage's start, the follower's testimony -
		// may have ended and begun again meanwhile. Thresholds are met
		// afresh from here; the last lag reading keeps its own time, so
		// the RPO guard judges its age from the outage as seen now.
		resetTracking(s)
		s.GapBefore = obs.Time.Sub(s.ObservedAt)
	} else {
		s.GapBefore = 0
	}
	s.ObservedAt = obs.Time
	alive := obs.Leader.Answered()
	trackOutage(s, obs.Time, alive)
	trackCheckpoints(s, obs, alive)
	w := witnessOf(s, obs.Follower)
	trackWitness(s, &w, obs.Time, alive)
	trackLag(s, obs)
	return w
}

// trackOutage counts drwatch's failed leader probes in a row.
func trackOutage(s *State, at time.Time, alive bool) {
	if alive {
		s.Outage = Outage{}
	} else {
		if s.OutageStart.IsZero() {
			s.OutageStart = at
			// Failed reads that rose before drwatch lost the leader (a
			// blip while it answered) say nothing about this outage:
			// only rises from here on make the follower a witness.
			s.OutageReadRises = 0
		}
		s.FailedProbes++
	}
}

// trackCheckpoints follows the follower's view of the leader checkpoint
// and its failed reads: the frozen-checkpoint witness.
func trackCheckpoints(s *State, obs observe.Observation, alive bool) {
	f := obs.Follower
	r := f.Replication
	if f.Reachable && r.Failure == nil && r.Syncing > 0 {
		switch {
		case s.CheckpointFrozenSince.IsZero() || r.ViewLeaderCheckpoint != s.LeaderCheckpoint || r.FailedReadRequests < s.FailedReads:
			// moved (or counters reset): not frozen
			s.CheckpointFrozenSince, s.FailedReadRises, s.OutageReadRises = obs.Time, 0, 0
		case r.FailedReadRequests > s.FailedReads:
			s.FailedReadRises++
			if !alive {
				s.OutageReadRises++
			}
		case alive:
			// No new failed read with the leader answering: whatever
			// failed before (a rolling restart) has passed, and an idle
			// leader's checkpoint standing still is no sign of staleness.
			s.FailedReadRises = 0
		}
		s.LeaderCheckpoint, s.FailedReads = r.ViewLeaderCheckpoint, r.FailedReadRequests
	}
}

// witnessOf is what the follower says of the leader in this observation.
func witnessOf(s *State, f observe.Follower) witnessView {
	// One failed read proves little (the fault that cut drwatch off may
	// have hit one of the follower's reads too); reads that keep failing
	// while the leader checkpoint stands still do (the plugin retries
	// with backoff, see docs/replication.md, so this takes a while).
	frozen := s.OutageReadRises >= FrozenReadRises && !s.CheckpointFrozenSince.IsZero()
	a := f.Witness
	var w witnessView
	switch {
	case !f.Reachable:
		w.why = "follower unreachable: cannot ask it (" + failureText(f.Failure) + ")"
	case a.Verdict == observe.WitnessReached:
		// A request crossed the follower's link to the leader and the
		// leader answered it: whatever the counters say, the follower
		// sees the leader now.
		w.sees = true
		w.why = a.Text()
	case f.Remote.Failure == nil && !f.Remote.Known:
		w.why = fmt.Sprintf("follower has no remote cluster %q", f.Remote.Alias)
	case f.Remote.Failure == nil && !f.Remote.Connected:
		w.lost = true
		w.why = fmt.Sprintf("follower lost the leader (remote %q disconnected)", f.Remote.Alias)
		if a.Verdict == observe.WitnessUnreached {
			w.why += "; " + a.Text()
		}
	case a.Verdict == observe.WitnessUnreached:
		// A hung leader: its sockets stay open, so the remote
		// connection reads connected and the follower's reads just
		// wait. The request that crossed the link now is the witness.
		w.lost, w.active = true, true
		w.why = a.Text()
		if f.Remote.Failure == nil {
			w.why += fmt.Sprintf(" (its remote connection %q still reads connected)", f.Remote.Alias)
		}
	case f.Remote.Failure != nil:
		w.why = "follower's remote info unreadable (" + failureText(f.Remote.Failure) + ")"
	case frozen:
		w.lost = true
		w.why = fmt.Sprintf("follower's leader checkpoint frozen since %s while its reads kept failing (rose in %d probes, %d failed reads)", s.CheckpointFrozenSince.Format(time.RFC3339), s.OutageReadRises, s.FailedReads)
	default:
		w.sees = true
		w.why = fmt.Sprintf("follower still connected to %q", f.Remote.Alias)
		if a.Verdict == observe.WitnessNone {
			w.why += "; " + a.Text()
		}
	}
	return w
}

// trackWitness keeps how long, and for how many observations in a row,
// the follower has been without the leader.
func trackWitness(s *State, w *witnessView, at time.Time, alive bool) {
	switch {
	case !w.lost || alive:
		// The follower saw the leader, or could not be asked: whenever
		// it loses it again, that is when the leader was lost.
		s.Witness = Witness{}
	case s.WitnessLostSince.IsZero():
		s.WitnessLostSince, s.WitnessLostProbes = at, 1
	default:
		s.WitnessLostProbes++
	}
	if w.lost && !s.WitnessLostSince.IsZero() {
		w.why += " since " + s.WitnessLostSince.Format(time.RFC3339)
	}
}

// trackLag keeps the last good lag reading, and the leader indices an
// autofollow rule failed to replicate.
func trackLag(s *State, obs observe.Observation) {
	r := obs.Follower.Replication
	// A good lag reading: complete, every index's lag measured from the
	// sequence numbers drwatch read from both clusters itself in this
	// cycle. The follower's view of its leader never makes one.
	if len(r.Unreplicated) > 0 {
		// Leader indices an autofollow rule failed to replicate are on no
		// follower: no reading, however recent, covers their writes. They
		// are remembered until a complete reading (which they would make
		// incomplete) shows them gone: the plugin clears its list on its
		// retry schedule, and cannot retry while the leader is down.
		s.Unreplicated = slices.Clone(r.Unreplicated)
		s.LastGoodLag = nil
	}
	if len(r.Unfollowed) > 0 {
		// Leader indices in scope that no follower index follows yet:
		// their writes are in no reading. Remembered like the above.
		s.Unfollowed = slices.Clone(r.Unfollowed)
		s.LastGoodLag = nil
	}
	if obs.Leader.Reachable && r.LeaderCheckpointsRead && r.Failure == nil && r.LagComplete && len(r.Indices) > 0 {
		byIndex := make(map[string]int64, len(r.Indices))
		for _, ix := range r.Indices {
			byIndex[ix.LeaderIndex] += ix.LeaderCheckpoint
		}
		s.LastGoodLag = nextReading(s.LastGoodLag, &LagReading{TotalOperations: r.TotalLag, MaxOperations: r.MaxLag,
			Indices: len(r.Indices), LeaderSeqNos: r.LeaderSeqNoSum, At: obs.Time, ByIndex: byIndex})
		s.Unreplicated, s.Unfollowed = nil, nil
	}
}

// GapLimit is the longest gap between two observations that the tracking
// carries over: max_observation_age, but never less than two probe
// intervals and a probe timeout (a cycle that starts late, or overruns,
// is no gap).
func GapLimit(pol *config.Policy) time.Duration {
	return max(pol.MaxObservationAge.D(), 2*pol.ProbeInterval.D()+pol.ProbeTimeout.D())
}

// WitnessProbes is how many observations in a row must show the follower
// without the leader before it counts as a witness.
const WitnessProbes = 2

// FrozenReadRises is how many probes during an outage must see the
// follower's failed reads rise, with its leader checkpoint frozen, before
// that counts as the follower having lost the leader.
const FrozenReadRises = 3
