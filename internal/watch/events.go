package watch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/policy"
)

// Notifier delivers events to the hooks (a *hooks.Hub in the daemon).
type Notifier interface {
	// Notify queues an event and returns at once.
	Notify(ev hooks.Event)
	// Veto asks the veto hooks about a promotion about to start.
	Veto(ctx context.Context, ev hooks.Event) error
	// HasVeto reports whether a veto hook vets the event.
	HasVeto(event string) bool
}

// notifyLocked hands the events of a decision to the hooks. Called with
// the runtime's lock held: Notify never blocks. extra reasons go before
// the state's.
func (w *Watcher) notifyLocked(events []policy.Event, from policy.Phase, by string, extra ...string) {
	if _, err := w.role.Acting(); w.hooks == nil || err != nil {
		return // with ha, only the lease holder pages
	}
	for _, name := range events {
		if name == policy.EvPromotionStarted && w.vettingLocked() {
			continue // told after the veto hooks allow it (vetLocked)
		}
		if w.rt.rec.State.Drill != "" && drillHeld(name) {
			// A failover drill's promotion is a rehearsal: it pages nobody
			// and runs no hook that acts (a DNS flip); the drill's outcome
			// goes out as drill_succeeded or drill_failed.
			continue
		}
		ev := w.eventLocked(name, from, by)
		ev.Reasons = append(slices.Clone(extra), ev.Reasons...)
		w.hooks.Notify(ev)
	}
}

// eventLocked describes an event of the pair's current state for people:
// what happened, why, what drwatch does next, and - with a human's
// decision pending - how to give it.
func (w *Watcher) eventLocked(name policy.Event, from policy.Phase, by string) hooks.Event {
	st := &w.rt.rec.State
	pol := w.pair.Resolved
	now := w.now()
	ev := hooks.Event{
		ID:    w.pair.Name + "-" + name.String() + "-" + strconv.FormatInt(now.UnixNano(), 36),
		Event: name.String(), Pair: w.pair.Name, State: st.Phase.String(), From: from.String(), Mode: pol.Mode,
		At: now, Reasons: append([]string{}, st.Reasons...), By: by,
		StatusURL: w.url + "/", Source: w.source,
	}
	hooks.Classify(&ev)
	ev.Summary = summary(name, st)
	if name == policy.EvPromotionSucceeded && w.rt.unassigned > 0 {
		ev.Summary = fmt.Sprintf("promoted, but %d of the follower indices take no writes yet (no active primary): see the reasons", w.rt.unassigned)
	}
	ok, why := policy.RPOGuard(st, pol, now)
	ev.Lag = &hooks.Lag{RPOGuardPasses: ok, RPOGuard: why}
	if r := st.LastGoodLag; r != nil {
		ops := r.TotalOperations
		ev.Lag.Operations, ev.Lag.MeasuredAt = &ops, r.At
	}
	switch name {
	case policy.EvApprovalGranted, policy.EvApprovalDenied, policy.EvApprovalExpired, policy.EvPromotionVetoed:
		ev.Approval = &hooks.Approval{ID: st.ApprovalID}
		if a := answer(name, st); a != nil {
			ev.Approval.By, ev.Approval.Reason = a.By, a.Reason
		}
	}
	if st.Phase == policy.AwaitingApproval || st.Phase == policy.LeaderDown {
		ev.Approval = w.approvalLocked(st, pol)
	}
	if p := w.rt.rec.Promotion; p != nil && (st.Phase == policy.Promoting || st.Phase == policy.Promoted || st.Phase == policy.Failed) {
		ev.Promotion = &hooks.Promotion{ID: p.ID, By: p.By, Graceful: p.Graceful}
	} else if name == policy.EvPromotionStarted {
		ev.Promotion = &hooks.Promotion{By: by}
	}
	if name == policy.EvPromotionFailed {
		if ev.Promotion == nil {
			ev.Promotion = &hooks.Promotion{}
		}
		ev.Promotion.Error = st.LastError
	}
	ev.Next = w.nextLocked(st, pol)
	return ev
}

func answer(name policy.Event, st *policy.State) *policy.Answer {
	if name == policy.EvApprovalGranted {
		return st.Approval
	}
	return st.Denial
}

// approvalLocked is the pending request, or - held in leader_down - how
// to approve without one; with the exact commands.
func (w *Watcher) approvalLocked(st *policy.State, pol *config.Policy) *hooks.Approval {
	a := &hooks.Approval{ID: st.ApprovalID}
	idFlag, idBody := "", "{}"
	if st.Phase == policy.AwaitingApproval && st.ApprovalID != "" {
		a.ExpiresAt = st.ApprovalRequested.Add(pol.ApprovalTimeout.D())
		idFlag, idBody = " --id "+st.ApprovalID, `{"id":"`+st.ApprovalID+`"}`
		a.OnExpiry = "drwatch holds (a human can still approve or promote)"
		if pol.OnApprovalTimeout == "promote" {
			a.OnExpiry = "drwatch promotes if the RPO guard passes then, and holds otherwise"
		}
	} else {
		a.ID = ""
	}
	if st.Denial != nil {
		a.By, a.Reason = st.Denial.By, st.Denial.Reason
	}
	a.ApproveCommand = fmt.Sprintf("drwatch approve --server %s --pair %s%s", w.url, w.pair.Name, idFlag)
	a.DenyCommand = fmt.Sprintf("drwatch deny --server %s --pair %s", w.url, w.pair.Name)
	curl := `curl -X POST -H "Authorization: Bearer $DRWATCH_API_TOKEN" -d '%s' %s/api/v1/pairs/%s/%s`
	a.ApproveAPI = fmt.Sprintf(curl, idBody, w.url, w.pair.Name, "approve")
	a.DenyAPI = fmt.Sprintf(curl, "{}", w.url, w.pair.Name, "deny")
	if st.Phase == policy.LeaderDown {
		a.DenyCommand, a.DenyAPI = "", "" // nothing pending to deny
	}
	return a
}

// summary is an event's one line.
func summary(name policy.Event, st *policy.State) string {
	switch name {
	case policy.EvLeaderSuspect:
		return "leader suspect: its probes fail"
	case policy.EvLeaderDown:
		return "leader down"
	case policy.EvLeaderRecovered:
		return "leader recovered: it answers again"
	case policy.EvWatcherIsolated:
		return "drwatch is cut off from the leader; the follower still sees it"
	case policy.EvReplicationDegraded:
		return "replication degraded"
	case policy.EvReplicationRecovered:
		return "replication recovered"
	case policy.EvLeaderDegraded:
		return "leader degraded: it answers but refuses writes"
	case policy.EvLeaderWritable:
		return "leader takes writes again"
	case policy.EvLeaseExpiring:
		left, _ := st.LeaseLeft(time.Now())
		return "replication stalled: the follower's retention lease on the leader expires in " + max(left, 0).Round(time.Minute).String()
	case policy.EvLeaseRenewed:
		return "the follower fetches from the leader again: its retention lease is renewed"
	case policy.EvApprovalRequired:
		return "leader down: promotion needs approval (request " + st.ApprovalID + ")"
	case policy.EvApprovalGranted:
		return "promotion approved"
	case policy.EvApprovalDenied:
		return "promotion denied: holding"
	case policy.EvApprovalExpired:
		return "approval request expired"
	case policy.EvPromotionStarted:
		return "promotion started"
	case policy.EvPromotionVetoed:
		return "promotion vetoed: holding"
	case policy.EvPromotionSucceeded:
		return "promoted: the follower is writable"
	case policy.EvPromotionFailed:
		return "promotion failed"
	case policy.EvOldLeaderReturned:
		return "the old leader answers again after the promotion: two writable copies are possible"
	case policy.EvOldLeaderFenced:
		return "the returned old leader was write-blocked"
	case policy.EvJournalUnwritable:
		return "journal unwritable: no promotion starts until it is"
	case policy.EvJournalRecovered:
		return "journal writable again"
	}
	return name.String()
}

// nextLocked says what drwatch does next in the pair's state, and what a
// human can do.
func (w *Watcher) nextLocked(st *policy.State, pol *config.Policy) string {
	switch st.Phase {
	case policy.Healthy:
		return "nothing: drwatch keeps watching"
	case policy.Suspect:
		return fmt.Sprintf("drwatch keeps probing: the leader is down after %s and %d failed probes in a row", pol.LeaderDownAfter, pol.MinFailedProbes) +
			map[bool]string{true: ", with the follower's witness", false: ""}[*pol.RequireFollowerWitness]
	case policy.Isolated:
		return "nothing: drwatch never acts while it is cut off from the leader and the follower still sees it; check the network between drwatch and the leader"
	case policy.LeaderDown:
		if pol.Mode == config.ModeDryRun {
			return "nothing (dry-run mode)"
		}
		return "drwatch holds until the leader answers again or a human approves or promotes"
	case policy.AwaitingApproval:
		return "drwatch waits for a human to approve or deny until " + st.ApprovalRequested.Add(pol.ApprovalTimeout.D()).UTC().Format(time.RFC3339)
	case policy.Promoting:
		return "drwatch is promoting the follower (fencing the leader if it answers, then stopping replication on every index in scope)"
	case policy.Promoted:
		return "point writers at the follower; drwatch keeps watching the old leader and fences it if it comes back"
	case policy.Failed:
		return "drwatch retries at " + st.RetryAt.UTC().Format(time.RFC3339) + "; pausing the pair stops the retries"
	case policy.Paused:
		return "nothing until the pause ends"
	}
	return ""
}

// drillHeld reports whether an event is held back from the hooks while a
// failover drill owns the pair: its promotion's.
func drillHeld(event policy.Event) bool {
	switch event {
	case policy.EvPromotionStarted, policy.EvPromotionSucceeded, policy.EvPromotionFailed,
		policy.EvOldLeaderReturned, policy.EvOldLeaderFenced:
		return true
	}
	return false
}
