package replay

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
)

// Difference is one place where the replayed policy decides otherwise
// than what happened, in plain words (Text) and as data.
type Difference struct {
	// Kind: promotion_time, approval_instead_of_promotion, no_promotion,
	// promotion_instead_of_approval, promotion, approval_time, approval,
	// no_approval, leader_down_time, leader_down, no_leader_down, or
	// decision (the first differing transition, when none of the others
	// says it).
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Outage is the outage it happened in (1-based index in
	// Result.Outages; 0: none).
	Outage     int        `json:"outage"`
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
	ReplayedAt *time.Time `json:"replayed_at,omitempty"`
	// DeltaSeconds is ReplayedAt - RecordedAt: negative is earlier.
	DeltaSeconds *float64 `json:"delta_seconds,omitempty"`
	// LagOperations is the lag the replayed promotion would have started
	// with (the last good reading), when known.
	LagOperations *int64 `json:"lag_operations,omitempty"`
	// OutcomeHow says how the replayed promotion's outcome was found
	// (Promotion.How).
	OutcomeHow string `json:"outcome_how,omitempty"`
}

// milestones are the first decisions of a kind a run made in a span.
type milestones struct {
	down, ask *journal.Transition
	prom      *Promotion
	last      *journal.Transition // the last transition in the span
}

func milestonesOf(run *Run, from, to time.Time) milestones {
	var m milestones
	in := func(t time.Time) bool { return !t.Before(from) && (to.IsZero() || t.Before(to)) }
	for i := range run.Transitions {
		tr := &run.Transitions[i]
		if !in(tr.At) {
			continue
		}
		m.last = tr
		if m.down == nil && slices.Contains(tr.Events, policy.EvLeaderDown) {
			m.down = tr
		}
		if m.ask == nil && slices.Contains(tr.Events, policy.EvApprovalRequired) {
			m.ask = tr
		}
	}
	for i := range run.Promotions {
		if p := &run.Promotions[i]; m.prom == nil && in(p.Started) {
			m.prom = p
		}
	}
	return m
}

// differences says, outage by outage, where the replayed run decided
// otherwise: when it declared the leader down, asked for approval and
// promoted, against what happened. When none of those differ but the runs
// do, the first differing transition says it.
func differences(res *Result) []Difference {
	out := []Difference{}
	for k, o := range res.Outages {
		var next time.Time
		if k+1 < len(res.Outages) {
			next = res.Outages[k+1].Start
		}
		rec, rep := milestonesOf(&res.Recorded, o.Start, next), milestonesOf(&res.Replayed, o.Start, next)
		out = append(out, outageDifferences(k+1, o, rec, rep, res)...)
	}
	if len(out) == 0 {
		out = append(out, firstDifference(res))
	}
	return out
}

func outageDifferences(n int, o Outage, rec, rep milestones, res *Result) []Difference {
	var out []Difference
	add := func(kind, text string, recAt, repAt *time.Time) *Difference {
		d := Difference{Kind: kind, Text: text, Outage: n, RecordedAt: recAt, ReplayedAt: repAt}
		if recAt != nil && repAt != nil {
			s := repAt.Sub(*recAt).Seconds()
			d.DeltaSeconds = &s
		}
		out = append(out, d)
		return &out[len(out)-1]
	}
	at := func(tr *journal.Transition) *time.Time {
		if tr == nil {
			return nil
		}
		t := tr.At
		return &t
	}

	switch {
	case rec.down != nil && rep.down != nil && !rec.down.At.Equal(rep.down.At):
		add("leader_down_time", fmt.Sprintf("this policy would have declared the leader down at %s, %s (it did at %s)",
			clock(rep.down.At), relative(rep.down.At.Sub(rec.down.At)), clock(rec.down.At)), at(rec.down), at(rep.down))
	case rec.down == nil && rep.down != nil:
		add("leader_down", fmt.Sprintf("this policy would have declared the leader down at %s (it was not declared down in this outage)",
			clock(rep.down.At)), nil, at(rep.down))
	case rec.down != nil && rep.down == nil:
		add("no_leader_down", fmt.Sprintf("this policy would not have declared the leader down (it did at %s)%s",
			clock(rec.down.At), because(o, rep, res)), at(rec.down), nil)
	}

	covered := false // a promotion's difference already says how approval differs
	switch {
	case rec.prom != nil && rep.prom != nil:
		if !rec.prom.Started.Equal(rep.prom.Started) {
			r, p := rec.prom.Started, rep.prom.Started
			d := add("promotion_time", fmt.Sprintf("this policy would have promoted at %s, %s (it promoted at %s), with %s%s",
				clock(p), relative(p.Sub(r)), clock(r), lagText(rep.prom), outcomeText(rep.prom)), &r, &p)
			d.LagOperations, d.OutcomeHow = rep.prom.Lag, rep.prom.How
		}
	case rec.prom != nil && rep.ask != nil:
		covered = true
		r := rec.prom.Started
		add("approval_instead_of_promotion", fmt.Sprintf("this policy would have asked for approval at %s instead of promoting (it promoted at %s): %s",
			clock(rep.ask.At), clock(r), why(rep.ask)), &r, at(rep.ask))
	case rec.prom != nil:
		r := rec.prom.Started
		add("no_promotion", fmt.Sprintf("this policy would not have promoted (it promoted at %s)%s", clock(r), because(o, rep, res)), &r, nil)
	case rep.prom != nil && rec.ask != nil:
		covered = true
		p := rep.prom.Started
		d := add("promotion_instead_of_approval", fmt.Sprintf("this policy would have promoted at %s instead of asking for approval (it asked at %s), with %s%s",
			clock(p), clock(rec.ask.At), lagText(rep.prom), outcomeText(rep.prom)), at(rec.ask), &p)
		d.LagOperations, d.OutcomeHow = rep.prom.Lag, rep.prom.How
	case rep.prom != nil:
		p := rep.prom.Started
		d := add("promotion", fmt.Sprintf("this policy would have promoted at %s, with %s%s (it did not promote in this outage)",
			clock(p), lagText(rep.prom), outcomeText(rep.prom)), nil, &p)
		d.LagOperations, d.OutcomeHow = rep.prom.Lag, rep.prom.How
	}
	if covered {
		return out
	}
	switch {
	case rec.ask != nil && rep.ask != nil && !rec.ask.At.Equal(rep.ask.At):
		add("approval_time", fmt.Sprintf("this policy would have asked for approval at %s, %s (it asked at %s)",
			clock(rep.ask.At), relative(rep.ask.At.Sub(rec.ask.At)), clock(rec.ask.At)), at(rec.ask), at(rep.ask))
	case rec.ask == nil && rep.ask != nil:
		add("approval", fmt.Sprintf("this policy would have asked for approval at %s (it did not ask in this outage): %s",
			clock(rep.ask.At), why(rep.ask)), nil, at(rep.ask))
	case rec.ask != nil && rep.ask == nil:
		add("no_approval", fmt.Sprintf("this policy would not have asked for approval (it asked at %s)%s",
			clock(rec.ask.At), because(o, rep, res)), at(rec.ask), nil)
	}
	return out
}

// because says why the replayed run did not act in an outage: the leader
// came back, or what its state said at the end.
func because(o Outage, rep milestones, res *Result) string {
	if !o.End.IsZero() {
		return fmt.Sprintf(" (the leader came back at %s)", clock(o.End))
	}
	st := res.Replayed.Final
	return fmt.Sprintf(" (the leader was still down at the end of the record, %s; this policy would have left the pair %s: %s)",
		clock(res.End), st.Phase, strings.Join(st.Reasons, "; "))
}

// why is a transition's reasons after the first (which says how long the
// leader has been unreachable): the guard, the mode, the request.
func why(tr *journal.Transition) string {
	r := tr.Reasons
	if len(r) > 1 {
		r = r[1:]
	}
	return strings.Join(r, "; ")
}

func lagText(p *Promotion) string {
	if p.Lag == nil {
		return "the lag unknown (no complete lag reading)"
	}
	if *p.Lag == 1 {
		return "1 op of lag"
	}
	return fmt.Sprintf("%d ops of lag", *p.Lag)
}

func outcomeText(p *Promotion) string {
	switch p.How {
	case HowAssumed:
		return "; assumed to succeed at once (the record has no promotion to go by)"
	case HowShifted:
		return fmt.Sprintf("; going as the recorded promotion went: %s %s after it started", outcomeWord(p.Outcome), span(p.Ended.Sub(p.Started)))
	case HowOpen:
		return "; the recorded promotion had not ended by the end of the record"
	}
	return ""
}

func outcomeWord(kind string) string {
	switch kind {
	case "promotion_succeeded":
		return "succeeded"
	case "promotion_failed":
		return "failed"
	case "promotion_vetoed":
		return "vetoed"
	}
	return "not ended"
}

// firstDifference is the first transition where the runs differ.
func firstDifference(res *Result) Difference {
	a, b := res.Recorded.Transitions, res.Replayed.Transitions
	i := 0
	for i < len(a) && i < len(b) && EqualTransition(a[i], b[i]) {
		i++
	}
	d := Difference{Kind: "decision"}
	switch {
	case i < len(a) && i < len(b):
		ra, rb := a[i].At, b[i].At
		d.RecordedAt, d.ReplayedAt = &ra, &rb
		d.Text = fmt.Sprintf("the first different decision: this policy %s, where the record %s", describe(b[i]), describe(a[i]))
	case i < len(b):
		rb := b[i].At
		d.ReplayedAt = &rb
		d.Text = fmt.Sprintf("the first different decision: this policy %s, where the record has nothing more", describe(b[i]))
	case i < len(a):
		ra := a[i].At
		d.RecordedAt = &ra
		d.Text = fmt.Sprintf("the first different decision: the record %s, where this policy has nothing more", describe(a[i]))
	default:
		d.Text = fmt.Sprintf("the same decisions, but the final state differs: this policy leaves the pair %s (%s), the record %s (%s)",
			res.Replayed.Final.Phase, strings.Join(res.Replayed.Final.Reasons, "; "), res.Recorded.Final.Phase, strings.Join(res.Recorded.Final.Reasons, "; "))
	}
	return d
}

func describe(t journal.Transition) string {
	ev := ""
	if len(t.Events) > 0 {
		ev = " [" + strings.Join(policy.EventNames(t.Events), ", ") + "]"
	}
	return fmt.Sprintf("went %s -> %s at %s%s (%s)", t.From, t.To, clock(t.At), ev, strings.Join(t.Reasons, "; "))
}

// clock is a time of day, to the millisecond when it has one.
func clock(t time.Time) string { return t.Format("15:04:05.999") }

// relative says "41 s earlier" or "2.5 s later".
func relative(d time.Duration) string {
	if d < 0 {
		return span(-d) + " earlier"
	}
	return span(d) + " later"
}

func span(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s < 10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", math.Round(s*10)/10), ".0") + " s"
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	}
	return d.Round(time.Second).String()
}
