package watch

import (
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// What the watcher gives its role to share: the journaled promotion when
// none runs; while one runs, the copy taken after its last journaled
// step (the executor changes the record without the lock), and none when
// that copy is of another promotion. Always a copy.
func TestSharedPromotionIsTheCopyTakenAfterEachStep(t *testing.T) {
	p := promote.New("orders", "alice", false, time.Now())
	p.Steps = []promote.Step{{Name: promote.StepPlan, Status: promote.StepDone}}
	rt := NewRuntime(&journal.Record{Pair: "orders", State: policy.State{Phase: policy.Promoting}, Promotion: p})
	w := &Watcher{rt: rt}

	_, got, _ := rolePair{w}.Shared()
	if got == nil || got == p || len(got.Steps) != 1 {
		t.Fatalf("not running: %+v, want a copy of the record's promotion", got)
	}
	got.Steps[0].Detail = "changed by the reader"
	if p.Steps[0].Detail != "" {
		t.Fatal("the copy shares its steps with the record")
	}

	rt.running, rt.runCopy = true, copyPromotion(p)
	p.Steps = append(p.Steps, promote.Step{Name: promote.StepStop, Target: "orders-1", Status: promote.StepStarted}) // not journaled yet
	if _, got, _ := (rolePair{w}).Shared(); got == nil || len(got.Steps) != 1 {
		t.Fatalf("running: %+v, want the copy of the last journaled step", got)
	}
	rt.StepsJournaled(p)
	if _, got, _ := (rolePair{w}).Shared(); got == nil || len(got.Steps) != 2 {
		t.Fatalf("running, after a step journaled: %+v", got)
	}
	rt.runCopy = copyPromotion(promote.New("orders", "bob", false, time.Now()))
	if _, got, _ := (rolePair{w}).Shared(); got != nil {
		t.Fatalf("running, the copy of another promotion: shared %+v, want none", got)
	}
}
