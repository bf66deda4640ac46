package acting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/report"
)

// With HA (two daemons, one lease per pair in the follower cluster):
// only the daemon that holds the pair's lease decides and acts; it first
// adopts the state the previous holder published, applies the commands
// other daemons queued for it, and publishes its state and a promotion's
// progress after every change. A standby observes (its own status and
// metrics), shows the holder's published decision, and passes the
// commands its API receives to the holder (docs/ha.md).

// maxAnswers bounds the answers to forwarded commands the holder publishes.
const maxAnswers = 20

// MaxStuck is how many cycles a holder that cannot act (it cannot take
// up the shared state, or journal) keeps the lease before it gives it up
// (ha.Lease.Yield).
const MaxStuck = 3

// StepJournal is where a promotion's steps and a pair's record are
// journaled (*journal.Journal).
type StepJournal interface {
	AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error
	ReplaceSteps(pair string, p *promote.Promotion, steps ...promote.Step) error
}

// HA is one daemon's part in a pair shared with another through the
// pair's lease (ha.Node). It outlives the pair's watchers: a reload
// replaces the watcher, not the term it acts under.
type HA struct {
	node    *ha.Node
	journal StepJournal
	log     *zap.Logger

	mu   sync.RWMutex
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

	pubMu   sync.Mutex // serialises publishes
	inboxMu sync.Mutex // serialises applying the inbox
	kick    chan struct{}
}

var _ Role = (*HA)(nil)

// NewHA is this daemon's part in the pair of node's lease; j journals
// the steps of a promotion it adopts.
func NewHA(node *ha.Node, j StepJournal, log *zap.Logger) *HA {
	return &HA{node: node, journal: j, log: log, kick: make(chan struct{}, 1)}
}

// PublishedPromotion is a promotion as it is published: with its steps.
type PublishedPromotion struct {
	*promote.Promotion
	Steps []promote.Step `json:"steps"`
}

// Journal is j behind the lease's fencing check (ha.Gate): every step
// journaled with the promotion's term, a started one only while this
// daemon's lease is confirmed. copied is told each promotion journaled
// (the watcher keeps a copy to publish), and the copy is published soon.
func (h *HA) Journal(j ha.StepJournal, copied func(*promote.Promotion)) ha.StepJournal {
	return ha.Gate{Journal: j, Lease: h.node.Lease, After: func(p *promote.Promotion) {
		copied(p)
		h.Kick()
	}}
}

// Window is the end of this daemon's window to act (ha.Lease.Window),
// which every executor call is bounded by.
func (h *HA) Window() time.Time { return h.node.Lease.Window() }

// actingNow reports whether this daemon holds the lease and has taken
// the shared state up in its term; h.mu is held by the caller.
func (h *HA) actingNow() (int64, bool) {
	term, held := h.node.Lease.Held()
	return term, held && term == h.term
}

// Acting is the term this daemon acts under: while it holds the lease
// and has adopted the shared state in this term.
func (h *HA) Acting() (int64, error) {
	h.mu.RLock()
	term, ok := h.actingNow()
	h.mu.RUnlock()
	if !ok {
		return 0, h.refusal()
	}
	return term, nil
}

// refusal is what this daemon answers while it does not act.
func (h *HA) refusal() error {
	if holder := h.node.Lease.Status().Holder; holder != "" {
		return fmt.Errorf("%w (%s holds the lease)", ErrStandby, holder)
	}
	return fmt.Errorf("%w (no daemon is known to hold the lease yet)", ErrStandby)
}

func (h *HA) holder() string {
	if holder := h.node.Lease.Status().Holder; holder != "" {
		return holder
	}
	return "no daemon yet"
}

// Confirm is Acting, then the lease confirmed in the follower cluster
// now (ha.Lease.Check).
func (h *HA) Confirm(ctx context.Context) error {
	term, err := h.Acting()
	if err != nil {
		return err
	}
	return h.node.Lease.Check(ctx, term)
}

// Bound bounds ctx by this daemon's lease window.
func (h *HA) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, h.node.Lease.Window())
}

// bound is the time a shared-state request may take within a cycle.
func bound(p Pair) time.Duration {
	return min(max(p.Interval(), time.Second), 5*time.Second)
}

// Begin is the lease's part of a cycle: false on a standby (nothing is
// decided; Follow reads the holder's published state); on the holder,
// the shared state is adopted at the start of a term and the queued
// commands applied, before the cycle decides.
func (h *HA) Begin(ctx context.Context, p Pair) bool {
	term, held := h.node.Lease.Held()
	h.mu.Lock()
	was := h.term
	if !held {
		h.term = 0
	}
	h.mu.Unlock()
	if !held {
		if was != 0 {
			h.log.Warn("this daemon no longer holds the pair's lease: standby, it acts no more", zap.Int64("term", was),
				zap.String("holder", h.node.Lease.Status().Holder))
		}
		return false
	}
	h.mu.Lock()
	again := was != term && h.adopted == term
	if again {
		h.term = term
		was = term
	}
	h.mu.Unlock()
	if again {
		h.log.Warn("holds the pair's lease again in the same term: acting on its own journal", zap.Int64("term", term))
	}
	if was != term {
		rctx, cancel := context.WithTimeout(ctx, bound(p))
		err := h.Adopt(rctx, p, term)
		cancel()
		if err != nil {
			h.log.Error("holds the lease but cannot take up the shared state: not acting until it can", zap.Int64("term", term), zap.Error(err))
			h.stuckCycle(ctx, p, "it cannot take up the shared state")
			return false
		}
	}
	if _, _, jerr := p.Shared(); jerr != nil {
		// It decides in memory, promotes nothing and shares nothing until
		// its journal is writable: the other daemon may do better.
		h.stuckCycle(ctx, p, "its journal is unwritable")
	} else {
		h.mu.Lock()
		h.stuck = 0
		h.mu.Unlock()
	}
	rctx, cancel := context.WithTimeout(ctx, bound(p))
	h.applyInbox(rctx, p)
	cancel()
	return true
}

// stuckCycle counts a cycle in which the holder cannot act, and gives
// the lease up after MaxStuck of them in a row: a daemon that cannot act
// must not keep the other from it.
func (h *HA) stuckCycle(ctx context.Context, p Pair, why string) {
	h.mu.Lock()
	h.stuck++
	n := h.stuck
	if n >= MaxStuck {
		h.stuck = 0
	}
	h.mu.Unlock()
	if n < MaxStuck {
		return
	}
	yctx, cancel := context.WithTimeout(ctx, bound(p))
	err := h.node.Lease.Yield(yctx, 0)
	cancel()
	if err != nil {
		h.log.Error("cannot give the pair's lease up ("+why+"): it expires unrenewed only if this daemon's rounds fail", zap.Error(err))
		return
	}
	h.log.Error("gave the pair's lease up: "+why+"; the other daemon may act (this one does not take it back for two TTLs)", zap.Int("cycles", n))
}

// Adopt starts term: the state and promotion the previous holder
// published become this daemon's (journaled), unless this daemon's
// journal published last itself (it is as new).
func (h *HA) Adopt(ctx context.Context, p Pair, term int64) error {
	pub, found, err := h.node.Shared.Read(ctx)
	if err != nil {
		return err
	}
	if !found || (pub.Instance != "" && pub.Instance == h.node.Instance) {
		h.mu.Lock()
		if found && len(h.answers) == 0 {
			h.answers = slices.Clone(pub.Answers) // after a restart
		}
		h.term, h.adopted = term, term
		h.mu.Unlock()
		h.log.Warn("took the pair's lease: acting for it", zap.Int64("term", term), zap.Bool("own_state", true))
		return nil
	}
	var st policy.State
	if err := json.Unmarshal(pub.State, &st); err != nil {
		return fmt.Errorf("the state %s published is not drwatch's: %w", pub.Holder, err)
	}
	st = policy.Upgrade(st)
	var prom *promote.Promotion
	var steps []promote.Step
	if len(pub.Promotion) > 0 && string(pub.Promotion) != "null" {
		var sp PublishedPromotion
		if err := json.Unmarshal(pub.Promotion, &sp); err != nil || sp.Promotion == nil {
			return fmt.Errorf("the promotion %s published is not drwatch's: %v", pub.Holder, err)
		}
		prom, steps = sp.Promotion, sp.Steps
		promote.UpgradeSteps(steps) // published by an earlier version
	}
	// Not while a command is being applied: one applied to the record
	// this replaces must not be answered in the new term (it is applied
	// again from the inbox, to the adopted state).
	h.inboxMu.Lock()
	defer h.inboxMu.Unlock()
	err = p.Take(func(rec *journal.Record) (*journal.Record, error) {
		if prom != nil {
			if err := h.adoptSteps(rec, prom, steps, pub.Term); err != nil {
				return nil, err
			}
		}
		now := p.Now()
		if !pub.At.IsZero() {
			// The publisher's deadlines, in its clock: the time left is
			// kept in this one's. The evidence's times (an outage's start,
			// the witness's) stay in the publisher's clock: a skew between
			// the hosts moves them by as much (docs/ha.md, limits).
			st = st.ShiftDeadlines(now.Sub(pub.At))
		}
		next := *rec
		next.State, next.Promotion = st, prom
		why := fmt.Sprintf("took over the lease in term %d: adopted the state %s published in term %d", term, pub.Holder, pub.Term)
		next.History = append(slices.Clone(rec.History), journal.Transition{At: now, From: rec.State.Phase, To: st.Phase, Reasons: []string{why}})
		return &next, nil
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.term, h.adopted = term, term
	// The commands answered are those the adopted state holds: one this
	// daemon answered in an earlier term but could not publish is
	// applied again.
	h.answers = slices.Clone(pub.Answers)
	h.mu.Unlock()
	h.log.Warn("took the pair's lease: acting for it", zap.Int64("term", term), zap.String("previous_holder", pub.Holder),
		zap.String("state", st.Phase.String()), zap.Bool("promotion", prom != nil))
	return nil
}

// adoptSteps journals the published steps of prom that this daemon's
// journal (rec) lacks (its own record of an earlier term may hold a
// prefix). A local record with steps of a term after the publication's
// is newer than it: kept whole (within a term no done step is lost).
func (h *HA) adoptSteps(rec *journal.Record, prom *promote.Promotion, steps []promote.Step, pubTerm int64) error {
	pair := rec.Pair
	have := 0
	if local := rec.Promotion; local != nil && local.ID == prom.ID {
		prom.Steps = local.Steps
		if slices.ContainsFunc(local.Steps, func(s promote.Step) bool { return s.Term > pubTerm }) {
			return nil
		}
		if len(local.Steps) > len(steps) || !slices.EqualFunc(local.Steps, steps[:len(local.Steps)], sameStep) {
			// This daemon's record went another way (it went on alone,
			// frozen): the published steps, of a later term, replace it.
			if err := h.journal.ReplaceSteps(pair, prom, steps...); err != nil {
				return fmt.Errorf("journal the adopted promotion's steps: %w", err)
			}
			return nil
		}
		have = len(local.Steps) // the published steps go on from this journal's
	}
	if have >= len(steps) {
		return nil
	}
	if err := h.journal.AppendSteps(pair, prom, steps[have:]...); err != nil {
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
func (h *HA) applyInbox(ctx context.Context, p Pair) bool {
	h.inboxMu.Lock()
	defer h.inboxMu.Unlock()
	cmds, err := h.node.Shared.Pending(ctx)
	h.mu.Lock()
	before := h.inbox
	h.inbox = err
	h.mu.Unlock()
	if err != nil {
		if before == nil {
			h.log.Error("cannot read the commands queued for the lease holder", zap.Error(err))
		}
		return false
	}
	var done []string
	for _, sc := range cmds {
		if _, answered := h.answer(sc.ID); answered {
			done = append(done, sc.ID)
			continue
		}
		ans := ha.Answer{ID: sc.ID}
		var c policy.Command
		if err := json.Unmarshal(sc.Body, &c); err != nil || c.Action != sc.Action {
			ans.Error = fmt.Sprintf("not a drwatch command (%v): dropped", err)
		} else if err := applyForwarded(p, c, sc.At); err != nil {
			if !errors.Is(err, policy.ErrConflict) {
				// It and those after it stay queued, in their order.
				h.log.Error("a queued command could not be applied: it and those after it stay queued", zap.String("id", sc.ID), zap.Error(err))
				break
			}
			ans.Error, ans.Conflict = err.Error(), true
		}
		h.log.Warn("applied a command", zap.String("action", sc.Action), zap.String("via", sc.Via),
			zap.String("by", c.By), zap.String("reason", c.Reason), zap.String("refused", ans.Error))
		h.mu.Lock()
		h.answers = append(h.answers, ans)
		if n := len(h.answers); n > maxAnswers {
			h.answers = slices.Clone(h.answers[n-maxAnswers:])
		}
		h.mu.Unlock()
		done = append(done, sc.ID)
	}
	if len(done) == 0 {
		return true
	}
	// Acknowledged only once published: a command leaves the queue when
	// the state it changed is what a takeover adopts.
	if err := h.Publish(ctx, p); err != nil {
		return false
	}
	if err := h.node.Shared.Ack(ctx, done...); err != nil {
		h.log.Error("cannot acknowledge the queued commands applied (they are answered: not applied again)", zap.Error(err))
	}
	return true
}

// answer is the holder's answer to command id, if it gave one.
func (h *HA) answer(id string) (ha.Answer, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	i := slices.IndexFunc(h.answers, func(a ha.Answer) bool { return a.ID == id })
	if i < 0 {
		return ha.Answer{}, false
	}
	return h.answers[i], true
}

// Answered reports whether this daemon, as holder, has answered the
// queued command id (an answered command is never applied again).
func (h *HA) Answered(id string) bool {
	_, ok := h.answer(id)
	return ok
}

// Command applies a human's command: through the inbox on the holder
// (commandHeld), passed to the holder on a standby (forward), so that a
// command is never known to one daemon only.
func (h *HA) Command(p Pair, c policy.Command) (policy.State, error) {
	if _, err := h.Acting(); err != nil {
		return h.forward(p, c)
	}
	return h.commandHeld(p, c)
}

// commandHeld is a command the lease holder receives: recorded in the
// inbox first, then applied as a queued one, and answered once the state
// it made is published (a takeover adopts it, or applies the command
// from the inbox).
func (h *HA) commandHeld(p Pair, c policy.Command) (policy.State, error) {
	st, _, _ := p.Shared()
	if _, err := c.Apply(st, p.Now()); err != nil {
		return st, err // refused by the state: nothing queued
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := h.send(ctx, c)
	if err != nil {
		// The write may have landed with its answer lost: the inbox says.
		if queued, qerr := h.queued(ctx, id); qerr != nil {
			return st, fmt.Errorf("%w: %v; whether it was recorded is not known (%v): if it was, the lease holder applies it at its next cycle - check the status before sending it again (id %s)", ErrUnshared, err, qerr, id)
		} else if !queued {
			return st, fmt.Errorf("%w: %v; nothing was applied (this daemon holds the lease, but acts only on what both daemons can see)", ErrUnshared, err)
		}
	}
	published := h.applyInbox(ctx, p)
	a, answered := h.answer(id)
	st, _, _ = p.Shared()
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
func (h *HA) queued(ctx context.Context, id string) (bool, error) {
	cmds, err := h.node.Shared.Pending(ctx)
	return slices.ContainsFunc(cmds, func(c ha.Command) bool { return c.ID == id }), err
}

// send records a command in the pair's inbox, and returns its id.
func (h *HA) send(ctx context.Context, c policy.Command) (string, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return id, h.node.Shared.Send(sctx, ha.Command{ID: id, At: time.Now().UTC(), Via: h.node.Identity(), Action: c.Action, Body: body})
}

// applyForwarded applies a command taken from the inbox, as the API that
// received it would have (approve and promote refused where
// policy.Promotable refuses them).
//
// A pause for a time lasts for it from when it was asked (at): applied
// late, or again (a command may be handed out twice), it ends at the same
// time; one that ran out before it could be applied is refused.
func applyForwarded(p Pair, c policy.Command, at time.Time) error {
	cfg := p.Config()
	if c.Action == policy.ActApprove || c.Action == policy.ActPromote {
		if err := policy.Promotable(cfg, policy.ByDaemon); err != nil {
			return err
		}
	}
	now := p.Now()
	if (c.Action == policy.ActApprove || c.Action == policy.ActPromote) && c.ID == "" && !at.IsZero() &&
		now.Sub(at) > cfg.Resolved.ApprovalTimeout.D() {
		// An approval that names no request, queued longer ago than an
		// approval request lasts: it was meant for a situation that is
		// gone, and would approve whatever is pending now.
		return fmt.Errorf("%w: the %s names no request and was asked at %s, longer ago than approval_timeout %s: not applied; ask again",
			policy.ErrConflict, c.Action, at.Format(time.RFC3339), cfg.Resolved.ApprovalTimeout)
	}
	if c.Action == policy.ActPause && c.For > 0 && !at.IsZero() {
		if c.For = at.Add(c.For).Sub(now); c.For <= 0 {
			return fmt.Errorf("%w: the pause had run out (asked at %s) before the lease holder could apply it", policy.ErrConflict, at.Format(time.RFC3339))
		}
	}
	_, err := p.Apply(c, now)
	return err
}

// Publish writes the pair's state and promotion to the shared state,
// when it changed since the last publish (holder only); the write is
// bounded as any shared-state request of a cycle, and by the window.
func (h *HA) Publish(ctx context.Context, p Pair) error {
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	// The term first, then the state: a state read after the term was
	// set is the one adopted in it (Adopt sets the term after Take).
	h.mu.RLock()
	term := h.term
	answers := slices.Clone(h.answers)
	last := h.published
	h.mu.RUnlock()
	st, prom, jerr := p.Shared()
	state, err := json.Marshal(st)
	var promb []byte
	if err == nil && prom != nil {
		promb, err = json.Marshal(PublishedPromotion{Promotion: prom, Steps: prom.Steps})
	}
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
	if cur, err := h.Acting(); err != nil || term == 0 || cur != term {
		return fmt.Errorf("%w: not published (this daemon's lease window is over)", ErrStandby)
	}
	ctx, cancel := context.WithTimeout(ctx, bound(p))
	defer cancel()
	ctx, cancelWindow := context.WithDeadline(ctx, h.node.Lease.Window())
	defer cancelWindow()
	key, _ := json.Marshal([]any{term, json.RawMessage(state), json.RawMessage(orNull(promb)), answers})
	if string(key) == last {
		return nil
	}
	err = h.node.Shared.Publish(ctx, ha.Published{Holder: h.node.Identity(), Instance: h.node.Instance, Term: term, At: p.Now().UTC(), State: state, Promotion: promb, Answers: answers})
	if err != nil {
		h.log.Error("cannot publish the pair's state to the other daemon", zap.Error(err))
		return err
	}
	// A write confirmed after the window proves nothing: a standby may
	// have taken over and read the state before it landed.
	if cur, err := h.Acting(); err != nil || cur != term {
		return fmt.Errorf("%w: the publish was confirmed after this daemon's lease window", ErrStandby)
	}
	h.mu.Lock()
	h.published = string(key)
	h.mu.Unlock()
	return nil
}

func orNull(b []byte) []byte {
	if b == nil {
		return []byte("null")
	}
	return b
}

// Kick asks Run to publish the pair's state soon.
func (h *HA) Kick() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Run publishes a promotion's progress as its steps are journaled (the
// Journal's gate kicks it), until ctx ends.
func (h *HA) Run(ctx context.Context, p Pair) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
			pctx, cancel := context.WithTimeout(ctx, bound(p))
			_ = h.Publish(pctx, p)
			cancel()
		}
	}
}

// Follow is a standby's part of a cycle: the holder's published state,
// read for the status and the decision series; nothing is decided.
func (h *HA) Follow(ctx context.Context, p Pair) {
	rctx, cancel := context.WithTimeout(ctx, bound(p))
	pub, found, err := h.node.Shared.Read(rctx)
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
	h.mu.Lock()
	h.readErr = err
	if err == nil && found {
		h.mirror, h.mstate = &pub, st
	}
	shown := h.mstate
	h.mu.Unlock()
	if shown != nil {
		p.Show(shown)
	}
}

// forward passes a command this standby's API received to the holder,
// through the inbox in the follower cluster, and waits (a few cycles at
// most) for the holder's answer: the state after it, a refusal, or
// ErrQueued.
func (h *HA) forward(p Pair, c policy.Command) (policy.State, error) {
	st, _, _ := p.Shared()
	h.mu.RLock()
	if h.mstate != nil {
		st = *h.mstate
	}
	h.mu.RUnlock()
	holder := h.holder()
	// Refused at once where the holder's published state refuses it.
	if _, err := c.Apply(st, p.Now()); err != nil {
		return st, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := h.send(ctx, c)
	if err != nil {
		return st, fmt.Errorf("%w (%s holds the lease): the command could not be passed to it through the follower cluster: %v; it was most likely not queued (look at the status before sending it again)", ErrStandby, holder, err)
	}
	h.log.Warn("passed a command to the lease holder", zap.String("action", c.Action), zap.String("by", c.By), zap.String("holder", holder), zap.String("id", id))
	wait := min(max(3*p.Interval(), 5*time.Second), 15*time.Second)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		pub, found, err := h.node.Shared.Read(ctx)
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

// Shown is the state the holder published, on a daemon that does not
// act and has read it.
func (h *HA) Shown() *policy.State {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if _, ok := h.actingNow(); ok || h.mstate == nil {
		return nil
	}
	st := *h.mstate
	return &st
}

// Report is the lease in a pair's status: on a standby, who published
// the decision shown, and a lease or publication that cannot be read as
// a problem (this daemon would not act).
func (h *HA) Report() (*report.HA, []string) {
	ls := h.node.Lease.Status()
	r := &report.HA{Role: report.RoleStandby, Identity: h.node.Identity(), Holder: ls.Holder}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if _, ok := h.actingNow(); ok {
		r.Role, r.Term, r.ExpiresInSeconds = report.RoleHolder, ls.Term, ls.Expires.Seconds()
	}
	if ls.Err != nil {
		r.Error = ls.Err.Error()
	}
	if r.Role != report.RoleStandby {
		return r, nil
	}
	if m := h.mirror; m != nil && h.mstate != nil {
		r.PublishedBy, r.PublishedTerm, r.PublishedAt = m.Holder, m.Term, m.At // the decision shown
	}
	switch {
	case ls.Err != nil:
		return r, []string{"ha: this daemon cannot confirm the pair's lease in the follower cluster, so it does not act for the pair (" + ls.Err.Error() + ")"}
	case h.readErr != nil:
		return r, []string{"ha: the holder's published state cannot be read (" + h.readErr.Error() + "): the decision shown is this daemon's own, from before"}
	}
	return r, nil
}
