package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// Event is what happened to a pair, as hooks and the journal name it;
// its String is the contract's word (docs/events.md).
type Event string

func (e Event) String() string { return string(e) }

// EventNames are evs' contract words, in order.
func EventNames(evs []Event) []string {
	if evs == nil {
		return nil
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.String()
	}
	return out
}

// Events; each must be in config.Events.
const (
	EvLeaderSuspect        Event = "leader_suspect"
	EvLeaderDown           Event = "leader_down"
	EvLeaderRecovered      Event = "leader_recovered"
	EvWatcherIsolated      Event = "watcher_isolated"
	EvReplicationDegraded  Event = "replication_degraded"
	EvReplicationRecovered Event = "replication_recovered"
	EvLeaderDegraded       Event = "leader_degraded"
	EvLeaderWritable       Event = "leader_writable"
	EvLeaseExpiring        Event = "retention_lease_expiring"
	EvLeaseRenewed         Event = "retention_lease_renewed"
	EvApprovalRequired     Event = "approval_required"
	EvApprovalGranted      Event = "approval_granted"
	EvApprovalDenied       Event = "approval_denied"
	EvApprovalExpired      Event = "approval_expired"
	EvPromotionStarted     Event = "promotion_started"
	EvPromotionVetoed      Event = "promotion_vetoed"
	EvPromotionSucceeded   Event = "promotion_succeeded"
	EvPromotionFailed      Event = "promotion_failed"
	EvOldLeaderReturned    Event = "old_leader_returned"
	EvOldLeaderFenced      Event = "old_leader_fenced"
	// EvJournalUnwritable is raised by the daemon, not the decision core:
	// it cannot be journaled itself.
	EvJournalUnwritable Event = "journal_unwritable"
	EvJournalRecovered  Event = "journal_recovered"
	// EvDrillSucceeded and EvDrillFailed are raised by a drill's runner
	// when a drill ends (internal/drill).
	EvDrillSucceeded Event = "drill_succeeded"
	EvDrillFailed    Event = "drill_failed"
)

// Decision is the outcome of one step of the decision core.
type Decision struct {
	State State
	// Events to journal and deliver, in order.
	Events []Event
	// Promote asks the caller to run (or resume) the promotion now.
	Promote bool
	// By is who started the promotion, with Promote: the human who
	// approved or promoted, or drwatch. The promotion's record keeps it.
	By string
	// WouldPromote is set in dry-run mode when any other mode would have
	// promoted (auto with the guard passing); nothing is done.
	WouldPromote bool
	// FenceOldLeader asks the caller to write-block the old leader's
	// copies of the promoted indices: it answers again after the
	// promotion. Report the outcome with OldLeaderFenced.
	FenceOldLeader bool
	// Abandon tells the caller the failed promotion is given up (it
	// changed nothing and the leader answers again): forget its record, so
	// that a later promotion plans afresh.
	Abandon bool
}

// Changed reports whether the phase differs from before.
func (d Decision) Changed(prev State) bool { return d.State.Phase != prev.Phase }

func (d *Decision) emit(ev Event) {
	d.Events = append(d.Events, ev)
	switch ev {
	case EvLeaderSuspect, EvLeaderDown, EvWatcherIsolated:
		d.State.OutageRaised = true
	case EvLeaderRecovered, EvPromotionSucceeded:
		d.State.OutageRaised = false
	}
}

// enter moves the state to phase p at now (keeping Since when unchanged).
func (d *Decision) enter(p Phase, now time.Time, reasons ...string) {
	if d.State.Phase != p {
		d.State.Since = now
	}
	d.State.Phase = p
	d.State.Reasons = reasons
}

// Decide folds one observation into the state and says what to do. It is
// pure: the same inputs always give the same decision. Each phase has its
// step: after the promotion (promoted), a promotion under way (promoting:
// the executor drives it), a failed one (failed), a pause (paused), and
// the watching phases, where the observation decides (healthy, suspect,
// isolated, leader_down, awaiting_approval).
func Decide(st State, obs observe.Observation, pol *config.Policy, now time.Time) Decision {
	d := Decision{State: st}
	if st.Drill != "" && (st.Phase == Promoted || st.Phase == Failed) {
		// A failover drill's promotion: the drill restores replication
		// and hands the pair back (DrillEnded); until then nothing is
		// retried, fenced or promoted, and the reasons say so.
		d.State.Reasons = withDrillReason(st.Reasons, st.Drill)
		return d
	}
	switch st.Phase {
	case Promoted:
		oldLeader(&d, obs, pol) // never promoted again
		return d
	case Promoting:
		return d // the executor drives this phase; see PromotionSucceeded/Failed
	case Failed:
		stepFailed(&d, obs, pol, now)
		return d
	case Paused:
		if !stepPaused(&d, now) {
			// A pause stops acting, not watching: readings, failures
			// and the witness are tracked as ever, so that a leader
			// that dies during maintenance is decided on, from them,
			// the moment the pause ends.
			track(&d.State, obs, pol)
			retentionLease(&d, obs, now)
			return d
		}
		if d.State.Phase == Failed {
			return d // back to the failed promotion: retried by the next decision
		}
	}
	stepWatching(&d, obs, pol, now)
	return d
}

// stepFailed retries a failed promotion when its backoff is over, or
// abandons it when it changed nothing and the leader answers again.
func stepFailed(d *Decision, obs observe.Observation, pol *config.Policy, now time.Time) {
	s := &d.State
	switch {
	case pol.Mode == config.ModeDryRun:
		s.Reasons = []string{"a promotion failed and is not finished (" + s.LastError + "); the policy is now dry-run: not retrying; change the mode, or finish it with drwatch promote"}
	case !s.PromotionByHand && !s.PromotionChanged && obs.Leader.Answered():
		// Nothing was fenced or stopped, and the leader answers again:
		// the outage this promotion answered is over. Retrying it would
		// fail over a healthy leader.
		why := fmt.Sprintf("the failed promotion changed nothing (%d attempts, last: %s) and the leader answers again: abandoned", s.PromotionAttempts, s.LastError)
		s.Attempt = Attempt{}
		if s.Episode {
			s.EpisodeEnd = now // cooldown starts
		}
		resetTracking(s)
		d.Abandon = true
		d.emit(EvLeaderRecovered)
		d.enter(Healthy, now, why)
	case !now.Before(s.RetryAt):
		d.enter(Promoting, now, fmt.Sprintf("retrying the promotion (attempt %d) after: %s", s.PromotionAttempts+1, s.LastError))
		d.Promote = true
		d.emit(EvPromotionStarted)
	}
}

// stepPaused ends a pause that has expired; it reports whether it did.
func stepPaused(d *Decision, now time.Time) bool {
	if s := &d.State; s.PausedUntil.IsZero() || now.Before(s.PausedUntil) {
		return false
	}
	unpause(d, now, "pause expired")
	return true
}

// stepWatching decides the watching phases from the observation: the
// leader answers (healthy), drwatch is cut off (isolated), not down yet
// (suspect), or down (leader_down, and what the mode does about it).
func stepWatching(d *Decision, obs observe.Observation, pol *config.Policy, now time.Time) {
	s := &d.State
	w := track(s, obs, pol)
	prev := s.Phase
	av := aivenOf(obs)
	defer retentionLease(d, obs, now)

	if obs.Leader.Answered() {
		leaderAnswers(d, obs, pol, now)
		d.State.Reasons = append(d.State.Reasons, aivenNotes(obs, av)...)
		return
	}

	down := fmt.Sprintf("leader unreachable for %s (%s in a row, last: %s)",
		dur(now.Sub(s.OutageStart)), plural(s.FailedProbes, "failed probe"), failureText(obs.Leader.Failure))
	if s.GapBefore > 0 {
		down += fmt.Sprintf("; counted afresh after a gap of %s in observation (more than max_observation_age %s)", dur(s.GapBefore), dur(GapLimit(pol)))
	}
	requireWitness := *pol.RequireFollowerWitness

	if requireWitness && w.sees {
		if prev != Isolated {
			d.emit(EvWatcherIsolated)
		}
		clearRequest(s)
		d.enter(Isolated, now, append([]string{down, "but the follower still sees the leader (" + w.why + "): drwatch itself is cut off; never acting on this"}, aivenNotes(obs, av)...)...)
		return
	}
	// Aiven reporting the leader service up makes the thresholds wait
	// up to 2 x leader_down_after; it never shortens them.
	wait, late := aivenWait(s, av, pol, now)
	if need := notDownYet(s, w, pol, now); len(need) > 0 || wait != "" {
		if prev == Healthy || prev == Isolated {
			d.emit(EvLeaderSuspect)
		}
		clearRequest(s)
		reasons := []string{down}
		if len(need) > 0 {
			reasons = append(reasons, "not yet down: needs "+strings.Join(need, ", "))
		} else {
			// Down by the usual rules, held back by Aiven's view:
			// when the leader answers again, the cooldown starts as
			// after an episode (Aiven never makes drwatch less careful).
			s.AivenDelayed = true
		}
		if wait != "" {
			reasons = append(reasons, wait)
		}
		d.enter(Suspect, now, append(reasons, aivenNotes(obs, av)...)...)
		return
	}
	reasons := []string{down}
	if requireWitness {
		reasons = append(reasons, w.why)
	}
	if late != "" {
		reasons = append(reasons, late)
	}
	leaderDown(d, prev, pol, now, append(reasons, aivenNotes(obs, av)...))
}

// retentionLease follows whether the follower keeps its retention lease
// on the leader renewed (it fetches), and pages when it has not for half
// the leader's retention_lease.period and again at 90 %: past the period
// the follower can never resume. While the lease runs down, the reasons
// say how long it has left.
func retentionLease(d *Decision, obs observe.Observation, now time.Time) {
	s := &d.State
	if p := obs.Leader.RetentionLeasePeriod; p > 0 {
		s.LeasePeriod = p
	}
	// One reason, given anew each cycle (a paused pair keeps its reasons
	// between cycles).
	if note := s.LeaseNote; note != "" {
		s.Reasons = slices.DeleteFunc(slices.Clone(s.Reasons), func(r string) bool { return r == note })
		s.LeaseNote = ""
	}
	f := obs.Follower
	r := f.Replication
	readable := f.Reachable && r.Failure == nil && f.Remote.Failure == nil
	stalled := readable && (r.Stopped > 0 || f.Witness.Verdict == observe.WitnessUnreached || (f.Remote.Known && !f.Remote.Connected) ||
		(!obs.Leader.Answered() && f.Witness.Verdict != observe.WitnessReached))
	renewing := readable && !stalled && r.Syncing > 0 && f.Remote.Connected
	switch {
	case stalled && s.StalledSince.IsZero():
		s.StalledSince = obs.Time
	case renewing && !s.StalledSince.IsZero():
		if s.LeaseWarned > 0 {
			d.emit(EvLeaseRenewed)
		}
		s.StalledSince, s.LeaseWarned = time.Time{}, 0
	}
	if s.StalledSince.IsZero() {
		return
	}
	left, period := s.LeaseLeft(now)
	used := 100 * (period - left) / period
	for _, mark := range []int{50, 90} {
		if int(used) >= mark && s.LeaseWarned < mark {
			s.LeaseWarned = mark
			d.emit(EvLeaseExpiring)
		}
	}
	if s.LeaseWarned > 0 {
		when := "expires in " + dur(left)
		if left <= 0 {
			when = "has expired (" + dur(-left) + " ago)"
		}
		s.LeaseNote = fmt.Sprintf("the follower has not fetched from the leader since %s: its retention lease on the leader %s (index.soft_deletes.retention_lease.period %s); past it the follower can never resume and must be replicated afresh",
			s.StalledSince.Format(time.RFC3339), when, period)
		s.Reasons = append(s.Reasons, s.LeaseNote)
	}
}

// aivenNotes are the reasons an Aiven reading adds to a phase.
func aivenNotes(obs observe.Observation, av aivenView) []string {
	if why := pausedDuringRecycle(obs, av); why != "" {
		return append(av.notes, why)
	}
	return av.notes
}

// leaderAnswers ends any outage: the pair is healthy, and replication's
// health is judged.
func leaderAnswers(d *Decision, obs observe.Observation, pol *config.Policy, now time.Time) {
	s := &d.State
	switch s.Phase {
	case Suspect, Isolated, LeaderDown, AwaitingApproval:
		d.emit(EvLeaderRecovered)
	default:
		if s.OutageRaised { // an outage a pause (or a restart) interrupted
			d.emit(EvLeaderRecovered)
		}
	}
	if s.Episode || s.AivenDelayed {
		s.EpisodeEnd, s.Episode = now, false // the episode ends: cooldown starts
	}
	s.AivenDelayed = false
	clearApproval(s)
	d.enter(Healthy, now, healthyReasons(obs, pol)...)
	leaderHealth(d, obs)
	replicationHealth(d, obs, pol)
}

// leaderHealth emits leader_degraded/leader_writable while the leader
// answers: a leader that refuses writes (a disk watermark's
// read_only_allow_delete, a write block, no cluster manager) is alive -
// never a failover by itself - but its clients cannot write: a human
// decides (drwatch promote).
func leaderHealth(d *Decision, obs observe.Observation) {
	s := &d.State
	if obs.Leader.BlocksFailure != nil {
		return // unread: neither degraded nor cleared
	}
	blocked := len(obs.Leader.WriteBlocks) > 0
	switch {
	case blocked && !s.LeaderDegraded:
		s.LeaderDegraded = true
		d.emit(EvLeaderDegraded)
	case !blocked && s.LeaderDegraded:
		s.LeaderDegraded = false
		d.emit(EvLeaderWritable)
	}
	if blocked {
		shown := obs.Leader.WriteBlocks[:min(len(obs.Leader.WriteBlocks), 5)]
		more := ""
		if n := len(obs.Leader.WriteBlocks) - len(shown); n > 0 {
			more = fmt.Sprintf(" (and %d more)", n)
		}
		s.Reasons = append(s.Reasons, fmt.Sprintf("leader degraded: it answers but refuses writes: %s%s; not a failover by itself (promote by hand if it lasts)",
			strings.Join(shown, "; "), more))
	}
}

// notDownYet lists what the leader_down thresholds still need (none: the
// leader is down).
func notDownYet(s *State, w witnessView, pol *config.Policy, now time.Time) []string {
	var need []string
	if s.FailedProbes < pol.MinFailedProbes {
		need = append(need, fmt.Sprintf("%d failed probes", pol.MinFailedProbes))
	}
	if now.Sub(s.OutageStart) < pol.LeaderDownAfter.D() {
		need = append(need, "unreachable for "+pol.LeaderDownAfter.String())
	}
	switch {
	case !*pol.RequireFollowerWitness:
	case !w.lost:
		need = append(need, "the follower to lose the leader too ("+w.why+")")
	case s.WitnessLostProbes < WitnessProbes:
		// One observation of the follower without the leader may be a
		// blip of its remote connection: it must hold for two in a row.
		need = append(need, fmt.Sprintf("the follower without the leader in %d probes in a row (%d so far)", WitnessProbes, s.WitnessLostProbes))
	case w.active && now.Sub(s.WitnessLostSince) < pol.LeaderDownAfter.D():
		// The follower's requests to the leader unanswered: the same
		// span as drwatch's own, so a leader that answers slowly (late,
		// but within leader_down_after) is never taken for a hung one.
		need = append(need, fmt.Sprintf("the follower without an answer from the leader for %s (%s so far)", pol.LeaderDownAfter, dur(now.Sub(s.WitnessLostSince))))
	}
	return need
}

// leaderDown is the leader down: what the mode does about it, under the
// RPO guard and the holds (cooldown, maintenance windows).
func leaderDown(d *Decision, prev Phase, pol *config.Policy, now time.Time, reasons []string) {
	s := &d.State
	newEpisode := !s.Episode
	if newEpisode {
		s.Episode = true
		d.emit(EvLeaderDown)
	}
	guardOK, guardWhy := RPOGuard(s, pol, now)
	reasons = append(reasons, guardWhy)
	held, heldWhy := holds(s, pol, now)
	if held {
		reasons = append(reasons, heldWhy)
	}

	switch pol.Mode {
	case config.ModeDryRun:
		if guardOK && !held {
			d.WouldPromote = newEpisode // counted once per episode
			reasons = append(reasons, "dry-run: would promote now; doing nothing")
		} else {
			reasons = append(reasons, "dry-run: would ask for approval; doing nothing")
		}
		d.enter(LeaderDown, now, reasons...)
	case config.ModeManual:
		d.enter(LeaderDown, now, append(reasons, "manual mode: paging only; promote with `drwatch promote`")...)
	case config.ModeAuto:
		if guardOK && !held && s.Denial == nil {
			startPromotion(d, "drwatch (auto mode)", now, append(reasons, "auto mode: promoting")...)
			return
		}
		approvalFlow(d, prev, pol, now, unattendedBlock(guardOK, held), reasons)
	default: // semi-auto
		approvalFlow(d, prev, pol, now, unattendedBlock(guardOK, held), reasons)
	}
}

// startPromotion moves to promoting, unattended: by names who decided.
func startPromotion(d *Decision, by string, now time.Time, reasons ...string) {
	s := &d.State
	s.PromotionByHand, s.PromotionChanged = false, false
	d.By = by
	d.enter(Promoting, now, reasons...)
	d.Promote = true
	d.emit(EvPromotionStarted)
}

// oldLeader watches the old leader after the promotion: one that answers
// again can take writes on indices the follower now owns - two writable
// copies. It is reported (old_leader_returned) and, with fence_leader,
// fenced; until it is, the state says so on every cycle.
func oldLeader(d *Decision, obs observe.Observation, pol *config.Policy) {
	s := &d.State
	if s.OldLeaderFenced || !obs.Leader.Answered() {
		return
	}
	if !s.OldLeaderReturned {
		s.OldLeaderReturned = true
		d.emit(EvOldLeaderReturned)
	}
	prev := s.UnfencedNote
	s.UnfencedNote = "the old leader answers again and is not fenced (fence_leader is false): both sides may take writes; block them by hand"
	if *pol.FenceLeader {
		d.FenceOldLeader = true
		s.UnfencedNote = "the old leader answers again and is not fenced: write-blocking its copies of the promoted indices"
	}
	s.Reasons = append(withoutUnfencedNote(s.Reasons, prev), s.UnfencedNote)
}

// withoutUnfencedNote is reasons without a last reason that is note (the
// one the previous cycle gave about an unfenced old leader).
func withoutUnfencedNote(reasons []string, note string) []string {
	if n := len(reasons); n > 0 && note != "" && reasons[n-1] == note {
		reasons = reasons[:n-1]
	}
	return slices.Clone(reasons)
}

// OldLeaderFenced records that the old leader's copies of the promoted
// indices are write-blocked after it came back.
func OldLeaderFenced(st State, detail string, now time.Time) Decision {
	d := Decision{State: st}
	if st.Phase != Promoted || st.OldLeaderFenced {
		return d
	}
	d.State.OldLeaderFenced = true
	d.State.Reasons = append(withoutUnfencedNote(st.Reasons, st.UnfencedNote), "the old leader came back and was fenced at "+now.Format(time.RFC3339)+": "+detail)
	d.State.UnfencedNote = ""
	d.emit(EvOldLeaderFenced)
	return d
}

// OldLeaderUnfenced reports whether an old leader answers again after the
// promotion without being fenced.
func (s *State) OldLeaderUnfenced() bool { return s.OldLeaderReturned && !s.OldLeaderFenced }

// unattendedBlock says what stops an unattended promotion ("" if nothing).
func unattendedBlock(guardOK, held bool) string {
	switch {
	case !guardOK:
		return "the RPO guard does not pass"
	case held:
		return "automatic action is held"
	}
	return ""
}

// approvalFlow asks a human, waits, and applies on_approval_timeout.
// blocked says what stops an unattended promotion ("" if nothing).
func approvalFlow(d *Decision, prev Phase, pol *config.Policy, now time.Time, blocked string, reasons []string) {
	s := &d.State
	switch {
	case s.Denial != nil:
		d.enter(LeaderDown, now, append(reasons, fmt.Sprintf("promotion denied by %s at %s; holding until the leader recovers", s.Denial.By, s.Denial.At.Format(time.RFC3339)))...)
	case s.ApprovalExpired:
		d.enter(LeaderDown, now, append(reasons, "approval expired; holding (approve or promote by hand)")...)
	case prev != AwaitingApproval || s.ApprovalGuardOK != (blocked == ""):
		// A new request - or the situation changed materially under the
		// pending one (the RPO guard's verdict flipped): ask again, under
		// a new id, so that an approve given for the old one is refused.
		what := "awaiting approval"
		if prev == AwaitingApproval {
			what = "the RPO guard's verdict changed since the last request: asking again; awaiting approval"
		}
		s.ApprovalRequested, s.ApprovalGuardOK = now, blocked == ""
		s.ApprovalID = approvalID(now)
		d.emit(EvApprovalRequired)
		d.enter(AwaitingApproval, now, append(reasons, fmt.Sprintf("%s (expires in %s): request %s", what, pol.ApprovalTimeout, s.ApprovalID))...)
	case now.Sub(s.ApprovalRequested) >= pol.ApprovalTimeout.D():
		d.emit(EvApprovalExpired)
		if pol.OnApprovalTimeout == "promote" && blocked == "" {
			startPromotion(d, "drwatch (on_approval_timeout: promote)", now, append(reasons, "approval timed out; on_approval_timeout: promote and the RPO guard passes: promoting")...)
			return
		}
		s.ApprovalExpired = true
		why := "approval timed out; on_approval_timeout: hold"
		if pol.OnApprovalTimeout == "promote" {
			why = "approval timed out; on_approval_timeout is promote but " + blocked + ": holding"
		}
		d.enter(LeaderDown, now, append(reasons, why)...)
	default:
		left := pol.ApprovalTimeout.D() - now.Sub(s.ApprovalRequested)
		d.enter(AwaitingApproval, now, append(reasons, fmt.Sprintf("awaiting approval (expires in %s): request %s", dur(left), s.ApprovalID))...)
	}
}

// approvalID names an approval request: the time it was made, in base 36
// (unique per pair; pure, from the decision's clock).
func approvalID(now time.Time) string {
	return "req-" + strconv.FormatInt(now.UnixNano(), 36)
}

// replicationHealth emits replication_degraded/recovered while the leader
// is up.
func replicationHealth(d *Decision, obs observe.Observation, pol *config.Policy) {
	s := &d.State
	r := obs.Follower.Replication
	var bad string
	if obs.Follower.Witness.Verdict == observe.WitnessUnreached {
		s.LinkUnreached++
	} else {
		s.LinkUnreached = 0
	}
	switch {
	case !obs.Follower.Reachable:
		bad = "follower unreachable"
	case s.LinkUnreached >= WitnessProbes:
		// drwatch reaches the leader, the follower does not: the link
		// between them is cut or hangs. Replication stands still; no
		// failover is due (the leader is alive).
		bad = "the follower cannot reach the leader (" + obs.Follower.Witness.Text() + "): the link between them is cut or hangs"
	case r.Failure != nil:
		bad = "replication state unreadable: " + failureText(r.Failure)
	case len(r.Indices) == 0:
		bad = "no follower index in scope"
	case len(r.Unreplicated) > 0:
		bad = fmt.Sprintf("autofollow failed to replicate %s", strings.Join(r.Unreplicated, ", "))
	case len(r.Unfollowed) > 0:
		bad = fmt.Sprintf("leader indices in scope with no follower index (yet): %s", strings.Join(r.Unfollowed, ", "))
	case !r.LagComplete:
		bad = "lag unknown for some indices"
	case r.Stopped > 0:
		bad = fmt.Sprintf("%d follower index(es) not syncing", r.Stopped)
	case r.TotalLag > *pol.MaxLagOperations:
		bad = fmt.Sprintf("lag %d ops > max_lag_operations %d", r.TotalLag, *pol.MaxLagOperations)
	}
	switch {
	case bad != "" && !s.Degraded:
		s.Degraded = true
		d.emit(EvReplicationDegraded)
	case bad == "" && s.Degraded:
		s.Degraded = false
		d.emit(EvReplicationRecovered)
	}
	if bad != "" {
		s.Reasons = append(s.Reasons, "replication degraded: "+bad)
	}
}

func healthyReasons(obs observe.Observation, pol *config.Policy) []string {
	out := []string{"leader answers (health " + obs.Leader.Health + ")"}
	if !obs.Leader.Reachable {
		out = []string{"leader answers, but its health is unreadable (" + failureText(obs.Leader.Failure) + "): alive, not an outage"}
	}
	switch {
	case obs.Follower.Witness.Verdict == observe.WitnessReached, obs.Follower.Witness.Verdict == observe.WitnessUnreached:
		out = append(out, obs.Follower.Witness.Text())
	case obs.Follower.Remote.Connected:
		out = append(out, "follower connected to the leader")
	}
	if r := obs.Follower.Replication; r.Failure == nil && r.LagComplete && len(r.Indices) > 0 {
		out = append(out, fmt.Sprintf("lag %d ops over %d indices (max_lag_operations %d)", r.TotalLag, len(r.Indices), *pol.MaxLagOperations))
	}
	return out
}

func clearApproval(s *State) {
	clearRequest(s)
	s.Denial = nil
}

// clearRequest forgets a pending approval request but keeps a denial: a
// denial holds until the leader answers again (or a human overrides it),
// not only until the witness or the thresholds flap for one cycle.
func clearRequest(s *State) {
	s.ApprovalRequest = ApprovalRequest{}
}

// resetTracking forgets outage and witness progress: after a pause or a
// restart, thresholds must be met again from fresh observations. A
// pending approval request is forgotten too; a human's denial is not: it
// holds until the leader answers again or a human approves.
func resetTracking(s *State) {
	s.Outage, s.Witness = Outage{}, Witness{}
	s.Episode, s.AivenDelayed = false, false
	// The checkpoint last seen stays: with no frozen-since time it is
	// compared with nothing, and the next observation replaces it.
	s.CheckpointFrozenSince, s.FailedReadRises, s.OutageReadRises = time.Time{}, 0, 0
	clearRequest(s)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func failureText(f *observe.Failure) string {
	if f == nil {
		return "unknown"
	}
	return string(f.Class)
}

func dur(d time.Duration) string {
	return max(d, 0).Round(time.Second).String()
}
