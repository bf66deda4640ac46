package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/record"
)

// With ha (two daemons, one lease per pair in the follower cluster):
// only the daemon that holds the pair's lease decides and acts; it first
// adopts the state the previous holder published, applies the commands
// other daemons queued for it, and publishes its state and a promotion's
// progress after every change. A standby observes (its own status and
// metrics), shows the holder's published decision, and passes the
// commands its API receives to the holder.

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

// maxAnswers bounds the answers to forwarded commands the holder publishes.
const maxAnswers = 20

// maxStuck is how many cycles a holder that cannot act (it cannot take
// up the shared state, or journal) keeps the lease before it gives it up
// (ha.Lease.Yield).
const maxStuck = 3

// haState is a pair's lease-related live state (in its Runtime: it
// outlives watchers).
type haState struct {
	term int64 // the term this daemon acts under; 0: standby
	// adopted is the last term this daemon took the shared state up in:
	// a holder that lost the lease for a moment and holds it again in
	// the same term goes on from its own journal - it made this term's
	// steps itself - and never adopts the publication again (which may
	// lag behind them).
	adopted int64
	// stuck counts the cycles in a row that held the lease but could
	// not act (the shared state not taken up, the journal unwritable).
	stuck   int
	mirror  *ha.Published
	mstate  *policy.State // mirror's state, decoded
	readErr error         // the last read of the published state, failed
	answers []ha.Answer
	inbox   error // the last read of the inbox, failed
	// published is what was published last (not written again).
	published string
	// running is set while this daemon's executor runs a promotion: prom
	// is then the copy of it publish reads (the executor changes the
	// promotion without the pair's lock; it copies it after each step).
	running bool
	prom    *sharedPromotion
}

// snapshotOf copies a promotion for publishing.
func snapshotOf(p *promote.Promotion) *sharedPromotion {
	cp := *p
	cp.Plan = maps.Clone(p.Plan)
	cp.Steps = slices.Clone(p.Steps)
	return &sharedPromotion{Promotion: &cp, Steps: cp.Steps}
}

// StepsJournaled is called by the executor's journal (ha.Gate) after each
// step: the promotion's progress is copied and published soon.
func (rt *Runtime) StepsJournaled(p *promote.Promotion) {
	rt.mu.Lock()
	rt.ha.prom = snapshotOf(p)
	rt.mu.Unlock()
	rt.kickPublish()
}

// kickPublish asks the publish loop to publish the pair's state soon.
func (rt *Runtime) kickPublish() {
	select {
	case rt.pubKick <- struct{}{}:
	default:
	}
}

// sharedPromotion is a promotion as it is published: with its steps.
type sharedPromotion struct {
	*promote.Promotion
	Steps []promote.Step `json:"steps"`
}

// acting reports whether this daemon acts for the pair now, and under
// which term: always without ha; with it, while it holds the lease and
// has adopted the shared state in this term.
func (w *Watcher) acting() (int64, bool) {
	if w.ha == nil {
		return 0, true
	}
	term, held := w.ha.Lease.Held()
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	return term, held && term == w.rt.ha.term
}

// actingLocked is acting for a caller that holds the pair's lock.
func (w *Watcher) actingLocked() bool {
	if w.ha == nil {
		return true
	}
	term, held := w.ha.Lease.Held()
	return held && term == w.rt.ha.term
}

// haBound is the time a shared-state request may take within a cycle.
func (w *Watcher) haBound() time.Duration {
	return min(max(w.interval, time.Second), 5*time.Second)
}

// takeHA is the lease's part of a cycle: false on a standby (nothing is
// decided); on the holder, the shared state is adopted at the start of a
// term and the queued commands applied, before the cycle decides.
func (w *Watcher) takeHA(ctx context.Context) bool {
	term, held := w.ha.Lease.Held()
	w.rt.mu.Lock()
	was := w.rt.ha.term
	if !held {
		w.rt.ha.term = 0
	}
	w.rt.mu.Unlock()
	if !held {
		if was != 0 {
			w.log.Warn("this daemon no longer holds the pair's lease: standby, it acts no more", zap.Int64("term", was),
				zap.String("holder", w.ha.Lease.Status().Holder))
		}
		return false
	}
	w.rt.mu.Lock()
	again := was != term && w.rt.ha.adopted == term
	if again {
		w.rt.ha.term = term
		was = term
	}
	w.rt.mu.Unlock()
	if again {
		w.log.Warn("holds the pair's lease again in the same term: acting on its own journal", zap.Int64("term", term))
	}
	if was != term {
		rctx, cancel := context.WithTimeout(ctx, w.haBound())
		err := w.adopt(rctx, term)
		cancel()
		if err != nil {
			w.log.Error("holds the lease but cannot take up the shared state: not acting until it can", zap.Int64("term", term), zap.Error(err))
			w.stuck(ctx, "it cannot take up the shared state")
			return false
		}
	}
	w.rt.mu.RLock()
	jerr := w.rt.journalErr
	w.rt.mu.RUnlock()
	if jerr != nil {
		// It decides in memory, promotes nothing and shares nothing until
		// its journal is writable: the other daemon may do better.
		w.stuck(ctx, "its journal is unwritable")
	} else {
		w.rt.mu.Lock()
		w.rt.ha.stuck = 0
		w.rt.mu.Unlock()
	}
	rctx, cancel := context.WithTimeout(ctx, w.haBound())
	w.applyInbox(rctx)
	cancel()
	return true
}

// stuck counts a cycle in which the holder cannot act, and gives the
// lease up after maxStuck of them in a row: a daemon that cannot act must
// not keep the other from it.
func (w *Watcher) stuck(ctx context.Context, why string) {
	w.rt.mu.Lock()
	w.rt.ha.stuck++
	n := w.rt.ha.stuck
	if n >= maxStuck {
		w.rt.ha.stuck = 0
	}
	w.rt.mu.Unlock()
	if n < maxStuck {
		return
	}
	yctx, cancel := context.WithTimeout(ctx, w.haBound())
	err := w.ha.Lease.Yield(yctx, 0)
	cancel()
	if err != nil {
		w.log.Error("cannot give the pair's lease up ("+why+"): it expires unrenewed only if this daemon's rounds fail", zap.Error(err))
		return
	}
	w.log.Error("gave the pair's lease up: "+why+"; the other daemon may act (this one does not take it back for two TTLs)", zap.Int("cycles", n))
}

// adopt starts term: the state and promotion the previous holder
// published become this daemon's (journaled), unless this daemon's
// journal published last itself (it is as new).
func (w *Watcher) adopt(ctx context.Context, term int64) error {
	pub, found, err := w.ha.Shared.Read(ctx)
	if err != nil {
		return err
	}
	w.rt.mu.Lock()
	defer w.rt.mu.Unlock()
	if !found || (pub.Instance != "" && pub.Instance == w.ha.Instance) {
		if found && len(w.rt.ha.answers) == 0 {
			w.rt.ha.answers = slices.Clone(pub.Answers) // after a restart
		}
		w.rt.ha.term, w.rt.ha.adopted = term, term
		w.log.Warn("took the pair's lease: acting for it", zap.Int64("term", term), zap.Bool("own_state", true))
		return nil
	}
	var st policy.State
	if err := json.Unmarshal(pub.State, &st); err != nil {
		return fmt.Errorf("the state %s published is not drwatch's: %w", pub.Holder, err)
	}
	st = policy.Upgrade(st)
	var prom *promote.Promotion
	if len(pub.Promotion) > 0 && string(pub.Promotion) != "null" {
		var sp sharedPromotion
		if err := json.Unmarshal(pub.Promotion, &sp); err != nil || sp.Promotion == nil {
			return fmt.Errorf("the promotion %s published is not drwatch's: %v", pub.Holder, err)
		}
		prom = sp.Promotion
		promote.UpgradeSteps(sp.Steps) // published by an earlier version
		if err := w.adoptSteps(prom, sp.Steps, pub.Term); err != nil {
			return err
		}
	}
	old := w.rt.rec.State
	now := w.now()
	if !pub.At.IsZero() {
		// The publisher's deadlines, in its clock: the time left is
		// kept in this one's. The evidence's times (an outage's start,
		// the witness's) stay in the publisher's clock: a skew between
		// the hosts moves them by as much (docs/ha.md, limits).
		st = st.ShiftDeadlines(now.Sub(pub.At))
	}
	next := *w.rt.rec
	next.State, next.Promotion = st, prom
	why := fmt.Sprintf("took over the lease in term %d: adopted the state %s published in term %d", term, pub.Holder, pub.Term)
	next.History = append(slices.Clone(w.rt.rec.History), journal.Transition{At: now, From: old.Phase, To: st.Phase, Reasons: []string{why}})
	if err := w.journal.Save(&next); err != nil {
		return fmt.Errorf("journal the adopted state: %w", err)
	}
	*w.rt.rec = next
	w.rt.ha.term, w.rt.ha.adopted = term, term
	// The commands answered are those the adopted state holds: one this
	// daemon answered in an earlier term but could not publish is
	// applied again.
	w.rt.ha.answers = slices.Clone(pub.Answers)
	w.recordLocked(record.Started(now, st, w.pair.Resolved, false, record.WhyWatcher))
	w.stateMetrics(&st)
	w.log.Warn("took the pair's lease: acting for it", zap.Int64("term", term), zap.String("previous_holder", pub.Holder),
		zap.String("state", string(st.Phase)), zap.Bool("promotion", prom != nil))
	return nil
}

// adoptSteps journals the published steps of prom that this daemon's
// journal lacks (its own record of an earlier term may hold a prefix).
// A local record with steps of a term after the publication's is newer
// than it: kept whole (within a term no done step is lost).
func (w *Watcher) adoptSteps(prom *promote.Promotion, steps []promote.Step, pubTerm int64) error {
	have := 0
	if local := w.rt.rec.Promotion; local != nil && local.ID == prom.ID {
		prom.Steps = local.Steps
		if slices.ContainsFunc(local.Steps, func(s promote.Step) bool { return s.Term > pubTerm }) {
			return nil
		}
		if len(local.Steps) > len(steps) || !slices.EqualFunc(local.Steps, steps[:len(local.Steps)], sameStep) {
			// This daemon's record went another way (it went on alone,
			// frozen): the published steps, of a later term, replace it.
			if err := w.journal.ReplaceSteps(w.pair.Name, prom, steps...); err != nil {
				return fmt.Errorf("journal the adopted promotion's steps: %w", err)
			}
			return nil
		}
		have = len(local.Steps) // the published steps go on from this journal's
	}
	if have >= len(steps) {
		return nil
	}
	if err := w.journal.AppendSteps(w.pair.Name, prom, steps[have:]...); err != nil {
		return fmt.Errorf("journal the adopted promotion's steps: %w", err)
	}
	return nil
}

func sameStep(a, b promote.Step) bool {
	return a.Name == b.Name && a.Target == b.Target && a.Status == b.Status && a.Detail == b.Detail && a.At.Equal(b.At) && a.Term == b.Term
}

// applyInbox applies the commands other daemons queued for the holder,
// once each (an answered id is only acknowledged again), and
// acknowledges them. A command that could not be applied for want of a
// journal stays queued.
func (w *Watcher) applyInbox(ctx context.Context) bool {
	w.rt.inboxMu.Lock()
	defer w.rt.inboxMu.Unlock()
	cmds, err := w.ha.Shared.Pending(ctx)
	w.rt.mu.Lock()
	before := w.rt.ha.inbox
	w.rt.ha.inbox = err
	w.rt.mu.Unlock()
	if err != nil {
		if before == nil {
			w.log.Error("cannot read the commands queued for the lease holder", zap.Error(err))
		}
		return false
	}
	var done []string
	for _, sc := range cmds {
		if _, answered := w.answer(sc.ID); answered {
			done = append(done, sc.ID)
			continue
		}
		ans := ha.Answer{ID: sc.ID}
		var c policy.Command
		if err := json.Unmarshal(sc.Body, &c); err != nil || c.Action != sc.Action {
			ans.Error = fmt.Sprintf("not a drwatch command (%v): dropped", err)
		} else if err := w.applyForwarded(c, sc.At); err != nil {
			if !errors.Is(err, policy.ErrConflict) {
				// It and those after it stay queued, in their order.
				w.log.Error("a queued command could not be applied: it and those after it stay queued", zap.String("id", sc.ID), zap.Error(err))
				break
			}
			ans.Error, ans.Conflict = err.Error(), true
		}
		w.log.Warn("applied a command", zap.String("action", sc.Action), zap.String("via", sc.Via),
			zap.String("by", c.By), zap.String("reason", c.Reason), zap.String("refused", ans.Error))
		w.rt.mu.Lock()
		w.rt.ha.answers = append(w.rt.ha.answers, ans)
		if n := len(w.rt.ha.answers); n > maxAnswers {
			w.rt.ha.answers = slices.Clone(w.rt.ha.answers[n-maxAnswers:])
		}
		w.rt.mu.Unlock()
		done = append(done, sc.ID)
	}
	if len(done) == 0 {
		return true
	}
	// Acknowledged only once published: a command leaves the queue when
	// the state it changed is what a takeover adopts.
	if err := w.publish(ctx); err != nil {
		return false
	}
	if err := w.ha.Shared.Ack(ctx, done...); err != nil {
		w.log.Error("cannot acknowledge the queued commands applied (they are answered: not applied again)", zap.Error(err))
	}
	return true
}

// answer is the holder's answer to command id, if it gave one.
func (w *Watcher) answer(id string) (ha.Answer, bool) {
	w.rt.mu.RLock()
	defer w.rt.mu.RUnlock()
	i := slices.IndexFunc(w.rt.ha.answers, func(a ha.Answer) bool { return a.ID == id })
	if i < 0 {
		return ha.Answer{}, false
	}
	return w.rt.ha.answers[i], true
}

// commandHeld is a command the lease holder receives: recorded in the
// inbox first, then applied as a queued one, and answered once the state
// it made is published (a takeover adopts it, or applies the command
// from the inbox).
func (w *Watcher) commandHeld(c policy.Command) (policy.State, error) {
	w.rt.mu.RLock()
	st := w.rt.rec.State
	w.rt.mu.RUnlock()
	if _, err := c.Apply(st, w.now()); err != nil {
		return st, err // refused by the state: nothing queued
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := w.send(ctx, c)
	if err != nil {
		// The write may have landed with its answer lost: the inbox says.
		if queued, qerr := w.queued(ctx, id); qerr != nil {
			return st, fmt.Errorf("%w: %v; whether it was recorded is not known (%v): if it was, the lease holder applies it at its next cycle - check the status before sending it again (id %s)", ErrUnshared, err, qerr, id)
		} else if !queued {
			return st, fmt.Errorf("%w: %v; nothing was applied (this daemon holds the lease, but acts only on what both daemons can see)", ErrUnshared, err)
		}
	}
	published := w.applyInbox(ctx)
	a, answered := w.answer(id)
	w.rt.mu.RLock()
	st = w.rt.rec.State
	w.rt.mu.RUnlock()
	switch {
	case !answered:
		return st, fmt.Errorf("%w: recorded in the follower cluster but not applied yet (see the log); the lease holder applies it at its next cycle (id %s)", ErrQueued, id)
	case a.Conflict:
		return st, fmt.Errorf("%w: %s", policy.ErrConflict, a.Error)
	case a.Error != "":
		return st, errors.New(a.Error)
	case !published:
		return st, fmt.Errorf("%w: applied by this daemon (the lease holder) but not yet shared with the other daemon; it stays queued in the follower cluster until it is, so that a takeover applies it too (id %s)", ErrQueued, id)
	}
	return st, nil
}

// queued reports whether command id is in the pair's inbox.
func (w *Watcher) queued(ctx context.Context, id string) (bool, error) {
	cmds, err := w.ha.Shared.Pending(ctx)
	return slices.ContainsFunc(cmds, func(c ha.Command) bool { return c.ID == id }), err
}

// send records a command in the pair's inbox, and returns its id.
func (w *Watcher) send(ctx context.Context, c policy.Command) (string, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return id, w.ha.Shared.Send(sctx, ha.Command{ID: id, At: time.Now().UTC(), Via: w.ha.Identity(), Action: c.Action, Body: body})
}

// applyForwarded applies a command taken from the inbox, as the API that
// received it would have (approve and promote refused where policy.Promotable
// refuses them).
//
// A pause for a time lasts for it from when it was asked (at): applied
// late, or again (a command may be handed out twice), it ends at the same
// time; one that ran out before it could be applied is refused.
func (w *Watcher) applyForwarded(c policy.Command, at time.Time) error {
	if c.Action == policy.ActApprove || c.Action == policy.ActPromote {
		if err := policy.Promotable(w.pair, policy.ByDaemon); err != nil {
			return err
		}
	}
	now := w.now()
	if (c.Action == policy.ActApprove || c.Action == policy.ActPromote) && c.ID == "" && !at.IsZero() &&
		now.Sub(at) > w.pair.Resolved.ApprovalTimeout.D() {
		// An approval that names no request, queued longer ago than an
		// approval request lasts: it was meant for a situation that is
		// gone, and would approve whatever is pending now.
		return fmt.Errorf("%w: the %s names no request and was asked at %s, longer ago than approval_timeout %s: not applied; ask again",
			policy.ErrConflict, c.Action, at.Format(time.RFC3339), w.pair.Resolved.ApprovalTimeout)
	}
	if c.Action == policy.ActPause && c.For > 0 && !at.IsZero() {
		if c.For = at.Add(c.For).Sub(now); c.For <= 0 {
			return fmt.Errorf("%w: the pause had run out (asked at %s) before the lease holder could apply it", policy.ErrConflict, at.Format(time.RFC3339))
		}
	}
	_, err := w.commandAt(c.Apply, c.By, &c, now)
	return err
}

// publish writes the pair's state and promotion to the shared state,
// when it changed since the last publish (holder only).
func (w *Watcher) publish(ctx context.Context) error {
	if w.ha == nil {
		return nil
	}
	w.rt.pubMu.Lock()
	defer w.rt.pubMu.Unlock()
	w.rt.mu.RLock()
	term := w.rt.ha.term
	state, err := json.Marshal(w.rt.rec.State)
	var prom []byte
	switch p := w.rt.rec.Promotion; {
	case err != nil || p == nil:
	case w.rt.ha.running:
		if sp := w.rt.ha.prom; sp != nil && sp.ID == p.ID {
			prom, err = json.Marshal(sp)
		}
	default:
		prom, err = json.Marshal(sharedPromotion{Promotion: p, Steps: p.Steps})
	}
	answers := slices.Clone(w.rt.ha.answers)
	last := w.rt.ha.published
	jerr := w.rt.journalErr
	w.rt.mu.RUnlock()
	if err != nil {
		return err
	}
	if jerr != nil {
		// What both daemons see is only what this one journaled: a state
		// kept in memory (an unwritable journal) is not shared, and the
		// commands it holds stay queued.
		return fmt.Errorf("not published while the journal is unwritable: %w", jerr)
	}
	// Never written once this daemon's window is over (it may have been
	// frozen, and a standby may hold the next term by now); the write
	// itself ends with the window.
	if cur, acting := w.acting(); !acting || term == 0 || cur != term {
		return fmt.Errorf("%w: not published (this daemon's lease window is over)", ErrStandby)
	}
	ctx, cancel := context.WithDeadline(ctx, w.ha.Lease.Window())
	defer cancel()
	key, _ := json.Marshal([]any{term, json.RawMessage(state), json.RawMessage(orNull(prom)), answers})
	if string(key) == last {
		return nil
	}
	err = w.ha.Shared.Publish(ctx, ha.Published{Holder: w.ha.Identity(), Instance: w.ha.Instance, Term: term, At: w.now().UTC(), State: state, Promotion: prom, Answers: answers})
	if err != nil {
		w.log.Error("cannot publish the pair's state to the other daemon", zap.Error(err))
		return err
	}
	// A write confirmed after the window proves nothing: a standby may
	// have taken over and read the state before it landed.
	if cur, acting := w.acting(); !acting || cur != term {
		return fmt.Errorf("%w: the publish was confirmed after this daemon's lease window", ErrStandby)
	}
	w.rt.mu.Lock()
	w.rt.ha.published = string(key)
	w.rt.mu.Unlock()
	return nil
}

func orNull(b []byte) []byte {
	if b == nil {
		return []byte("null")
	}
	return b
}

// PublishNow publishes the pair's state now, if this daemon holds its
// lease (at shutdown, before the lease is released: a promotion's outcome
// is what the standby adopts).
func (w *Watcher) PublishNow(ctx context.Context) error {
	if w.ha == nil {
		return nil
	}
	if _, acting := w.acting(); !acting {
		return nil
	}
	return w.publish(ctx)
}

// publishLoop publishes a promotion's progress as its steps are
// journaled (ha.Gate's After kicks it), until ctx ends.
func (w *Watcher) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.rt.pubKick:
			pctx, cancel := context.WithTimeout(ctx, w.haBound())
			_ = w.publish(pctx)
			cancel()
		}
	}
}

// standby is a standby's cycle: its own observation (status, metrics,
// logs) and the holder's published state, read for the status; nothing
// is decided or done.
func (w *Watcher) standby(ctx context.Context, obs observe.Observation) {
	w.rt.mu.Lock()
	prev := w.rt.last
	w.rt.last = &obs
	w.rt.cycles++
	w.rt.mu.Unlock()
	w.metrics.Observe(obs)
	w.logChanges(prev, obs)
	rctx, cancel := context.WithTimeout(ctx, w.haBound())
	pub, found, err := w.ha.Shared.Read(rctx)
	cancel()
	var st *policy.State
	if err == nil && found {
		var s policy.State
		if uerr := json.Unmarshal(pub.State, &s); uerr != nil {
			err = fmt.Errorf("the state %s published is not drwatch's: %w", pub.Holder, uerr)
		} else {
			st = &s
		}
	}
	w.rt.mu.Lock()
	w.rt.ha.readErr = err
	if err == nil && found {
		w.rt.ha.mirror, w.rt.ha.mstate = &pub, st
	}
	shown := w.rt.ha.mstate
	w.rt.mu.Unlock()
	if shown != nil {
		w.stateMetrics(shown)
	}
}

// forward passes a command this standby's API received to the holder,
// through the inbox in the follower cluster, and waits (a few cycles at
// most) for the holder's answer: the state after it, a refusal, or
// ErrQueued.
func (w *Watcher) forward(c policy.Command) (policy.State, error) {
	w.rt.mu.RLock()
	st := w.rt.rec.State
	if w.rt.ha.mstate != nil {
		st = *w.rt.ha.mstate
	}
	w.rt.mu.RUnlock()
	holder := w.ha.Lease.Status().Holder
	if holder == "" {
		holder = "no daemon yet"
	}
	// Refused at once where the holder's published state refuses it.
	if _, err := c.Apply(st, w.now()); err != nil {
		return st, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := w.send(ctx, c)
	if err != nil {
		return st, fmt.Errorf("%w (%s holds the lease): the command could not be passed to it through the follower cluster: %v; it was most likely not queued (look at the status before sending it again)", ErrStandby, holder, err)
	}
	w.log.Warn("passed a command to the lease holder", zap.String("action", c.Action), zap.String("by", c.By), zap.String("holder", holder), zap.String("id", id))
	wait := min(max(3*w.interval, 5*time.Second), 15*time.Second)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		pub, found, err := w.ha.Shared.Read(ctx)
		if err != nil || !found {
			continue
		}
		i := slices.IndexFunc(pub.Answers, func(a ha.Answer) bool { return a.ID == id })
		if i < 0 {
			continue
		}
		var after policy.State
		if err := json.Unmarshal(pub.State, &after); err != nil {
			after = st
		}
		switch a := pub.Answers[i]; {
		case a.Error == "":
			return after, nil
		case a.Conflict:
			return after, fmt.Errorf("%w: %s (answered by %s, the lease holder)", policy.ErrConflict, a.Error, pub.Holder)
		default:
			return after, fmt.Errorf("the lease holder %s did not apply it: %s", pub.Holder, a.Error)
		}
	}
	return st, fmt.Errorf("%w: this daemon is standby and passed the command to %s, which has not answered within %s; it applies it at its next cycle (id %s)", ErrQueued, holder, wait, id)
}
