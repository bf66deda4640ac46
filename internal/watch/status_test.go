package watch

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
)

// History reads the journaled transitions newest first, at most n, as a
// copy: changing what it returned changes nothing of the pair's record,
// and a command journaled after it is the next read's first entry.
func TestHistoryNewestFirstAndCopied(t *testing.T) {
	_, j := openJournal(t)
	t0 := time.Now().Add(-time.Hour)
	rec := &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Healthy, Since: t0}}
	for i := range 5 {
		rec.History = append(rec.History, journal.Transition{At: t0.Add(time.Duration(i) * time.Minute), From: policy.Healthy, To: policy.Healthy,
			Events: []policy.Event{"e"}, Reasons: []string{fmt.Sprint("r", i)}})
	}
	w := New(Config{Pair: &config.Pair{Name: "orders", Resolved: config.DefaultPolicy()}, Journal: j, Metrics: metrics.New(),
		Log: zap.NewNop(), Runtime: NewRuntime(rec)})

	h := w.History(3)
	if len(h) != 3 || h[0].Reasons[0] != "r4" || h[2].Reasons[0] != "r2" {
		t.Fatalf("History(3) = %+v, want r4, r3, r2", h)
	}
	if all := w.History(0); len(all) != 5 || all[4].Reasons[0] != "r0" {
		t.Fatalf("History(0) = %+v, want all 5", all)
	}
	if more := w.History(50); len(more) != 5 {
		t.Fatalf("History(50) has %d entries", len(more))
	}
	h[0].Reasons[0], h[0].Events[0], h[0].To = "changed", "changed", policy.Promoted
	if got := rec.History[4]; got.Reasons[0] != "r4" || got.Events[0] != "e" || got.To != policy.Healthy {
		t.Fatalf("History returned the record's own slices: %+v", got)
	}

	if _, err := w.Command(policy.Command{Action: policy.ActPause, By: "alice", Reason: "maintenance", For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if h := w.History(1); len(h) != 1 || h[0].To != policy.Paused || h[0].From != policy.Healthy {
		t.Fatalf("after a pause History(1) = %+v", h)
	}
	if st := w.State(); st.Phase != policy.Paused || st.PausedBy != "alice" {
		t.Fatalf("State() = %+v", st)
	}
}
