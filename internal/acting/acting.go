// Package acting answers the question a pair's watcher asks before it
// decides or changes anything: may this daemon act for the pair now, and
// under which term. A Role answers it: Single for a daemon that watches
// the pair alone (it always acts, term 0), HA for two daemons sharing
// the pair through a lease in its follower cluster (internal/ha).
//
// The watcher runs the same cycle either way: Begin says whether this
// daemon decides in it (an HA standby only observes, and shows the
// holder's published state), Publish shares what changed, Command takes a
// human's command wherever it arrives, Acting and Confirm are the checks
// before a change. It never asks whether HA is on.
package acting

import (
	"context"
	"errors"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/report"
)

// ErrQueued is a command recorded in the pair's inbox that is not yet
// applied and shared (an HTTP 202): it stays queued, and whichever daemon
// holds the lease applies it.
var ErrQueued = errors.New("queued for the lease holder")

// ErrStandby wraps what a standby refuses to do itself.
var ErrStandby = errors.New("this daemon is standby for the pair")

// ErrUnshared is a command the lease holder could not record in the
// follower cluster (an HTTP 503): it is not applied now; its error says
// whether it may have been recorded all the same.
var ErrUnshared = errors.New("the command could not be recorded in the follower cluster")

// Role is this daemon's part in acting for one pair. Acting, Shown and
// Report are called with the pair's lock held: a Role never takes it
// while it holds its own (it calls its Pair only without its own lock).
type Role interface {
	// Acting reports the term this daemon acts under for the pair now,
	// or why it does not (an error wrapping ErrStandby that names the
	// holder). Alone: always, term 0. It sends no request.
	Acting() (term int64, err error)
	// Confirm is the fencing check before a change outside a promotion's
	// journaled steps (fencing a returning leader, a drill's restore):
	// this daemon acts and, with a lease, holds it confirmed in the
	// follower cluster now.
	Confirm(ctx context.Context) error
	// Bound bounds ctx by the window in which this daemon may act: a call
	// made with it is never sent after the window.
	Bound(ctx context.Context) (context.Context, context.CancelFunc)
	// Begin starts a cycle and reports whether this daemon decides in
	// it. A holder first takes up the shared state at the start of its
	// term and applies the commands queued for it.
	Begin(ctx context.Context, p Pair) bool
	// Follow is the rest of a cycle in which this daemon does not decide
	// (Begin said so), once the watcher has shown its own observation: it
	// reads what the deciding daemon published (Shown).
	Follow(ctx context.Context, p Pair)
	// Publish shares the pair's state with the other daemon, when this
	// daemon acts and the state changed since it last did.
	Publish(ctx context.Context, p Pair) error
	// Kick asks Run to publish soon (a promotion's step or outcome was
	// journaled).
	Kick()
	// Run publishes on every Kick until ctx ends.
	Run(ctx context.Context, p Pair)
	// Command applies a human's command, wherever it arrived: alone, at
	// once; on a holder, through the pair's inbox; on a standby, passed
	// to the holder, whose answer it waits for.
	Command(p Pair, c policy.Command) (policy.State, error)
	// Shown is the state a daemon that does not act shows (the holder's,
	// as published); nil: its own.
	Shown() *policy.State
	// Report is the role's part of the pair's status (nil alone) and the
	// problems it adds to the status's.
	Report() (*report.HA, []string)
}

// Pair is what a Role needs of the pair's watcher. Its methods take the
// pair's lock themselves: a Role calls them without its own held.
type Pair interface {
	// Config is the pair's config (its resolved policy).
	Config() *config.Pair
	// Now is the watcher's clock.
	Now() time.Time
	// Interval is the pair's probe interval.
	Interval() time.Duration
	// Shared is what the pair's state is, to publish: its state, a copy
	// of its promotion with its steps (nil: none), and the journal's last
	// write failure (nil: the journal holds the state).
	Shared() (policy.State, *promote.Promotion, error)
	// Take replaces the pair's record with what f makes of it, under the
	// pair's lock: f gets the record as it is (not to change), journals
	// what it makes and returns it (nil: the record stays as it is). The
	// record taken is then the decision core's: recorded and shown.
	Take(f func(rec *journal.Record) (*journal.Record, error)) error
	// Apply applies a command as of now (zero: the watcher's clock),
	// journaled and recorded as any command.
	Apply(c policy.Command, now time.Time) (policy.State, error)
	// Show sets the decision series of st (a standby shows the holder's).
	Show(st *policy.State)
}

// Single is a daemon that watches the pair alone: it always acts, under
// term 0, and shares nothing.
type Single struct{}

var _ Role = Single{}

func (Single) Acting() (int64, error)           { return 0, nil }
func (Single) Confirm(context.Context) error    { return nil }
func (Single) Begin(context.Context, Pair) bool { return true }
func (Single) Follow(context.Context, Pair)     {}
func (Single) Publish(context.Context, Pair) error {
	return nil
}
func (Single) Kick()                     {}
func (Single) Run(context.Context, Pair) {}
func (Single) Shown() *policy.State      { return nil }
func (Single) Report() (*report.HA, []string) {
	return nil, nil
}

func (Single) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}

func (Single) Command(p Pair, c policy.Command) (policy.State, error) {
	return p.Apply(c, time.Time{})
}
