package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// AivenFreshIntervals bounds the age of an Aiven reading the decision
// uses: at most this many of its aiven.probe_interval before the
// observation's own time. A reading is refreshed every interval, so a
// live one is at most one interval and a cycle old; three intervals allow
// a slow cycle or two, and anything older means the refreshes stopped
// (it says nothing about now).
const AivenFreshIntervals = 3

// aivenView is what the decision takes from an observation's Aiven
// reading. The control plane's view only ever makes the decision more
// careful: it can delay declaring the leader down (up to 2 x
// leader_down_after), never hasten it, and a reading that failed or is
// stale is not used at all - the decision is what it would be without
// it, plus a reason saying so.
type aivenView struct {
	// fresh: a reading without failure, at most AivenFreshIntervals
	// intervals old.
	fresh bool
	r     *observe.Aiven
	// notes are reasons the reading adds to any watching phase.
	notes []string
}

// aivenOf judges an observation's Aiven reading.
func aivenOf(obs observe.Observation) aivenView {
	a := obs.Aiven
	if a == nil {
		return aivenView{}
	}
	age := a.Age(obs.Time)
	limit := AivenFreshIntervals * a.Interval
	switch {
	case a.Failure != nil:
		return aivenView{notes: []string{fmt.Sprintf("Aiven API %s (%s): its view is not used", aivenFailureWord(a.Failure), a.Failure.Class)}}
	case age < 0:
		return aivenView{notes: []string{fmt.Sprintf("Aiven reading dated %s, after the observation (a clock step?): its view is not used", a.ReadAt.Format(time.RFC3339))}}
	case a.Interval <= 0 || age > limit:
		return aivenView{notes: []string{fmt.Sprintf("Aiven reading is %s old (more than %d x aiven.probe_interval %s): its view is not used", dur(age), AivenFreshIntervals, a.Interval)}}
	}
	v := aivenView{fresh: true, r: a}
	for _, side := range []struct {
		role string
		s    *observe.AivenService
	}{{"leader", a.Leader}, {"follower", a.Follower}} {
		s := side.s
		switch {
		case s == nil:
		case s.State == observe.AivenPoweroff || s.State == observe.AivenRebuilding:
			v.notes = append(v.notes, fmt.Sprintf("Aiven reports %s service %s %s, %s", side.role, s.Name, s.State, s.Nodes()))
		case s.Recycling():
			v.notes = append(v.notes, fmt.Sprintf("Aiven reports %s service %s %s, %s: a node recycle", side.role, s.Name, s.State, s.Nodes()))
		case !s.AllRunning() || s.State != observe.AivenRunning:
			v.notes = append(v.notes, fmt.Sprintf("Aiven reports %s service %s %s, %s", side.role, s.Name, s.State, s.Nodes()))
		}
	}
	if in := a.Integration; in != nil {
		switch {
		case !in.Found:
			v.notes = append(v.notes, fmt.Sprintf("Aiven lists no cross-cluster replication integration from %s to %s: the follower service is standalone (promoted or detached outside drwatch?)",
				serviceName(a.Leader, "the leader service"), serviceName(a.Follower, "the follower service")))
		case in.Status == observe.IntegrationFailed:
			v.notes = append(v.notes, fmt.Sprintf("Aiven reports the cross-cluster replication integration %s failed", in.ID))
		case !in.Active:
			v.notes = append(v.notes, fmt.Sprintf("Aiven reports the cross-cluster replication integration %s not active (status %s)", in.ID, orWord(in.Status, "none")))
		}
	}
	return v
}

// recycling names the services Aiven is recycling nodes of ("" if none).
func (v aivenView) recycling() string {
	if !v.fresh {
		return ""
	}
	var names []string
	for _, s := range []*observe.AivenService{v.r.Leader, v.r.Follower} {
		if s != nil && s.Recycling() {
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, " and ")
}

// leaderAlive says, in words, that Aiven reports the leader service up
// while OpenSearch does not answer ("" when it does not, or the reading
// is not evidence about this outage: stale, failed, or taken before it
// began). Up is RUNNING or REBALANCING with every node running or in a
// node recycle (leaving, being set up, syncing data): Aiven is moving the
// service, not losing it. A node timing out or unknown, POWEROFF,
// REBUILDING or no node at all is no evidence of life.
func (v aivenView) leaderAlive(s *State) string {
	if !v.fresh || v.r.Leader == nil || s.OutageStart.IsZero() || v.r.ReadAt.Before(s.OutageStart) {
		return ""
	}
	l := v.r.Leader
	if l.State != observe.AivenRunning && l.State != observe.AivenRebalancing || l.NodesTotal == 0 {
		return "" // POWEROFF, REBUILDING, a state drwatch does not know: no evidence of life
	}
	for _, n := range l.NotRunning {
		switch n.State {
		case observe.NodeLeaving, observe.NodeSettingUpVM, observe.NodeSyncingData:
		default:
			return "" // a node timing out or unknown: Aiven sees trouble too
		}
	}
	return fmt.Sprintf("Aiven reports leader service %s %s, %s, while OpenSearch does not answer", l.Name, l.State, l.Nodes())
}

// aivenWait is the reason the leader is not declared down yet because
// Aiven reports it up ("" when Aiven does not, or 2 x leader_down_after
// has passed: then the usual rules apply, and late says why).
func aivenWait(s *State, v aivenView, pol *config.Policy, now time.Time) (wait, late string) {
	alive := v.leaderAlive(s)
	if alive == "" {
		return "", ""
	}
	twice := 2 * pol.LeaderDownAfter.D()
	if now.Sub(s.OutageStart) < twice {
		return fmt.Sprintf("%s: waiting 2 x leader_down_after (%s) before declaring it down", alive, twice), ""
	}
	return "", fmt.Sprintf("%s, but OpenSearch has not answered for 2 x leader_down_after (%s): the usual rules apply (Aiven's control plane can be wrong or slow)", alive, twice)
}

// pausedDuringRecycle is the reason for follower indices not syncing
// while Aiven recycles nodes ("" otherwise).
func pausedDuringRecycle(obs observe.Observation, v aivenView) string {
	r := obs.Follower.Replication
	names := v.recycling()
	if names == "" || r.Failure != nil || (r.Stopped == 0 && r.ClusterPaused == 0) {
		return ""
	}
	n := r.Stopped
	if n == 0 {
		n = int(r.ClusterPaused)
	}
	return fmt.Sprintf("%d follower index(es) not syncing while Aiven recycles nodes of %s: replication pauses during an Aiven node recycle; this is not a leader failure", n, names)
}

func aivenFailureWord(f *observe.Failure) string {
	switch f.Class {
	case observe.ClassConnRefused, observe.ClassTimeout, observe.ClassDNS, observe.ClassNetwork, observe.ClassTLS:
		return "unreachable"
	case observe.ClassAuth:
		return "refuses drwatch's token"
	}
	return "failing"
}

func serviceName(s *observe.AivenService, otherwise string) string {
	if s == nil {
		return otherwise
	}
	return s.Name
}

func orWord(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
