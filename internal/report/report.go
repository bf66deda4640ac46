// Package report renders observations for people (a terminal) and for
// programs (JSON). It formats; it decides nothing beyond naming problems.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
)

// Status is the status document of a set of pairs.
type Status struct {
	Time  time.Time    `json:"time"`
	Pairs []PairStatus `json:"pairs"`
}

// PairStatus is one pair's latest observation, the problems it shows, and
// (in the daemon) the decision state and why.
type PairStatus struct {
	Name        string               `json:"name"`
	Mode        string               `json:"mode"`
	Decision    *Decision            `json:"decision,omitempty"`
	Problems    []string             `json:"problems"`
	Observation *observe.Observation `json:"observation,omitempty"`
	// HA is the pair's lease as this daemon knows it (ha.enabled only).
	HA *HA `json:"ha,omitempty"`
	// Journal is what the pair's journal holds (drwatch status, which
	// reads it beside its own observation), when it is not healthy or
	// holds a promotion.
	Journal *Journal `json:"journal,omitempty"`
}

// Journal is a pair's journaled state and its last promotion.
type Journal struct {
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Reasons are those of the last journaled transition.
	Reasons   []string   `json:"reasons,omitempty"`
	Promotion *Promotion `json:"promotion,omitempty"`
}

// Promotion is a journaled promotion: when, and the steps that failed
// (the latest outcome of each step).
type Promotion struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Failed   []string  `json:"failed_steps,omitempty"`
}

// HARole is a daemon's part in a pair's lease; its String is the
// status's word.
type HARole string

const (
	RoleHolder   HARole = "holder"   // this daemon acts for the pair
	RoleStandby  HARole = "standby"  // another daemon does; this one watches
	RoleObserver HARole = "observer" // drwatch status: reads the lease, takes no part
)

func (r HARole) String() string { return string(r) }

// HA is a pair's lease as this daemon knows it. On a standby the
// decision shown is the one the holder published.
type HA struct {
	Role     HARole `json:"role"`
	Identity string `json:"identity"`
	// Holder is who holds the lease, as last read ("" none or unknown).
	Holder string `json:"holder"`
	// Term is the term this daemon holds (holder only).
	Term             int64   `json:"term,omitempty"`
	ExpiresInSeconds float64 `json:"expires_in_seconds,omitempty"`
	// Error is why the last lease round failed, if it did.
	Error string `json:"error,omitempty"`
	// PublishedBy, PublishedTerm and PublishedAt say where a standby's
	// decision comes from (the holder's published state).
	PublishedBy   string    `json:"published_by,omitempty"`
	PublishedTerm int64     `json:"published_term,omitempty"`
	PublishedAt   time.Time `json:"published_at,omitzero"`
}

// RetentionLease is the follower's retention lease on the leader.
type RetentionLease struct {
	Period       time.Duration `json:"period_ns"`
	Left         time.Duration `json:"left_ns"`
	StalledSince time.Time     `json:"replication_stalled_since,omitzero"`
}

// Decision is a pair's decision state and its reasons.
type Decision struct {
	State          string    `json:"state"`
	Since          time.Time `json:"since"`
	Reasons        []string  `json:"reasons"`
	RPOGuard       bool      `json:"rpo_guard_passes"`
	RPOGuardReason string    `json:"rpo_guard"`
	// The pending approval request, if any: approve names ApprovalID.
	// RetentionLease is how long the follower's retention lease on the
	// leader has left (the whole period while it fetches).
	RetentionLease    *RetentionLease `json:"retention_lease,omitempty"`
	ApprovalID        string          `json:"approval_id,omitempty"`
	ApprovalExpiresAt time.Time       `json:"approval_expires_at,omitzero"`
}

// Problems names what is wrong in an observation, most serious first. An
// empty list means the pair looks healthy.
func Problems(o observe.Observation) []string {
	p := osProblems(o)
	if o.Aiven != nil {
		p = append(p, AivenProblems(o.Aiven)...)
	}
	return p
}

// osProblems are the problems OpenSearch's answers show.
func osProblems(o observe.Observation) []string {
	p := []string{} // never null in JSON
	f := o.Follower
	if !o.Leader.Reachable {
		p = append(p, "leader unreachable: "+msg(o.Leader.Failure))
	} else if o.Leader.Health == "red" {
		p = append(p, "leader health is red")
	}
	if !f.Reachable {
		p = append(p, "follower unreachable: "+msg(f.Failure))
		return p
	}
	switch {
	case f.Remote.Failure != nil:
		p = append(p, "follower remote info unreadable: "+msg(f.Remote.Failure))
	case !f.Remote.Known:
		p = append(p, fmt.Sprintf("follower has no remote cluster %q (check leader_alias)", f.Remote.Alias))
	case !f.Remote.Connected:
		p = append(p, fmt.Sprintf("follower lost its connection to the leader (remote %q disconnected)", f.Remote.Alias))
	}
	if f.Witness.Verdict == observe.WitnessUnreached || f.Witness.Verdict == observe.WitnessNone {
		p = append(p, f.Witness.Text())
	}
	r := f.Replication
	if r.Failure != nil {
		p = append(p, "replication state unreadable: "+msg(r.Failure))
		return p
	}
	if len(r.Indices) == 0 {
		p = append(p, "no follower index in scope")
	}
	if r.Stopped > 0 {
		p = append(p, fmt.Sprintf("%d follower index(es) not syncing (paused, failed or bootstrapping)", r.Stopped))
	}
	shown := 0
	for _, ix := range r.Indices {
		if ix.Replication == "" {
			continue
		}
		if shown == 3 {
			p = append(p, "... and more follower indices whose replication failed or is paused")
			break
		}
		shown++
		p = append(p, fmt.Sprintf("follower index %s: replication %s: %s", ix.Name, strings.ToLower(ix.Replication), ix.Reason))
	}
	if len(r.Unreplicated) > 0 {
		p = append(p, fmt.Sprintf("autofollow failed to replicate %d leader indices in scope, so their writes are on no follower: %s",
			len(r.Unreplicated), strings.Join(r.Unreplicated, ", ")))
	}
	if len(r.Unfollowed) > 0 {
		p = append(p, fmt.Sprintf("%d leader indices in scope have no follower index (yet), so their writes are in no lag: %s",
			len(r.Unfollowed), strings.Join(r.Unfollowed, ", ")))
	}
	if n := r.UnknownLag(); n > 0 {
		why := "a primary shard is not started on one side"
		if r.CheckpointsFailure != nil {
			why = r.CheckpointsFailure.Message
		}
		p = append(p, fmt.Sprintf("lag unknown for %d indices: %s", n, why))
	}
	if f.Autofollow.Failure != nil {
		p = append(p, "autofollow rules unreadable: "+msg(f.Autofollow.Failure))
	}
	return p
}

func msg(f *observe.Failure) string {
	if f == nil {
		return "unknown"
	}
	return f.Message
}

// JSON writes the status as indented JSON.
func JSON(w io.Writer, s Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Text writes the status for a terminal.
func Text(w io.Writer, s Status) error {
	var b strings.Builder
	for i, ps := range s.Pairs {
		if i > 0 {
			b.WriteString("\n")
		}
		pairText(&b, ps)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pairText(b *strings.Builder, ps PairStatus) {
	verdict := "OK"
	if len(ps.Problems) > 0 {
		verdict = "PROBLEM"
	}
	o := ps.Observation
	if o == nil {
		fmt.Fprintf(b, "pair %s [%s]: no observation yet\n", ps.Name, ps.Mode)
		return
	}
	aivenReqs := ""
	if o.Aiven != nil {
		aivenReqs = fmt.Sprintf(" + %d to the Aiven API", o.AivenRequests)
	}
	fmt.Fprintf(b, "pair %s [%s]  %s   (probed %s, %s, %d HTTP requests%s)\n",
		ps.Name, ps.Mode, verdict, o.Time.Format(time.RFC3339), round(o.Duration), o.Requests, aivenReqs)
	haText(b, ps.HA)
	if j := ps.Journal; j != nil && ps.Decision == nil {
		fmt.Fprintf(b, "  journal    %s since %s\n", strings.ToUpper(j.State), j.Since.Format(time.RFC3339))
		for _, r := range j.Reasons {
			fmt.Fprintf(b, "             - %s\n", r)
		}
		if p := j.Promotion; p != nil {
			end := "not finished"
			if !p.Finished.IsZero() {
				end = "finished " + p.Finished.Format(time.RFC3339)
			}
			fmt.Fprintf(b, "  promotion  %s started %s, %s\n", p.ID, p.Started.Format(time.RFC3339), end)
			for _, f := range p.Failed {
				fmt.Fprintf(b, "             failed: %s\n", f)
			}
		}
	}
	if d := ps.Decision; d != nil {
		fmt.Fprintf(b, "  state      %s since %s\n", strings.ToUpper(d.State), d.Since.Format(time.RFC3339))
		for _, r := range d.Reasons {
			fmt.Fprintf(b, "             - %s\n", r)
		}
		fmt.Fprintf(b, "  rpo guard  %s\n", d.RPOGuardReason)
		if l := d.RetentionLease; l != nil && !l.StalledSince.IsZero() {
			fmt.Fprintf(b, "  lease      %s left of the leader's retention lease period %s (the follower has not fetched since %s)\n",
				max(l.Left, 0).Round(time.Minute), l.Period, l.StalledSince.Format(time.RFC3339))
		}
		if d.ApprovalID != "" {
			fmt.Fprintf(b, "  approval   request %s pending until %s\n", d.ApprovalID, d.ApprovalExpiresAt.Format(time.RFC3339))
		}
	}

	l := o.Leader
	if l.Reachable {
		fmt.Fprintf(b, "  leader     UP    health %s, cluster %s, %s\n", l.Health, l.ClusterName, round(l.Latency))
	} else {
		fmt.Fprintf(b, "  leader     DOWN  %s: %s\n", l.Failure.Class, l.Failure.Message)
	}

	f := o.Follower
	switch {
	case !f.Reachable:
		fmt.Fprintf(b, "  follower   DOWN  %s: %s\n", f.Failure.Class, f.Failure.Message)
	case f.Remote.Failure != nil:
		fmt.Fprintf(b, "  witness    ?     %s\n", f.Remote.Failure.Message)
	case !f.Remote.Known:
		fmt.Fprintf(b, "  witness    ?     follower has no remote cluster %q\n", f.Remote.Alias)
	case f.Remote.Connected:
		fmt.Fprintf(b, "  witness    UP    follower sees the leader (%q %s, %d connected)\n", f.Remote.Alias, f.Remote.Mode, f.Remote.NodesConnected+f.Remote.ProxySocketsConnected)
	default:
		fmt.Fprintf(b, "  witness    DOWN  follower lost the leader (%q %s disconnected)\n", f.Remote.Alias, f.Remote.Mode)
	}
	if f.Reachable {
		switch f.Witness.Verdict {
		case observe.WitnessReached:
			fmt.Fprintf(b, "  link       UP    %s\n", f.Witness.Text())
		case observe.WitnessUnreached:
			fmt.Fprintf(b, "  link       DOWN  %s\n", f.Witness.Text())
		case observe.WitnessNone:
			fmt.Fprintf(b, "  link       ?     %s\n", f.Witness.Text())
		}
	}

	r := f.Replication
	if f.Reachable {
		if r.Failure != nil {
			fmt.Fprintf(b, "  lag        ?     %s: %s\n", r.Failure.Class, r.Failure.Message)
		} else {
			lagLine(b, r)
		}
		if f.Autofollow.Failure == nil {
			rules := make([]string, len(f.Autofollow.Rules))
			for i, ru := range f.Autofollow.Rules {
				rules[i] = fmt.Sprintf("%s (%s)", ru.Name, ru.Pattern)
			}
			if len(rules) == 0 {
				rules = []string{"none"}
			}
			fmt.Fprintf(b, "  autofollow %s\n", strings.Join(rules, ", "))
		}
	}
	if o.Aiven != nil {
		fmt.Fprintf(b, "  aiven      %s\n", AivenSummary(o.Aiven, o.Time))
	}
	for _, p := range ps.Problems {
		fmt.Fprintf(b, "  ! %s\n", p)
	}
}

func lagLine(b *strings.Builder, r observe.Replication) {
	maxNote := ""
	if !r.LagComplete {
		maxNote = " (some unknown)"
	}
	fmt.Fprintf(b, "  lag        max %d ops, total %d%s; %d indices: %d syncing, %d not syncing (leader's own checkpoints minus the follower's)\n",
		r.MaxLag, r.TotalLag, maxNote, len(r.Indices), r.Syncing, r.Stopped)
	if n := r.Disagreeing(); n > 0 {
		fmt.Fprintf(b, "             the follower's own view differs on %d indices: it only learns of the leader's writes as it fetches them\n", n)
	}
	const show = 10
	lagging := r.LaggingIndices()
	for i, ix := range lagging {
		if i == show {
			fmt.Fprintf(b, "             ... and %d more\n", len(lagging)-show)
			break
		}
		fmt.Fprintf(b, "             %-28s %-12s %-11s %s\n", ix.Name, lagText(ix), ix.State, lagDetail(ix))
	}
}

func lagText(ix observe.Index) string {
	if !ix.LagKnown {
		return "unknown"
	}
	return fmt.Sprintf("%d ops", ix.Lag)
}

// lagDetail gives the checkpoints behind a lag, and the follower's view
// when it is all there is or when it disagrees.
func lagDetail(ix observe.Index) string {
	v := ix.FollowerView
	switch {
	case ix.LagKnown && ix.Disagrees():
		return fmt.Sprintf("(leader %d, follower %d; the follower believes %d: the leader is %d ahead)", ix.LeaderCheckpoint, ix.FollowerCheckpoint, v.Lag, ix.Lag)
	case ix.LagKnown:
		return fmt.Sprintf("(leader %d, follower %d)", ix.LeaderCheckpoint, ix.FollowerCheckpoint)
	case v != nil:
		return fmt.Sprintf("(the follower believes %d, by its last view of the leader: not a measurement)", v.Lag)
	}
	return ""
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

func haText(b *strings.Builder, h *HA) {
	if h == nil {
		return
	}
	switch {
	case h.Role == RoleObserver && h.Holder != "":
		fmt.Fprintf(b, "  ha         %s holds the lease (term %d) and acts for the pair\n", h.Holder, h.Term)
	case h.Role == RoleObserver:
		fmt.Fprintf(b, "  ha         no daemon holds the lease\n")
	case h.Role == RoleHolder:
		fmt.Fprintf(b, "  ha         HOLDER  %s holds the lease (term %d, %s left): it acts for the pair\n", h.Identity, h.Term, round(time.Duration(h.ExpiresInSeconds*float64(time.Second))))
	case h.Holder != "":
		fmt.Fprintf(b, "  ha         STANDBY %s: %s holds the lease and acts for the pair\n", h.Identity, h.Holder)
	default:
		fmt.Fprintf(b, "  ha         STANDBY %s: no daemon is known to hold the lease\n", h.Identity)
	}
	if h.Error != "" {
		fmt.Fprintf(b, "             lease: %s\n", h.Error)
	}
	if h.Role != RoleHolder && h.PublishedBy != "" {
		// The decision below is the holder's, not this process's.
		fmt.Fprintf(b, "             state below as %s published it (term %d, %s)\n", h.PublishedBy, h.PublishedTerm, h.PublishedAt.Format(time.RFC3339))
	}
}

// Short is names joined, the first ten only and how many more.
func Short(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:10], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-10)
}
