// Package drill rehearses failovers: a readiness drill checks, without
// writing anything, whether a promotion of a pair would work now, how long
// it would take and what it would lose; a failover drill promotes a
// staging pair gracefully and then restores its replication as it was.
// Every drill leaves a JSON report in state_dir (drills/<drill>/<id>.json).
package drill

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Drill types.
const (
	TypeReadiness = "readiness"
	TypeFailover  = "failover"
)

// Check results.
const (
	Pass = "pass" // the check holds
	Fail = "fail" // a problem a failover would meet: the drill fails
	Warn = "warn" // worth knowing, not a failure
)

// Check is one readiness check's outcome.
type Check struct {
	// Name is stable (a machine key, e.g. "replicated"); Title says it.
	Name   string `json:"name"`
	Title  string `json:"title"`
	Result string `json:"result"`
	// Detail says what was found, in words.
	Detail string `json:"detail"`
	// Items name what the check found wrong (indices, rules, hooks, calls),
	// one per item, e.g. "logs-2 (leader): not replicated".
	Items []string `json:"items,omitempty"`
}

// AnyFailed reports whether any check failed.
func AnyFailed(checks []Check) bool {
	for _, c := range checks {
		if c.Result == Fail {
			return true
		}
	}
	return false
}

// Score is the share of checks that pass (a warning counts half), 0..1.
func Score(checks []Check) float64 {
	if len(checks) == 0 {
		return 0
	}
	var s float64
	for _, c := range checks {
		switch c.Result {
		case Pass:
			s++
		case Warn:
			s += 0.5
		}
	}
	return s / float64(len(checks))
}

// Report results.
const (
	ResultPassed  = "passed"  // every check passed (a failover drill: promoted and restored)
	ResultFailed  = "failed"  // a check failed, or the drill could not finish
	ResultSkipped = "skipped" // not run: an incident, a pause, another drill (Reason)
	ResultRunning = "running" // under way (a report saved before the drill ends)
)

// Report is what one drill run found; it is saved before the drill changes
// anything and after every stage, so a drill cut short leaves one.
type Report struct {
	Drill    string    `json:"drill"`
	Pair     string    `json:"pair"`
	Type     string    `json:"type"`
	ID       string    `json:"id"`
	By       string    `json:"by"` // "schedule" or who ran it
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Duration is Finished - Started in seconds.
	Duration float64 `json:"duration_seconds"`
	Result   string  `json:"result"`
	// Reason says why the drill failed or was skipped, in one line.
	Reason string  `json:"reason,omitempty"`
	Score  float64 `json:"score"`
	Checks []Check `json:"checks,omitempty"`
	// Failover is a failover drill's progress and measurements.
	Failover *Failover `json:"failover,omitempty"`
}

// NewID is a report's id: its start time (sortable) and a random suffix,
// so that two runs in one millisecond (one skipped) do not collide.
func NewID(t time.Time) string {
	return t.UTC().Format("20060102T150405.000Z") + "-" + strconv.FormatUint(rand.Uint64()&0xffff|0x10000, 16)[1:]
}

// Summary is the report in words, for a terminal.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %s (%s, pair %s): %s", r.Drill, r.Type, r.Pair, strings.ToUpper(r.Result))
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	fmt.Fprintf(&b, "\n  id %s, by %s, started %s", r.ID, r.By, r.Started.UTC().Format(time.RFC3339))
	if !r.Finished.IsZero() {
		fmt.Fprintf(&b, ", took %s", time.Duration(r.Duration*float64(time.Second)).Round(10*time.Millisecond))
	}
	b.WriteString("\n")
	if len(r.Checks) > 0 {
		fmt.Fprintf(&b, "  score %.0f%%\n", 100*r.Score)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-4s  %s: %s\n", strings.ToUpper(c.Result), c.Title, c.Detail)
		for _, it := range c.Items {
			fmt.Fprintf(&b, "          - %s\n", it)
		}
	}
	if f := r.Failover; f != nil {
		b.WriteString(f.summary())
	}
	return b.String()
}
