package policy

import (
	"errors"
	"fmt"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

// ErrConflict means a command does not apply in the pair's current phase
// (the API answers 409).
var ErrConflict = errors.New("not allowed in the current state")

// ErrStaleApproval is an approve that does not name the pending request
// (a conflict: HTTP 409).
var ErrStaleApproval = fmt.Errorf("%w: stale approval", ErrConflict)

func conflict(cmd string, p Phase) error {
	return fmt.Errorf("%w: cannot %s a pair that is %s", ErrConflict, cmd, p)
}

// Command is a human's command as data: which, by whom, and its
// arguments. The API and `drwatch promote` make one, the watcher applies
// it (Apply), and the record of the decision core's inputs keeps it, so
// that a replay applies the very same command.
type Command struct {
	Action string `json:"action"` // one of Actions
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	// ID names the request an approve answers (see Approve).
	ID string `json:"id,omitempty"`
	// For is how long a pause lasts from the moment it is applied (zero:
	// until resumed).
	For time.Duration `json:"for_ns,omitempty"`
	// Drill names the failover drill of a drill command ("<drill>/<id>").
	Drill DrillID `json:"drill,omitempty"`
}

// Command actions.
const (
	ActApprove = "approve"
	ActDeny    = "deny"
	ActPause   = "pause"
	ActResume  = "resume"
	ActPromote = "promote"
)

// ActRelease takes a pair back from a failover drill that cannot finish
// its restore (DrillReleased).
const ActRelease = "release"

// Actions lists the command actions of humans (the API's).
var Actions = []string{ActApprove, ActDeny, ActPause, ActResume, ActPromote, ActRelease}

// A failover drill's commands: its graceful promotion starts
// (DrillStart), and it hands the pair back (DrillEnded, Reason the
// restore's summary). Not the API's: only a drill runs them.
const (
	ActDrillStart = "drill_start"
	ActDrillEnd   = "drill_end"
)

// Apply is the command's policy function applied to st at now: Approve,
// Deny, Pause, Resume or ManualPromote.
//
// While a failover drill owns the pair (State.Drill), a human's command
// other than release is refused: the drill's restore would undo it (a
// promotion's writes deleted with the drill's copies). Release first.
func (c Command) Apply(st State, now time.Time) (Decision, error) {
	if st.Drill != "" && c.Action != ActDrillStart && c.Action != ActDrillEnd && c.Action != ActRelease {
		return Decision{State: st}, fmt.Errorf("%w: failover drill %s owns the pair until its restore ends (drwatch drill --name %s finishes it); to act on the pair now, release it from the drill first (drwatch drill release)", ErrConflict, st.Drill, st.Drill.Name())
	}
	switch c.Action {
	case ActApprove:
		return Approve(st, c.ID, c.By, c.Reason, now)
	case ActDeny:
		return Deny(st, c.By, c.Reason, now)
	case ActPause:
		var until time.Time
		if c.For > 0 {
			until = now.Add(c.For)
		}
		return Pause(st, until, c.By, c.Reason, now)
	case ActResume:
		return Resume(st, c.By, now)
	case ActPromote:
		return ManualPromote(st, c.By, c.Reason, now)
	case ActRelease:
		return DrillReleased(st, c.By, c.Reason, now)
	case ActDrillStart:
		return DrillStart(st, c.Drill, c.By, now)
	case ActDrillEnd:
		return DrillEnded(st, c.Drill, c.Reason, now)
	}
	return Decision{State: st}, fmt.Errorf("unknown command %q (approve, deny, pause, resume, promote, release, drill_start, drill_end)", c.Action)
}

// Approve answers a pending approval: the pair is promoted now. It is also
// accepted while leader_down (manual mode, denied, expired or held): a
// human's approval overrides the holds.
//
// id names the request approved: it must be the pending request's id
// (ErrStaleApproval otherwise: a late or replayed approve, or one given
// before the situation changed, never approves another request). Without
// a pending request (manual mode, denied, expired) id must be empty.
func Approve(st State, id, by, reason string, now time.Time) (Decision, error) {
	if st.Phase != AwaitingApproval && st.Phase != LeaderDown {
		return Decision{State: st}, conflict("approve", st.Phase)
	}
	if id != st.ApprovalID {
		want := "no request is pending: approve without an id"
		if st.ApprovalID != "" {
			want = "the pending request is " + st.ApprovalID
		}
		got := "no id"
		if id != "" {
			got = "request " + id
		}
		return Decision{State: st}, fmt.Errorf("%w: the approval names %s, but %s; check the situation (drwatch status) and approve again", ErrStaleApproval, got, want)
	}
	d := Decision{State: st}
	d.State.Approval = &Answer{By: by, At: now, Reason: reason}
	d.State.Denial = nil
	// An approval answers this outage: if the leader answers again before
	// the promotion changed anything, it is abandoned like an automatic one.
	d.State.PromotionByHand, d.State.PromotionChanged = false, false
	d.By = by
	d.emit(EvApprovalGranted)
	d.emit(EvPromotionStarted)
	d.enter(Promoting, now, fmt.Sprintf("promotion approved by %s%s", by, suffix(reason)))
	d.Promote = true
	return d, nil
}

// Deny answers a pending approval with no: drwatch holds until the leader
// recovers (or someone approves after all).
func Deny(st State, by, reason string, now time.Time) (Decision, error) {
	if st.Phase != AwaitingApproval {
		return Decision{State: st}, conflict("deny", st.Phase)
	}
	d := Decision{State: st}
	d.State.Denial = &Answer{By: by, At: now, Reason: reason}
	d.emit(EvApprovalDenied)
	d.enter(LeaderDown, now, fmt.Sprintf("promotion denied by %s%s; holding until the leader recovers", by, suffix(reason)))
	return d, nil
}

// DefaultPauseFor is how long a pause lasts when no duration is given: a
// forgotten pause must not disable failover for good.
const DefaultPauseFor = time.Hour

// MaxPauseFor bounds a pause.
const MaxPauseFor = 7 * 24 * time.Hour

// Pause stops decisions until `until` (zero: until resumed). Pausing a
// failed promotion stops its retries (an operator may need the clusters
// left alone); resuming it, or the pause expiring, brings it back to
// failed, retrying at once: a half-done promotion is never forgotten.
func Pause(st State, until time.Time, by, reason string, now time.Time) (Decision, error) {
	switch st.Phase {
	case Promoting, Promoted:
		return Decision{State: st}, conflict("pause", st.Phase)
	}
	d := Decision{State: st}
	d.State.PausedUntil, d.State.PausedBy, d.State.PauseReason = until, by, reason
	if st.Phase != Paused { // pausing again extends, from where it was
		d.State.PausedFrom = st.Phase
	}
	msg := "paused by " + by + suffix(reason)
	if !until.IsZero() {
		msg += " until " + until.Format(time.RFC3339)
	}
	d.enter(Paused, now, msg)
	return d, nil
}

// Resume ends a pause. Outage tracking carries on from what the pause
// observed.
func Resume(st State, by string, now time.Time) (Decision, error) {
	if st.Phase != Paused {
		return Decision{State: st}, conflict("resume", st.Phase)
	}
	d := Decision{State: st}
	unpause(&d, now, "resumed by "+by)
	return d, nil
}

// unpause ends a pause: back to a failed promotion's retries, or to
// healthy, deciding from the next observation on what was tracked during
// the pause (an outage that began in it counts from when it began).
func unpause(d *Decision, now time.Time, why string) {
	s := &d.State
	from := s.PausedFrom
	s.PauseInfo = PauseInfo{}
	if from == Failed {
		s.RetryAt = now
		d.enter(Failed, now, why+": the failed promotion is retried now")
		return
	}
	clearRequest(s)
	d.enter(Healthy, now, why)
}

// ManualPromote starts a promotion on a human's command, whatever the
// observations say - except twice.
func ManualPromote(st State, by, reason string, now time.Time) (Decision, error) {
	switch st.Phase {
	case Promoted:
		return Decision{State: st}, fmt.Errorf("%w: the pair was already promoted at %s: a pair is promoted at most once", ErrConflict, st.PromotedAt.Format(time.RFC3339))
	case Promoting:
		return Decision{State: st}, conflict("promote", st.Phase)
	}
	d := Decision{State: st}
	d.emit(EvPromotionStarted)
	d.enter(Promoting, now, fmt.Sprintf("manual promotion by %s%s", by, suffix(reason)))
	d.State.PromotionByHand, d.State.PromotionChanged = true, false
	d.By = by
	d.Promote = true
	return d, nil
}

// PromotionSucceeded records the end of a promotion. The pair stays
// promoted for good.
func PromotionSucceeded(st State, summary string, now time.Time) Decision {
	if st.Phase == Promoted {
		return Decision{State: st} // already recorded; report it once
	}
	d := Decision{State: st}
	d.State.PromotedAt = now
	d.State.LastError = ""
	d.emit(EvPromotionSucceeded)
	d.enter(Promoted, now, "promoted: "+summary)
	return d
}

// Backoff between promotion attempts.
const (
	RetryInitial = 30 * time.Second
	RetryMax     = 10 * time.Minute
)

// PromotionFailed records a failed attempt; it is retried after a backoff
// (never rolled back into a follower). changed says whether the attempts
// so far changed anything on the clusters (the leader fenced, or
// replication stopped on some index): a promotion that changed nothing is
// abandoned if the leader answers again before its retry (see Decide). A
// late failure report for a pair already promoted changes nothing: a
// promoted pair is never promoted again.
func PromotionFailed(st State, err string, changed bool, now time.Time) Decision {
	if st.Phase == Promoted {
		return Decision{State: st}
	}
	d := Decision{State: st}
	d.State.PromotionChanged = d.State.PromotionChanged || changed
	d.State.PromotionAttempts++
	backoff := RetryInitial << min(d.State.PromotionAttempts-1, 10)
	d.State.RetryAt = now.Add(min(backoff, RetryMax))
	d.State.LastError = err
	d.emit(EvPromotionFailed)
	d.enter(Failed, now, fmt.Sprintf("promotion attempt %d failed: %s; retrying at %s", d.State.PromotionAttempts, err, d.State.RetryAt.Format(time.RFC3339)))
	return d
}

// Vettable reports whether a veto hook may stop the promotion st is
// starting: one drwatch started on its own (no human approved or
// promoted) that has changed nothing yet. A human's decision is final,
// and a half-done promotion must finish.
func Vettable(st State) bool {
	return st.Phase == Promoting && st.Approval == nil && !st.PromotionByHand && !st.PromotionChanged
}

// PromotionVetoed records a veto of a promotion that has not changed
// anything (Vettable): drwatch holds as after a denial - until the leader
// answers again, or a human approves or promotes after all. who names
// the veto ("veto hook gate"), reason says why.
func PromotionVetoed(st State, who, reason string, now time.Time) Decision {
	if !Vettable(st) {
		return Decision{State: st}
	}
	d := Decision{State: st}
	d.State.Denial = &Answer{By: who, At: now, Reason: reason}
	d.State.Attempt = Attempt{}
	d.Abandon = true // its record: a later promotion plans afresh
	d.emit(EvPromotionVetoed)
	d.enter(LeaderDown, now, fmt.Sprintf("promotion vetoed by %s: %s; holding until the leader recovers (a human can still approve or promote)", who, reason))
	return d
}

// Restarted adjusts a state loaded from the journal after drwatch
// restarts: observation progress made before the restart is not trusted
// (the leader may have come and gone meanwhile), so thresholds are met
// afresh. Promoting, promoted, failed and paused carry on as they were.
//
// A human's denial is not observation progress: it is kept, so that a
// restart mid-outage cannot turn a "no" into an automatic promotion.
func Restarted(st State) State {
	switch st.Phase {
	case Promoting, Promoted, Failed, Paused:
		return st
	}
	resetTracking(&st)
	return st
}

// Via is who asks for a promotion.
type Via int

// Ways a promotion is asked for.
const (
	// ByDaemon: the daemon's own decision, or a human's approve or
	// promote through its API.
	ByDaemon Via = iota
	// ByHand: `drwatch promote`, run by a human holding the state_dir.
	ByHand
)

// Promotable reports whether drwatch may promote pair p when asked via
// via (a *NotPromotableError if not: a conflict, HTTP 409). A dry-run
// pair's daemon writes nothing to the clusters, whoever asks; a human may
// still promote it by hand.
func Promotable(p *config.Pair, via Via) error {
	if via == ByDaemon && p.Resolved.Mode == config.ModeDryRun {
		return &NotPromotableError{"pair " + p.Name + " is in dry-run mode: drwatch writes nothing to the clusters (change the policy's mode, or use drwatch promote)"}
	}
	return nil
}

// NotPromotableError says why a pair may not be promoted as asked. It is
// a conflict (errors.Is(err, ErrConflict)).
type NotPromotableError struct{ Reason string }

func (e *NotPromotableError) Error() string { return e.Reason }

// Is makes it an ErrConflict.
func (e *NotPromotableError) Is(target error) bool { return target == ErrConflict }

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}
