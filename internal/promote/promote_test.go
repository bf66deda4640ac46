package promote

import "testing"

// A stop an earlier version journaled skipped as lost (its detail's
// prefix alone said so) is Lost once read; other skipped steps are not.
func TestUpgradeSteps(t *testing.T) {
	steps := []Step{
		{Name: StepStop, Target: "orders-2", Status: StepSkipped, Detail: "lost: 1 of 1 primaries not started: still restoring from the leader"},
		{Name: StepStop, Target: "orders-3", Status: StepSkipped, Detail: "already stopped"},
		{Name: StepFence, Status: StepSkipped, Detail: "lost: not an index step"},
	}
	UpgradeSteps(steps)
	if !steps[0].Lost || steps[1].Lost || steps[2].Lost {
		t.Fatalf("upgraded %+v", steps)
	}
}

// Unassigned indices are neither promoted nor failed, and the detail says
// how many.
func TestTallyUnassigned(t *testing.T) {
	p := &Promotion{Plan: map[string]string{"a": "a", "b": "b", "c": "c"}}
	r := Result{Failed: map[string]string{"c": "boom"}, Lost: map[string]string{}, Unassigned: map[string]string{"b": "no primary"}}
	r.Tally(p, func(string) (string, bool) { return "", false }, "")
	if len(r.Promoted) != 1 || r.Promoted[0] != "a" {
		t.Fatalf("promoted %v", r.Promoted)
	}
	if want := "1 of 3 indices writable, 1 standalone but not yet writable (b: no primary), leader not fenced"; r.Detail != want {
		t.Errorf("detail %q, want %q", r.Detail, want)
	}
}
