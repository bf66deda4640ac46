package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

// RPOGuard reports whether the last good lag reading allows an unattended
// promotion, and why. Its age is measured at the moment the leader was lost
// (now, when the leader is up): no reading can be fresher after that, and
// the data at risk is what the leader acknowledged after it. With
// require_follower_witness the leader is lost only once the follower has
// lost it too: if drwatch lost the leader first (cut off, or unable to ask
// the follower), the follower may have replicated - and the leader
// acknowledged - writes that no reading saw, so the age runs to the
// moment the follower lost it.
func RPOGuard(s *State, pol *config.Policy, now time.Time) (bool, string) {
	if len(s.Unreplicated) > 0 {
		return false, fmt.Sprintf("RPO guard fails: %d leader indices in scope were never replicated (autofollow failed): %s: their writes would be lost",
			len(s.Unreplicated), strings.Join(s.Unreplicated, ", "))
	}
	if len(s.Unfollowed) > 0 {
		return false, fmt.Sprintf("RPO guard fails: %d leader indices in scope have no follower index (yet: a rollover's new index before autofollow follows it?): %s: their writes would be lost",
			len(s.Unfollowed), strings.Join(s.Unfollowed, ", "))
	}
	r := s.LastGoodLag
	if r == nil {
		return false, "RPO guard fails: no complete lag reading (lag unknown)"
	}
	ref, when := now, "old"
	if !s.OutageStart.IsZero() {
		ref, when = s.OutageStart, "before the leader was lost"
		if *pol.RequireFollowerWitness && s.WitnessLostSince.After(ref) {
			ref = s.WitnessLostSince
		}
	}
	age := ref.Sub(r.At)
	if age < 0 || r.At.After(now) {
		// A reading dated after the moment it is judged at (a journaled
		// time from before a clock step back) has no age that means
		// anything: it is no evidence.
		return false, fmt.Sprintf("RPO guard fails: last lag reading (%d ops) is dated %s, after %s: a clock step? not trusted",
			r.TotalOperations, r.At.Format(time.RFC3339), ref.Format(time.RFC3339))
	}
	if age > pol.MaxObservationAge.D() {
		return false, fmt.Sprintf("RPO guard fails: last lag reading (%d ops) is %s %s, max_observation_age %s", r.TotalOperations, dur(age), when, pol.MaxObservationAge)
	}
	loss, since, known := r.EstimatedLoss(age)
	lag := fmt.Sprintf("last lag %d ops", r.TotalOperations)
	fine := max(age, 0).Round(100 * time.Millisecond)
	if !known {
		return false, fmt.Sprintf("RPO guard fails: %s, read %s %s, but the leader's write rate is unknown (a first reading, or an index that appeared since the last one, e.g. a rollover): the writes after it cannot be estimated",
			lag, fine, when)
	}
	if since > 0 {
		lag += fmt.Sprintf(" + ~%d written in the %s after it (%.0f ops/s)", since, fine, r.WriteRate)
	}
	if loss > *pol.MaxLagOperations {
		return false, fmt.Sprintf("RPO guard fails: %s (max %d, in %d indices) > max_lag_operations %d: estimated loss %d operations",
			lag, r.MaxOperations, r.Indices, *pol.MaxLagOperations, loss)
	}
	return true, fmt.Sprintf("%s, read %s %s: estimated loss %d operations", lag, fine, when, loss)
}

// rateWindow is how far apart two readings may be for the leader's write
// rate between them to stand for its current rate.
const rateWindow = 5 * time.Minute

// nextReading gives a new reading the leader's write rate since the
// previous one: the operations its primaries assigned between them (the
// sum of max_seq_no over the same indices) per second. When the two cannot
// be compared (other indices, too far apart, a sum that went down) the
// previous rate is kept.
func nextReading(prev, r *LagReading) *LagReading {
	if prev == nil {
		return r
	}
	dt := r.At.Sub(prev.At)
	if dt <= 0 || dt > rateWindow {
		// Too far apart to stand for the current rate: keep the last
		// measured one (a rate, known or not, is never invented).
		r.WriteRate, r.RateKnown = prev.WriteRate, prev.RateKnown
		return r
	}
	var ops int64
	for name, cur := range r.ByIndex {
		was, ok := prev.ByIndex[name]
		if !ok || cur < was {
			// An index the previous reading did not have (a rollover's
			// new index), or one recreated since: its writes are not
			// measured. The rate is unknown - never 0.
			r.WriteRate, r.RateKnown = 0, false
			return r
		}
		ops += cur - was
	}
	r.WriteRate, r.RateKnown = float64(ops)/dt.Seconds(), true
	return r
}

// holds reports whether automatic action is held (cooldown, maintenance).
func holds(s *State, pol *config.Policy, now time.Time) (bool, string) {
	if !s.EpisodeEnd.IsZero() && now.Sub(s.EpisodeEnd) < pol.Cooldown.D() {
		return true, fmt.Sprintf("in cooldown until %s (last episode ended %s ago): no automatic action", s.EpisodeEnd.Add(pol.Cooldown.D()).Format(time.RFC3339), dur(now.Sub(s.EpisodeEnd)))
	}
	for _, w := range pol.MaintenanceWindows {
		if start := w.Schedule.Sched.Next(now.Add(-w.Duration.D())); !start.After(now) {
			return true, fmt.Sprintf("in maintenance window %q until %s: no automatic action", w.Schedule.Spec, start.Add(w.Duration.D()).Format(time.RFC3339))
		}
	}
	return false, ""
}
