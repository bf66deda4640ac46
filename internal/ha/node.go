package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/drwatch/drwatch/internal/promote"
)

// Node is one daemon's side of one pair's high availability: the pair's
// lease and the shared state beside it, in the same index of the pair's
// follower cluster.
type Node struct {
	Lease  *Lease
	Shared *Shared
	// Instance names this daemon's journal (journal.Instance), published
	// with its state.
	Instance string
}

// NewNode makes the lease and the shared state of pair in index, read and
// written through store.
func NewNode(store Store, index, pair, identity string, ttl time.Duration) *Node {
	return &Node{
		Lease:  &Lease{Store: store, Index: index, Pair: pair, Identity: identity, TTL: ttl},
		Shared: &Shared{Store: store, Index: index, Pair: pair},
	}
}

// SetStore makes the lease and the shared state use store from their
// next request on (a reload changed the follower's endpoint or
// credentials); a round in progress ends first.
func (n *Node) SetStore(store Store) {
	n.Lease.mu.Lock()
	n.Lease.Store = store
	n.Lease.mu.Unlock()
	n.Shared.mu.Lock()
	n.Shared.Store = store
	n.Shared.mu.Unlock()
}

// Identity is this daemon's name in the lease.
func (n *Node) Identity() string { return n.Lease.Identity }

// Run takes a round of the lease every TTL/3 (each bounded by TTL/3)
// until ctx ends, and passes each round's status to on. It does not
// release the lease: the caller does, once its promotions have ended.
func (n *Node) Run(ctx context.Context, on func(Status)) {
	every := n.Lease.TTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, every)
		st := n.Lease.Step(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if on != nil {
			on(st)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StepJournal is where a promotion's steps are journaled
// (*journal.Journal).
type StepJournal interface {
	AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error
}

// Gate is a promotion's step journal behind the fencing check. The
// executors journal every mutating step as started before they send it
// and send nothing when that fails: the gate first checks that the
// promotion's term (promote.Promotion.Term) is still this daemon's lease,
// and journals every step with the term. A promotion with no term is
// refused (it was not started by a holder).
type Gate struct {
	Journal StepJournal
	Lease   *Lease
	// After, if set, is called after each successful append (the holder
	// publishes the promotion's progress).
	After func(p *promote.Promotion)
}

// AppendSteps checks the lease before a started step, then journals.
func (g Gate) AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error {
	for i := range steps {
		steps[i].Term = p.Term
	}
	if slices.ContainsFunc(steps, func(s promote.Step) bool { return s.Status == promote.StepStarted }) {
		if err := g.Lease.Check(context.Background(), p.Term); err != nil {
			return fmt.Errorf("fencing check before %s: nothing sent: %w", steps[0].Name, err)
		}
	}
	if err := g.Journal.AppendSteps(pair, p, steps...); err != nil {
		return err
	}
	if g.After != nil {
		g.After(p)
	}
	return nil
}

// ReadLease reads a pair's lease document as it is, for a reader that
// takes no part in the lease (drwatch status). found is false when there
// is none (the index or the document missing).
func ReadLease(ctx context.Context, store Store, index, pair string) (Doc, bool, error) {
	doc, err := store.GetDoc(ctx, index, pair)
	if err != nil || !doc.Found {
		return Doc{}, false, err
	}
	var d Doc
	if err := json.Unmarshal(doc.Source, &d); err != nil {
		return Doc{}, false, fmt.Errorf("the lease of %s in %s is not a lease document: %v", pair, index, err)
	}
	return d, true, nil
}
