// Package replay runs a pair's recorded inputs (internal/record) through
// the pure decision core (policy) again - once under the policies that
// were in force, which reproduces what happened, and once under another
// policy - and says where the decisions differ: "this policy would have
// promoted at 03:12:40, 41 s earlier, with 0 ops of lag". It does no I/O:
// inputs and a policy in, a Result out.
//
// The inputs are the decision core's whole world: observations, human
// commands and promotion outcomes, each with the time it was decided at.
// Only promotions depend on the other policy's own decisions: when it
// starts a promotion, the replay assumes it goes as the recorded one went
// (the same outcome, after as long), or, when the record has none, that
// it succeeds at once; the Result says which.
package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/record"
)

// Options say what to replay.
type Options struct {
	// Policy is the policy to replay under.
	Policy *config.Policy
	// From and To bound the replay (zero: the whole record). Before From
	// the record is replayed under its own policies, to find the state
	// both runs start from.
	From, To time.Time
}

// Promotion is a promotion a run started.
type Promotion struct {
	Started time.Time `json:"started"`
	By      string    `json:"by"`
	// Lag is the last good lag reading when it started (the RPO guard's),
	// nil when there was none.
	Lag   *int64    `json:"lag_operations,omitempty"`
	LagAt time.Time `json:"lag_at,omitzero"`
	// Outcome is promotion_succeeded, promotion_failed or
	// promotion_vetoed, "" when it had not ended by the end of the
	// replay; Ended when.
	Outcome string    `json:"outcome,omitempty"`
	Ended   time.Time `json:"ended,omitzero"`
	// How says where the outcome comes from: "recorded", "as recorded,
	// shifted", "assumed".
	How string `json:"how"`
}

// Outcomes' sources (Promotion.How).
const (
	HowRecorded = "recorded"             // this very promotion is in the record
	HowShifted  = "as recorded, shifted" // the recorded promotion's outcome, as long after its start
	HowAssumed  = "assumed"              // the record has no promotion to go by: it succeeds at once
	HowOpen     = "open"                 // the recorded promotion had not ended by the end of the record
)

// Run is one run of the inputs under a policy.
type Run struct {
	Policies    []string             `json:"policies"`
	Transitions []journal.Transition `json:"transitions"`
	Promotions  []Promotion          `json:"promotions"`
	Final       policy.State         `json:"final_state"`
}

// Result is a pair's replay: what happened (the record under its own
// policies), what the other policy would have done, and the differences.
type Result struct {
	Pair   string    `json:"pair"`
	Start  time.Time `json:"start"` // the first input replayed
	End    time.Time `json:"end"`   // the last
	Inputs int       `json:"inputs"`
	// Recorded is what happened: the record under the policies in force.
	Recorded Run `json:"recorded"`
	// Replayed is the record under Options.Policy.
	Replayed Run `json:"replayed"`
	// Same: the replayed transitions and final state equal the recorded.
	Same        bool         `json:"same"`
	Differences []Difference `json:"differences"`
	// Notes are what the replay assumed or found on the way (a command
	// the other policy's state refused, lines lost, ...).
	Notes []string `json:"notes"`
	// Outages are the leader's outages in the replayed inputs.
	Outages []Outage `json:"outages"`
	// Policy is the policy replayed; RecordedPolicy the one in force at
	// the start of the replay; PolicyChanges the keys where they differ.
	Policy         record.Policy `json:"policy"`
	RecordedPolicy record.Policy `json:"recorded_policy"`
	PolicyChanges  []string      `json:"policy_changes"`
}

// Outage is a time the leader did not answer drwatch's probes.
type Outage struct {
	Start time.Time `json:"start"`
	// End is when it answered again (zero: not by the end of the replay).
	End time.Time `json:"end,omitzero"`
}

// ErrNoInputs means nothing was left to replay.
var ErrNoInputs = errors.New("no inputs to replay")

// attempt is a promotion the recorded run started: at which input, and
// the input of its outcome (-1: none in the record).
type attempt struct {
	idx    int
	at     time.Time
	outIdx int
}

// machine is one run: a state, the policy it decides with, and what it
// decided.
type machine struct {
	st       policy.State
	pol      *config.Policy
	fixed    bool // the policy is the replay's, not the record's
	live     bool // inside the window: keep what it decides
	trans    []journal.Transition
	proms    []Promotion
	policies []string
}

// apply makes d the state, as the watcher does (journal.TransitionOf);
// it reports whether d starts a promotion.
func (m *machine) apply(d policy.Decision, command bool, now time.Time) bool {
	if tr, ok := journal.TransitionOf(m.st, d, command, now); ok && m.live {
		m.trans = append(m.trans, tr)
	}
	m.st = d.State
	if !d.Promote || !m.live {
		return false
	}
	p := Promotion{Started: now, By: d.By}
	if r := d.State.LastGoodLag; r != nil {
		lag := r.TotalOperations
		p.Lag, p.LagAt = &lag, r.At
	}
	m.proms = append(m.proms, p)
	return true
}

// outcome folds a promotion's outcome in; it reports whether it applied.
func (m *machine) outcome(in record.Input, at time.Time, how string) bool {
	var d policy.Decision
	switch in.Kind {
	case record.KindSucceeded:
		d = policy.PromotionSucceeded(m.st, in.Detail, at)
	case record.KindFailed:
		d = policy.PromotionFailed(m.st, in.Detail, in.Changed, at)
	case record.KindVetoed:
		d = policy.PromotionVetoed(m.st, in.By, in.Detail, at)
	}
	if len(d.Events) == 0 {
		return false // did not apply (a veto of a promotion a human started)
	}
	m.apply(d, false, at)
	if n := len(m.proms); n > 0 && m.live && m.proms[n-1].Outcome == "" {
		m.proms[n-1].Outcome, m.proms[n-1].Ended, m.proms[n-1].How = string(in.Kind), at, how
	}
	return true
}

func (m *machine) setPolicy(p record.Policy) error {
	if m.fixed {
		return nil
	}
	pol, err := p.Config()
	if err != nil {
		return err
	}
	m.pol = pol
	if m.live && (len(m.policies) == 0 || m.policies[len(m.policies)-1] != pol.Name) {
		m.policies = append(m.policies, pol.Name)
	}
	return nil
}

// scheduled is an outcome the replayed run's promotion is assumed to
// have, at a time of its own.
type scheduled struct {
	at  time.Time
	in  record.Input
	how string
}

// Replay replays a pair's inputs (record.Read's, in order) under
// o.Policy, and under the record's own policies, and compares them.
func Replay(pair string, inputs []record.Input, o Options) (*Result, error) {
	if o.Policy == nil {
		return nil, errors.New("replay: no policy")
	}
	if len(inputs) == 0 || inputs[0].Kind != record.KindStart {
		return nil, fmt.Errorf("%w: the record of pair %s has no start line", ErrNoInputs, pair)
	}
	attempts, orphans, err := recordedAttempts(inputs, o.To)
	if err != nil {
		return nil, err
	}
	r := &replayer{res: &Result{Pair: pair, Differences: []Difference{}, Notes: []string{}, Outages: []Outage{}},
		alt: machine{pol: o.Policy, fixed: true, policies: []string{o.Policy.Name}}, attempts: attempts, aligned: orphans,
		inputs: inputs, outage: -1}
	if err := r.run(inputs, o); err != nil {
		return nil, err
	}
	res := r.res
	if res.Inputs == 0 {
		return nil, fmt.Errorf("%w: the record of pair %s has none between %s and %s (it covers %s to %s)", ErrNoInputs, pair,
			orOpen(o.From), orOpen(o.To), inputs[0].At.Format(time.RFC3339), inputs[len(inputs)-1].At.Format(time.RFC3339))
	}
	res.Recorded = Run{Policies: r.base.policies, Transitions: nonNil(r.base.trans), Promotions: nonNilP(r.base.proms), Final: r.base.st}
	res.Replayed = Run{Policies: r.alt.policies, Transitions: nonNil(r.alt.trans), Promotions: nonNilP(r.alt.proms), Final: r.alt.st}
	res.Policy = record.PolicyOf(o.Policy)
	res.PolicyChanges = PolicyChanges(res.RecordedPolicy, res.Policy)
	res.Same = equalTransitions(r.base.trans, r.alt.trans) && sameJSON(r.base.st, r.alt.st)
	if !res.Same {
		res.Differences = differences(res)
	}
	return res, nil
}

func orOpen(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.Format(time.RFC3339)
}

func nonNil(t []journal.Transition) []journal.Transition {
	if t == nil {
		return []journal.Transition{}
	}
	return t
}

func nonNilP(p []Promotion) []Promotion {
	if p == nil {
		return []Promotion{}
	}
	return p
}

// recordedAttempts runs the record under its own policies and lists the
// promotions it started, each with the input of its outcome. orphans are
// outcomes of promotions started before the record (a restart resumed
// them): they belong to both runs.
func recordedAttempts(inputs []record.Input, to time.Time) ([]attempt, map[int]bool, error) {
	m := machine{live: true}
	var out []attempt
	orphans := map[int]bool{}
	for i, in := range inputs {
		if !to.IsZero() && in.At.After(to) {
			break
		}
		promoted, err := step(&m, in, in.At)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case promoted:
			out = append(out, attempt{idx: i, at: in.At, outIdx: -1})
		case isOutcome(in.Kind):
			if n := len(out); n > 0 && out[n-1].outIdx < 0 {
				out[n-1].outIdx = i
			} else {
				orphans[i] = true
			}
		}
	}
	return out, orphans, nil
}

func isOutcome(k record.Kind) bool {
	return k == record.KindSucceeded || k == record.KindFailed || k == record.KindVetoed
}

// step applies one input to the recorded run (its own policies, its own
// outcomes); it reports whether the input's decision started a promotion.
func step(m *machine, in record.Input, at time.Time) (bool, error) {
	switch in.Kind {
	case record.KindStart:
		m.st = in.Start.State
		if err := m.setPolicy(in.Start.Policy); err != nil {
			return false, fmt.Errorf("%s: %w", in.Source, err)
		}
	case record.KindObservation:
		if m.pol == nil {
			return false, fmt.Errorf("%s: an observation before any policy", in.Source)
		}
		return m.apply(policy.Decide(m.st, *in.Obs, m.pol, at), false, at), nil
	case record.KindCommand:
		d, err := in.Command.Apply(m.st, at)
		if err == nil {
			return m.apply(d, in.Command.By != "", at), nil
		}
	case record.KindSucceeded, record.KindFailed, record.KindVetoed:
		m.outcome(in, at, HowRecorded)
	case record.KindFenced:
		m.apply(policy.OldLeaderFenced(m.st, in.Detail, at), false, at)
	}
	return false, nil
}

// replayer runs the recorded run (base) and the replayed one (alt) in
// step, input by input.
type replayer struct {
	res       *Result
	base, alt machine
	attempts  []attempt
	// aligned are the outcome inputs that belong to the replayed run's
	// promotion too (it started it at the same input).
	aligned map[int]bool
	pending []scheduled
	nextAtt int // the recorded attempt the replayed run's next promotion goes by
	started bool
	inputs  []record.Input
	outage  int // the outage going on (index in res.Outages), -1: none
}

func (r *replayer) run(inputs []record.Input, o Options) error {
	for i, in := range inputs {
		if !o.To.IsZero() && in.At.After(o.To) {
			break
		}
		live := o.From.IsZero() || !in.At.Before(o.From)
		if live && !r.started {
			r.begin(i)
		}
		if live {
			r.due(in.At)
			r.res.Inputs++
			if r.res.Start.IsZero() {
				r.res.Start = in.At
			}
			r.res.End = in.At
			r.track(in)
		}
		before := r.base.st
		if in.Kind == record.KindStart {
			r.startLine(in, before, live)
		}
		if _, err := step(&r.base, in, in.At); err != nil {
			return err
		}
		if live && in.Kind == record.KindStart && r.res.RecordedPolicy.Mode == "" {
			r.res.RecordedPolicy = in.Start.Policy
		}
		if !live || in.Kind == record.KindStart {
			continue
		}
		if err := r.stepAlt(i, in, before); err != nil {
			return err
		}
	}
	if !r.started {
		return nil
	}
	for len(r.pending) > 0 {
		if !o.To.IsZero() && r.pending[0].at.After(o.To) {
			break
		}
		r.fire()
	}
	return nil
}

// begin starts the window: both runs go on from the recorded state.
func (r *replayer) begin(i int) {
	r.started = true
	r.base.live, r.alt.live = true, true
	r.alt.st = r.base.st
	if r.base.pol != nil {
		r.base.policies = []string{r.base.pol.Name}
		r.res.RecordedPolicy = record.PolicyOf(r.base.pol)
	}
	// Recorded promotions started before the window are the replayed
	// run's too: their outcomes apply to both.
	for r.nextAtt < len(r.attempts) && r.attempts[r.nextAtt].idx < i {
		if o := r.attempts[r.nextAtt].outIdx; o >= i {
			r.aligned[o] = true
		}
		r.nextAtt++
	}
}

// track follows the leader's outages (what the probes saw, whatever the
// policy).
func (r *replayer) track(in record.Input) {
	if in.Kind != record.KindObservation {
		return
	}
	up := in.Obs.Leader.Answered()
	switch {
	case !up && r.outage < 0:
		r.res.Outages = append(r.res.Outages, Outage{Start: in.At})
		r.outage = len(r.res.Outages) - 1
	case up && r.outage >= 0:
		r.res.Outages[r.outage].End = in.At
		r.outage = -1
	}
}

// startLine handles a start line for the replayed run: the record's state
// where both runs agreed, its own state otherwise (restarted, as a
// restart would have).
func (r *replayer) startLine(in record.Input, before policy.State, live bool) {
	s := in.Start
	switch {
	case !r.started || !live:
	case s.Why == record.WhyResumed:
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: the record lost inputs before %s (a write failed): the recorded run resumes from the recorded state there, and so does this policy's where it agreed with it",
			in.Source, clock(in.At)))
	case s.Why == record.WhyRotated && !sameJSON(before, s.State):
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: the recorded state at %s is not the one the record's inputs lead to: the replay resumes from the recorded state",
			in.Source, clock(in.At)))
	}
	if !live {
		return
	}
	if sameJSON(r.alt.st, before) {
		r.alt.st = s.State
	} else if s.Restart {
		r.alt.st = policy.Restarted(r.alt.st)
	}
}

// stepAlt applies one input to the replayed run.
func (r *replayer) stepAlt(i int, in record.Input, baseBefore policy.State) error {
	a := &r.alt
	at := in.At
	var promoted bool
	switch in.Kind {
	case record.KindObservation:
		promoted = a.apply(policy.Decide(a.st, *in.Obs, a.pol, at), false, at)
	case record.KindCommand:
		c := *in.Command
		if c.Action == policy.ActApprove && c.ID == baseBefore.ApprovalID && a.st.ApprovalID != c.ID &&
			(a.st.Phase == policy.AwaitingApproval || a.st.Phase == policy.LeaderDown) {
			// The human approved the request pending then; the replayed
			// run's own request (another id, or none) is what they would
			// have approved.
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: %s's approval at %s answered request %s; it is applied to this policy's %s",
				in.Source, c.By, clock(at), orNone(c.ID), orNone(a.st.ApprovalID)))
			c.ID = a.st.ApprovalID
		}
		_, baseErr := in.Command.Apply(baseBefore, at)
		d, err := c.Apply(a.st, at)
		switch {
		case err != nil && baseErr == nil:
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: %s by %s at %s would have been refused under this policy (the pair %s): %v",
				in.Source, c.Action, c.By, clock(at), a.st.Phase, err))
		case err == nil && baseErr != nil:
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: %s by %s at %s, refused then (%v), would have applied under this policy",
				in.Source, c.Action, c.By, clock(at), baseErr))
		}
		if err == nil {
			promoted = a.apply(d, c.By != "", at)
		}
	case record.KindSucceeded, record.KindFailed, record.KindVetoed:
		if r.aligned[i] {
			a.outcome(in, at, HowRecorded)
		}
	case record.KindFenced:
		a.apply(policy.OldLeaderFenced(a.st, in.Detail, at), false, at)
	}
	if promoted {
		r.promoted(i, at)
	}
	return nil
}

// promoted decides the outcome of a promotion the replayed run started
// at input i: the recorded promotion's it goes by (the same one when the
// recorded run started it at the same input), or success at once.
func (r *replayer) promoted(i int, at time.Time) {
	if r.nextAtt >= len(r.attempts) {
		r.alt.outcome(record.Succeeded(at, "assumed: the record has no promotion to go by"), at, HowAssumed)
		return
	}
	att := r.attempts[r.nextAtt]
	r.nextAtt++
	switch {
	case att.outIdx < 0:
		// The recorded one had not ended by the end of the record.
		r.alt.proms[len(r.alt.proms)-1].How = HowOpen
	case att.idx == i:
		r.aligned[att.outIdx] = true
	default:
		out := r.inputs[att.outIdx]
		r.pending = append(r.pending, scheduled{at: at.Add(out.At.Sub(att.at)), in: out, how: HowShifted})
		sortPending(r.pending)
	}
}

// due fires the replayed run's scheduled outcomes up to now.
func (r *replayer) due(now time.Time) {
	for len(r.pending) > 0 && !r.pending[0].at.After(now) {
		r.fire()
	}
}

func (r *replayer) fire() {
	p := r.pending[0]
	r.pending = r.pending[1:]
	if r.alt.st.Phase != policy.Promoting {
		return // given up meanwhile (a restart, a pause cannot): nothing to end
	}
	if !r.alt.outcome(p.in, p.at, p.how) {
		r.alt.outcome(record.Succeeded(p.at, "assumed: the recorded outcome does not apply"), p.at, HowAssumed)
	}
}

func sortPending(p []scheduled) {
	for i := len(p) - 1; i > 0 && p[i].at.Before(p[i-1].at); i-- {
		p[i], p[i-1] = p[i-1], p[i]
	}
}

func orNone(id string) string {
	if id == "" {
		return "(none)"
	}
	return id
}

// sameJSON compares two values as the journal would store them.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func equalTransitions(a, b []journal.Transition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !EqualTransition(a[i], b[i]) {
			return false
		}
	}
	return true
}

// EqualTransition reports whether two history entries are the same.
func EqualTransition(a, b journal.Transition) bool {
	return a.At.Equal(b.At) && a.From == b.From && a.To == b.To && slices.Equal(a.Events, b.Events) && equalStrings(a.Reasons, b.Reasons)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
