package policy

import (
	"fmt"
	"time"
)

// DrillStart starts a failover drill's graceful promotion of a healthy
// pair: a rehearsal that the drill will undo. It is refused in every
// other phase (an incident, a pause, a promotion: a drill never runs then)
// and for a pair another drill owns. A lag over max_lag_operations does
// not refuse it: a graceful promotion waits until the follower has caught
// up with the write-blocked leader.
func DrillStart(st State, drill, by string, now time.Time) (Decision, error) {
	switch {
	case st.Drill != "":
		return Decision{State: st}, fmt.Errorf("%w: failover drill %s has not finished on this pair", ErrConflict, st.Drill)
	case st.Phase != Healthy:
		return Decision{State: st}, fmt.Errorf("%w: a failover drill runs only on a healthy pair; it is %s", ErrConflict, st.Phase)
	}
	d, err := ManualPromote(st, by, "failover drill "+drill, now)
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
func DrillEnded(st State, drill, summary string, now time.Time) (Decision, error) {
	if st.Drill == "" || st.Drill != drill {
		return Decision{State: st}, fmt.Errorf("%w: the pair is not in failover drill %s", ErrConflict, drill)
	}
	if st.Phase != Promoted && st.Phase != Failed {
		return Decision{State: st}, fmt.Errorf("%w: failover drill %s cannot end while the pair is %s", ErrConflict, drill, st.Phase)
	}
	d := Decision{State: Initial(now)}
	d.State.EpisodeEnd = st.EpisodeEnd
	d.Abandon = true
	d.enter(Healthy, now, "failover drill "+drill+" restored replication: "+summary)
	return d, nil
}
