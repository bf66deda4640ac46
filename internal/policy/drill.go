package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// DrillStart starts a failover drill's graceful promotion of a healthy
// pair: a rehearsal that the drill will undo. It is refused in every
// other phase (an incident, a pause, a promotion: a drill never runs then)
// and for a pair another drill owns. A lag over max_lag_operations does
// not refuse it: a graceful promotion waits until the follower has caught
// up with the write-blocked leader.
func DrillStart(st State, drill DrillID, by string, now time.Time) (Decision, error) {
	switch {
	case st.Drill != "":
		return Decision{State: st}, fmt.Errorf("%w: failover drill %s has not finished on this pair", ErrConflict, st.Drill)
	case st.Phase != Healthy:
		return Decision{State: st}, fmt.Errorf("%w: a failover drill runs only on a healthy pair; it is %s", ErrConflict, st.Phase)
	}
	d, err := ManualPromote(st, by, "failover drill "+drill.String(), now)
	if err != nil {
		return d, err
	}
	d.State.Drill = drill
	return d, nil
}

// DrillEnded hands a pair back to drwatch after a failover drill restored
// its replication: it is healthy again and watched afresh, with the
// drill's promotion forgotten (its record too: Abandon) so that a real
// outage can promote it. Only the drill that owns the pair ends it.
func DrillEnded(st State, drill DrillID, summary string, now time.Time) (Decision, error) {
	if st.Drill == "" || st.Drill != drill {
		return Decision{State: st}, fmt.Errorf("%w: the pair is not in failover drill %s", ErrConflict, drill)
	}
	if st.Phase != Promoted && st.Phase != Failed {
		return Decision{State: st}, fmt.Errorf("%w: failover drill %s cannot end while the pair is %s", ErrConflict, drill, st.Phase)
	}
	d := Decision{State: Initial(now)}
	d.State.EpisodeEnd = st.EpisodeEnd
	d.Abandon = true
	d.enter(Healthy, now, "failover drill "+drill.String()+" restored replication: "+summary)
	return d, nil
}

// DrillReleased takes a pair back from a failover drill that cannot
// finish its restore (its report lost, the drill removed from the
// config): a human's decision that the pair is what the clusters now
// show. A promoted pair stays promoted for good (never promoted again;
// the old leader fenced when it answers), as after a real promotion. A
// failed drill promotion is paused, not retried: a human looks at the
// clusters, then resumes (the promotion is retried) or leaves it. It is
// refused while the drill's promotion runs.
func DrillReleased(st State, by, reason string, now time.Time) (Decision, error) {
	switch {
	case st.Drill == "":
		return Decision{State: st}, fmt.Errorf("%w: no failover drill owns the pair", ErrConflict)
	case st.Phase == Promoting:
		return Decision{State: st}, fmt.Errorf("%w: failover drill %s is promoting the pair: release it once the promotion ends", ErrConflict, st.Drill)
	}
	d := Decision{State: st}
	d.State.Drill = ""
	msg := fmt.Sprintf("released from failover drill %s by %s%s", st.Drill, by, suffix(reason))
	switch st.Phase {
	case Failed:
		d.State.PausedFrom, d.State.PausedBy, d.State.PauseReason = Failed, by, "released from failover drill "+st.Drill.String()
		d.State.PausedUntil = time.Time{}
		d.enter(Paused, now, msg+": its promotion failed half-way; paused until a human resumes (which retries the promotion)")
	case Promoted:
		d.enter(Promoted, now, msg+": the pair stays promoted, as after a real promotion")
	default:
		d.enter(st.Phase, now, msg)
	}
	return d, nil
}

// DrillReason says, among a pair's reasons, that a drill owns it.
func DrillReason(owner DrillID) string {
	return "failover drill " + owner.String() + " owns the pair: drwatch decides nothing for it until the drill restores replication and hands it back (drwatch drill show --name " + owner.Name() + ")"
}

// withDrillReason is reasons ending with DrillReason(owner), once.
func withDrillReason(reasons []string, owner DrillID) []string {
	r := DrillReason(owner)
	if n := len(reasons); n > 0 && reasons[n-1] == r {
		return reasons
	}
	return append(slices.Clone(reasons), r)
}

// DrillID names the failover drill that owns a pair and its report:
// "<drill>/<report id>" in the journal and the API.
type DrillID string

// NewDrillID is the id of drill's run whose report is report.
func NewDrillID(drill, report string) DrillID { return DrillID(drill + "/" + report) }

func (d DrillID) String() string { return string(d) }

// Name is the drill's name (config drills[].name).
func (d DrillID) Name() string {
	name, _, _ := strings.Cut(string(d), "/")
	return name
}

// Report is the id of the drill's report.
func (d DrillID) Report() string {
	_, report, _ := strings.Cut(string(d), "/")
	return report
}
