package drill

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Failover is a failover drill's progress: what replication looked like
// before (to restore it exactly), each stage as it happened, the
// measurements, and, when the drill stopped half-way, where everything is
// and the commands that finish the restore.
type Failover struct {
	// Before is the replication the drill restores.
	Before Setup   `json:"before"`
	Stages []Stage `json:"stages"`
	// WritableAfter is the time from the write block to every follower
	// index writable, in seconds.
	WritableAfter float64 `json:"writable_after_seconds,omitempty"`
	// Lost are documents the write-blocked leader holds that the promoted
	// follower does not, per index (counted after the promotion).
	Lost map[string]int64 `json:"lost_documents,omitempty"`
	// Steps are the promotion's journaled steps, each with its time since
	// the promotion started ("+9.81s catch_up: done").
	Steps []string `json:"promotion_steps,omitempty"`
	// PromotedAt is when the promotion ended.
	PromotedAt time.Time `json:"promoted_at,omitzero"`
	// RestoredAfter is the time from the promotion's end to every index
	// syncing with lag 0 again, in seconds.
	RestoredAfter float64 `json:"restored_after_seconds,omitempty"`
	// Unknown are indices the promotion promoted that the snapshot did
	// not have and no autofollow rule covers: left promoted.
	Unknown []string `json:"unknown,omitempty"`
	// Where and Finish are set when the drill did not finish: the state of
	// each index, and the commands (curl) that finish the restore.
	Where  []string `json:"where,omitempty"`
	Finish []string `json:"finish,omitempty"`
}

// Setup is a pair's replication as the follower reports it.
type Setup struct {
	// Started are follower indices started by hand (_start): follower
	// index -> leader index.
	Started map[string]string `json:"started"`
	// Autofollowed are follower indices an autofollow rule created.
	Autofollowed map[string]string `json:"autofollowed,omitempty"`
	// Rules are autofollow rules: name -> leader index pattern.
	Rules map[string]string `json:"rules,omitempty"`
	// Blocked are leader indices that had a write block before the drill:
	// the restore leaves it on.
	Blocked []string `json:"blocked,omitempty"`
}

// Stage is one stage of a failover drill.
type Stage struct {
	Name   string    `json:"name"`
	Status string    `json:"status"` // started | done | failed
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
	Took   float64   `json:"took_seconds"`
}

func (f *Failover) summary() string {
	var b strings.Builder
	for i, s := range f.Stages {
		if s.Status == "started" && slices.ContainsFunc(f.Stages[i+1:], func(o Stage) bool { return o.Name == s.Name }) {
			continue // its outcome follows; a stage left started (a crash in it) shows as STARTED
		}
		fmt.Fprintf(&b, "  %-6s %s (%.1fs)", strings.ToUpper(s.Status), s.Name, s.Took)
		if s.Detail != "" {
			fmt.Fprintf(&b, ": %s", s.Detail)
		}
		b.WriteString("\n")
	}
	if len(f.Steps) > 0 {
		fmt.Fprintf(&b, "  promotion steps: %s\n", strings.Join(f.Steps, ", "))
	}
	if f.WritableAfter > 0 {
		fmt.Fprintf(&b, "  writable %.1fs after the write block; documents lost: %d\n", f.WritableAfter, sumLost(f.Lost))
	}
	if f.RestoredAfter > 0 {
		fmt.Fprintf(&b, "  replication restored %.1fs after the promotion (every index syncing, lag 0)\n", f.RestoredAfter)
	}
	if len(f.Where) > 0 {
		b.WriteString("  where things are:\n")
		for _, w := range f.Where {
			fmt.Fprintf(&b, "    - %s\n", w)
		}
	}
	if len(f.Finish) > 0 {
		b.WriteString("  to finish the restore by hand:\n")
		for _, c := range f.Finish {
			fmt.Fprintf(&b, "    %s\n", c)
		}
	}
	return b.String()
}

func sumLost(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
