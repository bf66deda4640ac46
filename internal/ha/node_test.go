package ha

import (
	"errors"
	"testing"

	"github.com/drwatch/drwatch/internal/promote"
)

type stepLog struct{ steps []promote.Step }

func (s *stepLog) AppendSteps(_ string, p *promote.Promotion, steps ...promote.Step) error {
	s.steps = append(s.steps, steps...)
	p.Steps = append(p.Steps, steps...)
	return nil
}

// The gate journals every step with the promotion's term, checks the
// lease before a started (mutating) step and refuses it - journaling
// nothing - when the term is not this daemon's: never held, or taken over.
func TestGateChecksTheTermBeforeAMutatingStep(t *testing.T) {
	m, c := newMem(), newClock()
	l := &Lease{Store: m, Index: "drwatch-ha", Pair: "orders", Identity: "a", TTL: 3e9, Now: c.now}
	holding(t, l, c)
	log := &stepLog{}
	after := 0
	g := Gate{Journal: log, Lease: l, After: func(*promote.Promotion) { after++ }}
	p := &promote.Promotion{ID: "orders-1", Term: 1}
	if err := g.AppendSteps("orders", p, promote.Step{Name: promote.StepStop, Target: "i", Status: promote.StepStarted}); err != nil {
		t.Fatal(err)
	}
	if len(log.steps) != 1 || log.steps[0].Term != 1 || after != 1 {
		t.Fatalf("journaled %+v, after %d", log.steps, after)
	}
	for _, term := range []int64{0, 2} {
		q := &promote.Promotion{ID: "orders-1", Term: term}
		err := g.AppendSteps("orders", q, promote.Step{Name: promote.StepStop, Target: "j", Status: promote.StepStarted})
		if !errors.Is(err, ErrNotHolder) || len(log.steps) != 1 {
			t.Fatalf("term %d: %v, journaled %d", term, err, len(log.steps))
		}
	}
	// An outcome (not a request) is journaled whatever the lease.
	c.add(3e9)
	if err := g.AppendSteps("orders", p, promote.Step{Name: promote.StepStop, Target: "i", Status: promote.StepDone}); err != nil || len(log.steps) != 2 {
		t.Fatalf("an outcome: %v", err)
	}
	if err := g.AppendSteps("orders", p, promote.Step{Name: promote.StepStop, Target: "k", Status: promote.StepStarted}); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("a step after the window: %v", err)
	}
}
