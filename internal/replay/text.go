package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/record"
)

// PolicyChanges lists the keys whose value differs between two policies,
// as "leader_down_after 3s -> 20s".
func PolicyChanges(from, to record.Policy) []string {
	a, b := flat(from), flat(to)
	var keys []string
	for k := range b {
		if k != "name" && a[k] != b[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := []string{}
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %s -> %s", k, a[k], b[k]))
	}
	return out
}

func flat(p record.Policy) map[string]string {
	b, _ := json.Marshal(p)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := map[string]string{}
	for k, v := range m {
		out[k] = strings.Trim(string(v), `"`)
	}
	if _, ok := out["maintenance_windows"]; !ok {
		out["maintenance_windows"] = "[]"
	}
	return out
}

// JournalCheck compares the recorded run with the journal's history: the
// same policy must reproduce it exactly.
type JournalCheck struct {
	// Compared is how many journal transitions were compared (those of
	// the time the replay covers, as far as the journal's bounded history
	// reaches back).
	Compared int  `json:"compared"`
	Matches  bool `json:"matches"`
	// Mismatch says where they first differ.
	Mismatch string `json:"mismatch,omitempty"`
}

// CheckJournal compares res's recorded run with history (the journal's
// transitions, oldest first) over the time both cover.
func CheckJournal(res *Result, history []journal.Transition) JournalCheck {
	var from time.Time
	if len(history) == journal.HistoryLimit {
		from = history[0].At // the journal forgot what came before
	}
	var want []journal.Transition
	for _, t := range history {
		if !t.At.Before(res.Start) && !t.At.After(res.End) {
			want = append(want, t)
		}
	}
	var got []journal.Transition
	for _, t := range res.Recorded.Transitions {
		if !t.At.Before(from) {
			got = append(got, t)
		}
	}
	c := JournalCheck{Compared: len(want), Matches: true}
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(want):
			c.Mismatch = fmt.Sprintf("the replay has a transition the journal lacks: %s", describe(got[i]))
		case i >= len(got):
			c.Mismatch = fmt.Sprintf("the journal has a transition the replay lacks: %s", describe(want[i]))
		case !EqualTransition(want[i], got[i]):
			c.Mismatch = fmt.Sprintf("transition %d differs: the journal %s; the replay %s", i+1, describe(want[i]), describe(got[i]))
		default:
			continue
		}
		c.Matches = false
		break
	}
	return c
}

// Text writes a pair's replay for a human.
func Text(w io.Writer, res *Result, jc *JournalCheck) {
	fmt.Fprintf(w, "pair %s: %d inputs from %s to %s, %s\n", res.Pair, res.Inputs,
		res.Start.Format(time.RFC3339), res.End.Format(time.RFC3339), outagesText(res.Outages))
	fmt.Fprintf(w, "  recorded policy: %s; replayed policy: %s", strings.Join(res.Recorded.Policies, ", "), res.Policy.Name)
	if len(res.PolicyChanges) == 0 {
		fmt.Fprintf(w, " (the same settings)\n")
	} else {
		fmt.Fprintf(w, " (%s)\n", strings.Join(res.PolicyChanges, ", "))
	}
	if res.Same {
		fmt.Fprintf(w, "  no differences: this policy makes exactly the recorded decisions (%d transitions, final state %s)\n",
			len(res.Recorded.Transitions), res.Recorded.Final.Phase)
	} else {
		for _, d := range res.Differences {
			fmt.Fprintf(w, "  - %s\n", d.Text)
		}
		fmt.Fprintf(w, "  what happened: %s; this policy: %s\n", summary(&res.Recorded), summary(&res.Replayed))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if jc != nil {
		if jc.Matches {
			fmt.Fprintf(w, "  journal: the recorded run reproduces its %d transitions of this time exactly\n", jc.Compared)
		} else {
			fmt.Fprintf(w, "  journal: the recorded run does NOT reproduce the journal: %s\n", jc.Mismatch)
		}
	}
}

func outagesText(os []Outage) string {
	switch len(os) {
	case 0:
		return "the leader answered throughout"
	case 1:
		if os[0].End.IsZero() {
			return fmt.Sprintf("the leader unreachable from %s to the end", clock(os[0].Start))
		}
		return fmt.Sprintf("the leader unreachable from %s to %s", clock(os[0].Start), clock(os[0].End))
	}
	return fmt.Sprintf("%d leader outages", len(os))
}

// summary is a run in one line: its promotions, or where it ended.
func summary(r *Run) string {
	if len(r.Promotions) == 0 {
		return fmt.Sprintf("no promotion, ends %s", r.Final.Phase)
	}
	var parts []string
	for _, p := range r.Promotions {
		s := "promotion started " + clock(p.Started)
		if p.Outcome != "" {
			s += ", " + outcomeWord(p.Outcome) + " " + clock(p.Ended)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ") + ", ends " + r.Final.Phase.String()
}
