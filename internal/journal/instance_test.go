package journal

import (
	"os"
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

// A crash in the middle of ReplaceSteps's write (the line torn anywhere):
// a reload reads either the old steps or all the new ones - never none,
// never some of them. The reset and its steps are one line.
func TestReplaceStepsTornWriteLosesNothing(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	now := time.Now()
	p := &promote.Promotion{ID: "orders-1", Started: now}
	old := []promote.Step{{Name: promote.StepPlan, Status: promote.StepDone, At: now, Term: 1},
		{Name: promote.StepDeleteIntegration, Target: "i-1", Status: promote.StepDone, At: now, Term: 1}}
	if err := j.AppendSteps("orders", p, old...); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(j.stepsPath("orders"))
	if err != nil {
		t.Fatal(err)
	}
	theirs := []promote.Step{{Name: promote.StepPlan, Status: promote.StepDone, At: now, Term: 2},
		{Name: promote.StepDeleteIntegration, Target: "i-1", Status: promote.StepStarted, At: now, Term: 2},
		{Name: promote.StepDeleteIntegration, Target: "i-1", Status: promote.StepDone, At: now, Term: 2}}
	if err := j.ReplaceSteps("orders", p, theirs...); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(j.stepsPath("orders"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := len(before); cut < len(after); cut++ {
		if err := os.WriteFile(j.stepsPath("orders"), after[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := j.loadSteps("orders", p.ID)
		if err != nil {
			t.Fatalf("torn at byte %d: %v", cut, err)
		}
		if len(got) != len(old) && len(got) != len(theirs) {
			t.Fatalf("torn at byte %d: %d steps, want the %d old or the %d new", cut, len(got), len(old), len(theirs))
		}
	}
}
