package app

import (
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// drwatch status shows what the journal holds: a failed promotion's
// failed steps in their own words, the latest outcome of each step.
func TestStatusReadsTheJournal(t *testing.T) {
	dir := t.TempDir()
	if j := journaled(dir, "lab"); j != nil {
		t.Fatalf("no journal: %+v", j)
	}
	jn, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer jn.Close()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := &promote.Promotion{ID: "lab-1", Started: now, Plan: map[string]string{"orders-1": "orders-1", "orders-2": "orders-2"}}
	refused := "stop orders-1: auth (HTTP 403) security_exception: the follower refused indices:admin/plugins/replication/index/stop to user drwatch: add it to its role"
	rec := &journal.Record{Pair: "lab", State: policy.State{Phase: policy.Failed, Since: now}, Promotion: p,
		History: []journal.Transition{{At: now, From: policy.Promoting, To: policy.Failed, Reasons: []string{"promotion failed: 1 of 2 indices not writable"}}}}
	if err := jn.Save(rec); err != nil {
		t.Fatal(err)
	}
	if err := jn.AppendSteps("lab", p,
		promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepFailed, Detail: "an earlier failure", At: now},
		promote.Step{Name: promote.StepStop, Target: "orders-2", Status: promote.StepDone, At: now},
		promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepFailed, Detail: refused, At: now},
	); err != nil {
		t.Fatal(err)
	}
	j := journaled(dir, "lab")
	if j == nil || j.State != "failed" || j.Promotion == nil || len(j.Promotion.Failed) != 1 || j.Promotion.Failed[0] != "stop orders-1: "+refused {
		t.Fatalf("journaled = %+v (promotion %+v)", j, j.Promotion)
	}
	if len(j.Reasons) != 1 || j.Reasons[0] != "promotion failed: 1 of 2 indices not writable" {
		t.Fatalf("reasons %q", j.Reasons)
	}
}
