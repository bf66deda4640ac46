// Package record keeps a bounded record of every input drwatch's decision
// core was given for a pair - each probe cycle's observation, each human
// command, each promotion's outcome, the policy in force - in order and
// with the time it was decided at, so that `drwatch replay` can run them
// again through the pure engine (policy) under another policy and say
// where its decisions would have differed.
//
// The record is one JSON Lines file per pair in state_dir
// (<pair>.inputs.jsonl), rotated to one older file (<pair>.inputs.jsonl.1)
// when it reaches its size cap. Every file starts with a start line (the
// pair's state and policy), so either file can be replayed on its own.
// Writing it never blocks or fails the watcher: a failed write is counted
// and logged, and the next line that can be written is preceded by a
// start line, so that a replay resumes from the recorded state after the
// lines that were lost. See docs/replay.md.
package record

import (
	"fmt"
	"time"

	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// Kind is what an input is.
type Kind string

// Kinds of input: each is one call of a decision function of policy.
const (
	// KindStart: a watcher started (the daemon started, a reload, or
	// drwatch promote), the file was rotated, or lines were lost: the
	// pair's state and policy from here on.
	KindStart Kind = "start"
	// KindObservation: a probe cycle's observation (policy.Decide).
	KindObservation Kind = "observation"
	// KindCommand: a human's command (policy.Command.Apply).
	KindCommand Kind = "command"
	// The outcomes of a promotion and of fencing an old leader
	// (policy.PromotionSucceeded, PromotionFailed, PromotionVetoed,
	// OldLeaderFenced).
	KindSucceeded Kind = "promotion_succeeded"
	KindFailed    Kind = "promotion_failed"
	KindVetoed    Kind = "promotion_vetoed"
	KindFenced    Kind = "old_leader_fenced"
)

// Input is one input of the decision core: one line of the record.
type Input struct {
	// At is the decision's time (the now the decision function was
	// given), not when the line was written.
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`

	Start *Start `json:"start,omitempty"`

	// Obs is the observation of KindObservation. On disk its timing
	// (Time, Duration and the latencies) is in Timing, and a cycle whose
	// observation is otherwise the same as the previous line's leaves
	// Obs out; Read puts the whole observation back.
	Obs    *observe.Observation `json:"obs,omitempty"`
	Timing *Timing              `json:"timing,omitempty"`

	Command *policy.Command `json:"command,omitempty"`

	// Detail is the outcome's text: a promotion's summary or error, a
	// veto's reason, the fence's detail.
	Detail string `json:"detail,omitempty"`
	// By names who vetoed a promotion.
	By string `json:"by,omitempty"`
	// Changed: a failed promotion changed something on the clusters.
	Changed bool `json:"changed,omitempty"`

	// Source is where the input was read ("file:line"), for messages.
	Source string `json:"-"`
}

// Why a start line was written (Start.Why).
const (
	WhyWatcher = "watcher started" // the daemon started, a reload, drwatch promote
	WhyRotated = "rotated"
	WhyResumed = "resumed after lost lines"
	WhyOpened  = "file opened" // the first line after the file was (re)opened
)

// Start is the pair's state and policy when a watcher starts, and at the
// head of every file.
type Start struct {
	// Why the line was written: "watcher started", "rotated", "resumed
	// after lost lines", "file opened".
	Why string `json:"why"`
	// Restart: the daemon started, and the state is the journal's after
	// policy.Restarted (observation progress made before is dropped).
	Restart bool         `json:"restart,omitempty"`
	State   policy.State `json:"state"`
	Policy  Policy       `json:"policy"`
	Version string       `json:"drwatch_version"`
}

// Timing is the part of an observation that changes every cycle.
type Timing struct {
	Time            time.Time     `json:"time"`
	Duration        time.Duration `json:"duration_ns"`
	LeaderLatency   time.Duration `json:"leader_latency_ns"`
	FollowerLatency time.Duration `json:"follower_latency_ns"`
}

// timingOf splits an observation into its timing and the rest.
func timingOf(obs observe.Observation) (Timing, observe.Observation) {
	t := Timing{Time: obs.Time, Duration: obs.Duration, LeaderLatency: obs.Leader.Latency, FollowerLatency: obs.Follower.Latency}
	obs.Time, obs.Duration, obs.Leader.Latency, obs.Follower.Latency = time.Time{}, 0, 0, 0
	return t, obs
}

func (t Timing) apply(obs observe.Observation) observe.Observation {
	obs.Time, obs.Duration, obs.Leader.Latency, obs.Follower.Latency = t.Time, t.Duration, t.LeaderLatency, t.FollowerLatency
	return obs
}

// Observed is the input of a probe cycle's observation decided at now.
func Observed(now time.Time, obs observe.Observation) Input {
	return Input{At: now, Kind: KindObservation, Obs: &obs}
}

// Commanded is the input of a human's command applied at now.
func Commanded(now time.Time, c policy.Command) Input {
	return Input{At: now, Kind: KindCommand, Command: &c}
}

// Succeeded is a promotion's success, with its summary.
func Succeeded(now time.Time, summary string) Input {
	return Input{At: now, Kind: KindSucceeded, Detail: summary}
}

// Failed is a promotion attempt's failure.
func Failed(now time.Time, err string, changed bool) Input {
	return Input{At: now, Kind: KindFailed, Detail: err, Changed: changed}
}

// Vetoed is a veto of a promotion.
func Vetoed(now time.Time, who, reason string) Input {
	return Input{At: now, Kind: KindVetoed, By: who, Detail: reason}
}

// Fenced is an old leader fenced after the promotion.
func Fenced(now time.Time, detail string) Input {
	return Input{At: now, Kind: KindFenced, Detail: detail}
}

// Started is a start line: the pair's state and policy at now.
func Started(now time.Time, st policy.State, pol *config.Policy, restart bool, why string) Input {
	return Input{At: now, Kind: KindStart, Start: &Start{Why: why, Restart: restart, State: st, Policy: PolicyOf(pol), Version: buildinfo.Version}}
}

// check says what is missing from an input read back.
func (in *Input) check() error {
	if in.At.IsZero() {
		return fmt.Errorf("no time")
	}
	switch in.Kind {
	case KindStart:
		if in.Start == nil {
			return fmt.Errorf("a start line without its state")
		}
		if in.Start.State.Phase == "" {
			return fmt.Errorf("a start line whose state has no phase")
		}
	case KindObservation:
		if in.Timing == nil {
			return fmt.Errorf("an observation without its timing")
		}
	case KindCommand:
		if in.Command == nil {
			return fmt.Errorf("a command line without its command")
		}
	case KindSucceeded, KindFailed, KindVetoed, KindFenced:
	default:
		return fmt.Errorf("unknown kind %q (this drwatch knows start, observation, command, promotion_succeeded, promotion_failed, promotion_vetoed, old_leader_fenced)", in.Kind)
	}
	return nil
}
