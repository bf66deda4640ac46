package journal

import (
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/promote"
)

// A state_dir's instance is made once and kept: the same after a reopen,
// another in another state_dir.
func TestInstanceIsKept(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := j.Instance()
	if err != nil || len(first) != 32 {
		t.Fatalf("instance %q, %v", first, err)
	}
	j.Close()
	j, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if again, err := j.Instance(); err != nil || again != first {
		t.Fatalf("after a reopen: %q (%v), want %q", again, err, first)
	}
	other, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if id, _ := other.Instance(); id == first {
		t.Fatal("two state_dirs share an instance")
	}
}

// ReplaceSteps replaces a promotion's steps in the log: a reload reads the
// new ones only; another promotion's steps are left alone.
func TestReplaceSteps(t *testing.T) {
	j, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	now := time.Now()
	p := &promote.Promotion{ID: "orders-1", Started: now}
	other := &promote.Promotion{ID: "orders-0", Started: now}
	if err := j.AppendSteps("orders", other, promote.Step{Name: promote.StepPlan, Status: promote.StepDone, At: now}); err != nil {
		t.Fatal(err)
	}
	mine := []promote.Step{{Name: promote.StepStop, Target: "a", Status: promote.StepStarted, At: now, Term: 1},
		{Name: promote.StepStop, Target: "a", Status: promote.StepFailed, At: now, Term: 1}}
	if err := j.AppendSteps("orders", p, mine...); err != nil {
		t.Fatal(err)
	}
	theirs := []promote.Step{{Name: promote.StepStop, Target: "a", Status: promote.StepDone, At: now, Term: 2}}
	if err := j.ReplaceSteps("orders", p, theirs...); err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 || p.Steps[0].Term != 2 {
		t.Fatalf("in memory: %+v", p.Steps)
	}
	got, err := j.loadSteps("orders", p.ID)
	if err != nil || len(got) != 1 || got[0].Status != promote.StepDone || got[0].Term != 2 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	if got, _ := j.loadSteps("orders", other.ID); len(got) != 1 {
		t.Fatalf("the other promotion's steps: %+v", got)
	}
}
