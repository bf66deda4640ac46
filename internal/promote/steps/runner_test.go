package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/promote"
)

type memJournal struct {
	steps []promote.Step
	fail  bool
}

func (j *memJournal) AppendSteps(_ string, _ *promote.Promotion, steps ...promote.Step) error {
	if j.fail {
		return errors.New("disk full")
	}
	j.steps = append(j.steps, steps...)
	return nil
}

func (j *memJournal) outcomes() []promote.StepStatus {
	var out []promote.StepStatus
	for _, s := range j.steps {
		out = append(out, s.Status)
	}
	return out
}

// Every step Do runs is journaled started before its call and with its
// outcome after: done (with the call's detail), failed (with its error)
// or skipped (Skip); a start that cannot be journaled is never called.
func TestRunnerDo(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	step := promote.Step{Name: promote.StepReopen, Target: "orders"}
	for _, tc := range []struct {
		name    string
		call    func(context.Context) (string, error)
		want    []promote.StepStatus
		detail  string
		wantErr bool
	}{
		{"done", func(context.Context) (string, error) { return "opened", nil }, []promote.StepStatus{promote.StepStarted, promote.StepDone}, "opened", false},
		{"failed", func(context.Context) (string, error) { return "", errors.New("HTTP 403") }, []promote.StepStatus{promote.StepStarted, promote.StepFailed}, "HTTP 403", true},
		{"skipped", func(context.Context) (string, error) { return "", Skip("not ours") }, []promote.StepStatus{promote.StepStarted, promote.StepSkipped}, "not ours", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &memJournal{}
			r := Runner{Pair: "orders", Journal: j, Now: func() time.Time { return t0 }}
			called := false
			err := r.Do(context.Background(), &promote.Promotion{}, step, func(ctx context.Context) (string, error) {
				called = true
				if len(j.steps) != 1 || j.steps[0].Status != promote.StepStarted {
					t.Errorf("called before its start was journaled: %+v", j.steps)
				}
				if _, ok := ctx.Deadline(); !ok {
					t.Error("the call has no deadline")
				}
				return tc.call(ctx)
			})
			if (err != nil) != tc.wantErr || !called {
				t.Fatalf("Do = %v (called %v)", err, called)
			}
			if got := j.outcomes(); len(got) != 2 || got[0] != tc.want[0] || got[1] != tc.want[1] {
				t.Fatalf("journaled %v, want %v", got, tc.want)
			}
			if last := j.steps[1]; last.Detail != tc.detail || last.Target != "orders" || !last.At.Equal(t0) {
				t.Errorf("outcome step %+v, want detail %q", last, tc.detail)
			}
		})
	}

	j := &memJournal{fail: true}
	err := Runner{Pair: "orders", Journal: j}.Do(context.Background(), &promote.Promotion{}, step, func(context.Context) (string, error) {
		t.Fatal("called although its start could not be journaled")
		return "", nil
	})
	var jerr *JournalError
	if !errors.As(err, &jerr) {
		t.Fatalf("Do with an unwritable journal = %v, want a JournalError", err)
	}
}

// A failed call whose outcome cannot be journaled returns both errors: the
// caller sees the JournalError and ends the attempt.
func TestRunnerDoOutcomeUnjournaled(t *testing.T) {
	j := &failAfter{n: 1}
	err := Runner{Pair: "orders", Journal: j}.Do(context.Background(), &promote.Promotion{}, promote.Step{Name: promote.StepReopen, Target: "orders"},
		func(context.Context) (string, error) { return "", errors.New("HTTP 500") })
	var jerr *JournalError
	if !errors.As(err, &jerr) || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("Do = %v, want the call's error and a JournalError", err)
	}
}

// failAfter journals n appends, then fails.
type failAfter struct{ n int }

func (f *failAfter) AppendSteps(string, *promote.Promotion, ...promote.Step) error {
	if f.n == 0 {
		return errors.New("disk full")
	}
	f.n--
	return nil
}

// A runner with a fencing check (a drill's restore) starts nothing it
// refuses: the step is journaled failed, never started, never called;
// and its Bound replaces StepTimeout and Window for the call.
func TestRunnerActingAndBound(t *testing.T) {
	j := &memJournal{}
	refused := errors.New("standby: dr-b holds the lease")
	r := Runner{Pair: "orders", Journal: j, Acting: func(context.Context) error { return refused }}
	err := r.Do(context.Background(), &promote.Promotion{}, promote.Step{Name: promote.StepReopen, Target: "orders"}, func(context.Context) (string, error) {
		t.Fatal("called although the fencing check refused")
		return "", nil
	})
	if !errors.Is(err, refused) || len(j.steps) != 1 || j.steps[0].Status != promote.StepFailed || j.steps[0].Detail != refused.Error() {
		t.Fatalf("Do = %v, journaled %+v", err, j.steps)
	}
	bounded := false
	r = Runner{Pair: "orders", Journal: &memJournal{}, Bound: func(ctx context.Context) (context.Context, context.CancelFunc) {
		bounded = true
		return context.WithCancel(ctx)
	}}
	if err := r.Call(context.Background(), func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); ok {
			t.Error("StepTimeout applied although Bound is set")
		}
		return nil
	}); err != nil || !bounded {
		t.Fatalf("Call = %v, bounded %v", err, bounded)
	}
}
