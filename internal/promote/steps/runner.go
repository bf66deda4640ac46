package steps

import (
	"context"
	"errors"
	"time"

	"github.com/drwatch/drwatch/internal/promote"
)

// Journal is where a promotion's steps are appended (journal.Journal, or
// with ha the fencing gate in front of it: ha.Gate checks the lease
// before a step that starts something is written).
type Journal interface {
	AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error
}

// Runner runs the steps of a pair's promotions, the one way every executor
// does: a step that changes something is journaled started first (through
// the gate, with ha: the window is checked there), its cluster call is
// bounded (StepTimeout and the lease's window), its outcome is journaled,
// and the crash hook sees every journaled step. An executor is then the
// list of its steps.
type Runner struct {
	Pair    string
	Journal Journal
	// StepTimeout bounds each cluster call (0: DefaultCallTimeout).
	StepTimeout time.Duration
	// Window, with ha, is the end of the lease's window (Bound).
	Window func() time.Time
	Now    func() time.Time
	// Acting, if set, is the fencing check Do makes before it starts a
	// step (a failover drill's restore: Watcher.Acting); the executors'
	// is in their journal (ha.Gate checks the lease before a step that
	// starts something is written).
	Acting func(ctx context.Context) error
	// Bound, if set, bounds each call instead of StepTimeout and Window
	// (a failover drill's: Watcher.Bound, the lease's window).
	Bound func(ctx context.Context) (context.Context, context.CancelFunc)
}

// DefaultCallTimeout bounds a cluster call when no StepTimeout is set.
const DefaultCallTimeout = 30 * time.Second

func (r Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Record journals steps (stamped now when they carry no time), then tells
// the crash hook.
func (r Runner) Record(p *promote.Promotion, done ...promote.Step) error {
	for i := range done {
		if done[i].At.IsZero() {
			done[i].At = r.now()
		}
	}
	if err := r.Journal.AppendSteps(r.Pair, p, done...); err != nil {
		return &JournalError{Err: err}
	}
	Recorded(done)
	return nil
}

// JournalError is a step that could not be journaled: the promotion
// attempt ends there (nothing is done that the journal does not know of).
type JournalError struct{ Err error }

func (e *JournalError) Error() string { return "journal: " + e.Err.Error() }
func (e *JournalError) Unwrap() error { return e.Err }

// Call runs one cluster call within StepTimeout and the lease's window.
func (r Runner) Call(ctx context.Context, f func(context.Context) error) error {
	return r.CallFor(ctx, r.StepTimeout, f)
}

// CallFor is Call with its own timeout (0: StepTimeout, then
// DefaultCallTimeout).
func (r Runner) CallFor(ctx context.Context, t time.Duration, f func(context.Context) error) error {
	if r.Bound != nil {
		bctx, cancel := r.Bound(ctx)
		defer cancel()
		return f(bctx)
	}
	if t == 0 {
		t = r.StepTimeout
	}
	if t == 0 {
		t = DefaultCallTimeout
	}
	ctx, cancel := Bound(ctx, t, r.Window)
	defer cancel()
	return f(ctx)
}

// Do runs one step that changes something: the fencing check (Acting, if
// set; refused: journaled failed, not started), s journaled started, then call
// (bounded as Call), then s journaled done with the detail call returns,
// skipped (call returned Skip), or failed with its error. A step whose
// start cannot be journaled is not run. The error is call's (nil for a
// skip), joined with the journal's when the outcome could not be
// journaled (a JournalError: the attempt must end).
func (r Runner) Do(ctx context.Context, p *promote.Promotion, s promote.Step, call func(context.Context) (string, error)) error {
	if r.Acting != nil {
		if err := r.Acting(ctx); err != nil {
			out := s
			out.Status, out.Detail, out.At = promote.StepFailed, err.Error(), time.Time{}
			if jerr := r.Record(p, out); jerr != nil {
				return errors.Join(err, jerr)
			}
			return err // not started: this daemon may not act now
		}
	}
	s.Status, s.At = promote.StepStarted, time.Time{}
	if err := r.Record(p, s); err != nil {
		return err
	}
	var detail string
	err := r.Call(ctx, func(ctx context.Context) (err error) {
		detail, err = call(ctx)
		return err
	})
	out := s
	var skip skipped
	switch {
	case errors.As(err, &skip):
		out.Status, out.Detail = promote.StepSkipped, skip.detail
		return r.Record(p, out)
	case err != nil:
		out.Status, out.Detail = promote.StepFailed, err.Error()
		if jerr := r.Record(p, out); jerr != nil {
			return errors.Join(err, jerr) // the attempt ends: the journal does not know the outcome
		}
		return err
	}
	out.Status = promote.StepDone
	if detail != "" {
		out.Detail = detail
	}
	return r.Record(p, out)
}

// Skip is what a step's call returns when it found nothing to do that it
// should do (detail says why): the step is journaled skipped, and Do
// returns nil.
func Skip(detail string) error { return skipped{detail} }

type skipped struct{ detail string }

func (s skipped) Error() string { return "skipped: " + s.detail }
