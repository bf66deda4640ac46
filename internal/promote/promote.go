// Package promote is what a promotion is, whoever runs it: its plan and
// journaled steps (Promotion, Step), its outcome (Result), and the
// Executor interface that runs one. The journal stores these types;
// executors implement the interface: promote/ccr for self-managed
// OpenSearch with the replication plugin, promote/aivenpromote for Aiven
// (both share promote/steps). It imports nothing of drwatch and no client,
// so the journal and the decision core do not depend on how a promotion
// talks to a cluster.
package promote

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StepKind names what a step does; its String is the journal's word.
type StepKind string

func (k StepKind) String() string { return string(k) }

// Step kinds.
const (
	StepPlan       StepKind = "plan"
	StepFence      StepKind = "fence"
	StepAutofollow StepKind = "delete_autofollow"
	StepStop       StepKind = "stop"
	StepCatchUp    StepKind = "catch_up"
	StepVerify     StepKind = "verify"
	// StepDetach removes the follower's remote-cluster settings of the
	// leader alias when the leader hangs: the plugin's _stop waits for a
	// hung leader (with the follower index closed) until its connection
	// to it goes; its detail keeps the settings removed, for failback.
	StepDetach StepKind = "detach_leader"
	// StepReopen opens a planned follower index found closed after its
	// replication was removed (a _stop cut short between its close and
	// its reopen): the plugin's last step, done by drwatch.
	StepReopen StepKind = "reopen"
	// StepSettle closes and reopens stopped indices whose stops ran while
	// the follower cluster's manager or nodes changed: a shard that was
	// not re-created after its stop keeps the replication engine, which
	// refuses every write ("Expected valid sequence number for replicate
	// op but was unassigned"); a close and an open re-create every shard
	// on the index's standalone settings.
	StepSettle StepKind = "settle"
	// StepDeleteIntegration is the delete of an Aiven pair's
	// cross-cluster-replication integration (promote/aivenpromote): Aiven's
	// equivalent of the stops. Its target is the integration's id.
	StepDeleteIntegration StepKind = "delete_integration"
)

// Promotion is the plan and progress of a promotion.
type Promotion struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	By       string    `json:"by"`
	Graceful bool      `json:"graceful,omitempty"`
	// ByHand: a human's promote command started it, whatever the
	// leader's state (not the policy finding the leader down): the
	// leader's liveness is then checked for a whole step timeout.
	ByHand bool `json:"by_hand,omitempty"`
	// Plan is the follower indices to promote (follower index -> leader
	// index), fixed when the promotion starts.
	Plan map[string]string `json:"plan"`
	// Term is the lease term (internal/ha) the promotion runs under when
	// two daemons watch the pair; 0 without ha. Each step is journaled
	// with it, and each mutating step first checks that it is still
	// this daemon's.
	Term int64 `json:"term,omitempty"`
	// Steps are kept in an append-only log beside the record
	// (<pair>.steps.jsonl), so that promoting thousands of indices costs
	// O(n) writes; Load fills them in.
	Steps []Step `json:"-"`
}

// StepStatus is a step's outcome so far; its String is the journal's word.
type StepStatus string

func (s StepStatus) String() string { return string(s) }

// Step outcomes.
const (
	StepStarted StepStatus = "started"
	StepDone    StepStatus = "done"
	StepSkipped StepStatus = "skipped"
	StepFailed  StepStatus = "failed"
)

// Step is one action of a promotion. Target is an index or rule name, or
// empty for pair-wide steps.
type Step struct {
	Name   StepKind   `json:"name"`
	Target string     `json:"target,omitempty"`
	Status StepStatus `json:"status"`
	Detail string     `json:"detail,omitempty"`
	At     time.Time  `json:"at"`
	// Term is the lease term the step ran under (0 without ha).
	Term int64 `json:"term,omitempty"`
	// Lost marks a skipped step whose index cannot be promoted and is not
	// retried (still restoring from the leader, or gone); Detail says why.
	Lost bool `json:"lost,omitempty"`
}

// LostPrefix starts the detail of a step that found its index lost: an
// earlier version marked a lost index by it alone, and a binary of that
// version reading this one's journal still does.
const LostPrefix = "lost: "

// UpgradeSteps brings steps journaled or published by an earlier version
// to this one's form: a stop skipped with a LostPrefix detail is Lost.
// The journal and the adoption of a published promotion call it where
// they read steps; nothing else reads the prefix.
func UpgradeSteps(steps []Step) {
	for i := range steps {
		if s := &steps[i]; s.Name == StepStop && s.Status == StepSkipped && strings.HasPrefix(s.Detail, LostPrefix) {
			s.Lost = true
		}
	}
}

// Last returns the latest step with name and target.
func (p *Promotion) Last(name StepKind, target string) (Step, bool) {
	for i := len(p.Steps) - 1; i >= 0; i-- {
		if s := p.Steps[i]; s.Name == name && s.Target == target {
			return s, true
		}
	}
	return Step{}, false
}

// Result summarises a promotion run.
type Result struct {
	Promoted []string // indices now writable
	Failed   map[string]string
	// Lost are planned indices that cannot be promoted and are not retried:
	// still restoring from the leader (a _stop would delete them; their
	// data never reached the follower), or gone.
	Lost map[string]string
	// Unassigned are planned indices stopped and standalone whose
	// primaries the follower has not allocated (a follower node holding the
	// only in-sync copy is gone): not failed - nothing drwatch can send
	// changes them - but they take no writes until the follower allocates
	// them, which it does when that node returns.
	Unassigned map[string]string
	Fenced     bool
	Detail     string
}

// Tally completes a result from its plan, whichever executor ran it: a
// planned index found lost (lost says why) moves from Failed to Lost; the
// others neither failed nor unassigned are Promoted. Detail is prefix,
// then how many indices are writable, lost and not yet allocated, and
// whether the leader was fenced.
func (r *Result) Tally(p *Promotion, lost func(idx string) (string, bool), prefix string) {
	for idx := range p.Plan {
		if why, ok := lost(idx); ok {
			r.Lost[idx] = why
			delete(r.Failed, idx)
		}
	}
	for idx := range p.Plan {
		_, failed := r.Failed[idx]
		_, gone := r.Lost[idx]
		_, unassigned := r.Unassigned[idx]
		if !failed && !gone && !unassigned {
			r.Promoted = append(r.Promoted, idx)
		}
	}
	slices.Sort(r.Promoted)
	r.Detail = prefix + fmt.Sprintf("%d of %d indices writable", len(r.Promoted), len(p.Plan))
	if len(r.Lost) > 0 {
		r.Detail += fmt.Sprintf(", %d lost (%s)", len(r.Lost), Summarize(r.Lost))
	}
	if len(r.Unassigned) > 0 {
		r.Detail += fmt.Sprintf(", %d standalone but not yet writable (%s)", len(r.Unassigned), Summarize(r.Unassigned))
	}
	if r.Fenced {
		r.Detail += ", leader fenced"
	} else {
		r.Detail += ", leader not fenced"
	}
}

// Changed reports whether a promotion may have changed anything on the
// clusters so far: any stop or integration delete was sent (even one whose
// answer was lost may have happened), or a fence was sent and not refused. One that has not can
// be given up without leaving the pair split or the leader blocked.
func Changed(p *Promotion) bool {
	if p == nil {
		return false
	}
	fence := map[string]StepStatus{} // target -> its last status
	for _, s := range p.Steps {
		switch s.Name {
		case StepStop, StepDeleteIntegration:
			if s.Status != StepSkipped { // a skipped stop was never sent
				return true
			}
		case StepFence:
			fence[s.Target] = s.Status
		}
	}
	for _, status := range fence {
		if status == StepStarted || status == StepDone {
			return true
		}
	}
	return false
}

// Executor runs (or resumes) a promotion, and fences an old leader that
// answers again after one. Every step is journaled before and after it
// runs, so Run resumes an interrupted promotion where it stopped.
type Executor interface {
	Run(ctx context.Context, p *Promotion) (Result, error)
	FenceOldLeader(ctx context.Context, p *Promotion) (string, error)
}

// New starts the record of a promotion of pair: its id is the pair's name
// and the start time in base 36 (unique per pair, sortable).
func New(pair, by string, graceful bool, now time.Time) *Promotion {
	return &Promotion{ID: pair + "-" + strconv.FormatInt(now.UnixNano(), 36), Started: now, By: by, Graceful: graceful}
}

// ErrRefused wraps the reason a promotion is refused before anything is
// done.
var ErrRefused = errors.New("refused")

// Resumable reports whether a promotion may be run as asked: an
// unfinished promotion started without graceful cannot become graceful
// half-way (its fence was decided without the wait for the follower).
// A nil or finished promotion admits anything.
func (p *Promotion) Resumable(graceful bool) error {
	if p == nil || !p.Finished.IsZero() || !graceful || p.Graceful {
		return nil
	}
	return fmt.Errorf("%w: a non-graceful promotion is already under way (started %s): resume it without --graceful; nothing was changed", ErrRefused, p.Started.Format(time.RFC3339))
}

// PlanSteps are the journal steps that record a plan's entries (follower
// index -> leader index), in name order, then a summary naming total.
func PlanSteps(entries map[string]string, total int) []Step {
	names := slices.Sorted(maps.Keys(entries))
	steps := make([]Step, 0, len(names)+1)
	for _, idx := range names {
		steps = append(steps, Step{Name: StepPlan, Target: idx, Status: StepDone, Detail: entries[idx]})
	}
	return append(steps, Step{Name: StepPlan, Status: StepDone, Detail: fmt.Sprintf("%d follower indices planned", total)})
}

// LeaderIndices are the plan's leader indices, sorted, each once (what
// fencing the old leader write-blocks).
func (p *Promotion) LeaderIndices() []string {
	return slices.Compact(slices.Sorted(maps.Values(p.Plan)))
}

// Summarize is index: reason for the first five of m, in name order, and
// how many more.
func Summarize(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var parts []string
	for i, k := range keys {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(keys)-5))
			break
		}
		parts = append(parts, k+": "+m[k])
	}
	return strings.Join(parts, "; ")
}
