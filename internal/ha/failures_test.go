package ha

// The lease and the shared state where the cluster answers slowly, loses
// an answer, or has its documents deleted or recreated.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
)

// hookStore is a memStore whose PutDoc runs after() once the write took
// effect at the server and before the answer reaches the caller (a slow
// or lost answer).
type hookStore struct {
	*memStore
	after func()
	fail  error // returned instead of the answer, after the write took effect
}

func (h *hookStore) PutDoc(ctx context.Context, index, id string, src []byte, prev opensearch.Doc) (opensearch.Doc, error) {
	d, err := h.memStore.PutDoc(ctx, index, id, src, prev)
	if err == nil && h.after != nil {
		f := h.after
		h.after = nil
		f()
	}
	if err == nil && h.fail != nil {
		return opensearch.Doc{}, h.fail
	}
	return d, err
}

// A fencing check whose renewal's answer arrives after the window it
// opened (the standby saw that renewal and took over a TTL later) fails:
// an answer after the window proves nothing.
func TestCheckAfterASlowRenewalAnswer(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	h := &hookStore{memStore: m}
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	a.Store = h
	holding(t, a, ca)
	b.Step(context.Background())
	h.after = func() { // a's check renewal took effect; its answer is slow
		b.Step(context.Background()) // b sees the renewal
		cb.add(3 * time.Second)
		b.Step(context.Background()) // and takes over a TTL later
		ca.add(4 * time.Second)      // the answer reaches a 4 s after it asked
	}
	err := a.Check(context.Background(), 1)
	if _, bHeld := b.Held(); !bHeld {
		t.Fatal("setup: b did not take over")
	}
	if !errors.Is(err, ErrNotHolder) {
		t.Fatalf("a's fencing check passed while b holds term %d: %v", leaseOf(t, m).Term, err)
	}
}

// The lease document deleted (an operator "resetting" drwatch's index):
// the standby times the missing lease like any other and takes it a TTL
// later, after the old holder's window; never both at once.
func TestDeletedLeaseIsNotTakenAtOnce(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	b.Step(context.Background())
	m.Mu.Lock()
	delete(m.Docs, "orders")
	m.Mu.Unlock()
	for i := 0; i < 3; i++ {
		ca.add(100 * time.Millisecond)
		cb.add(100 * time.Millisecond)
		b.Step(context.Background())
		if _, bHeld := b.Held(); bHeld {
			t.Fatal("the standby took a deleted lease at once, within the holder's window")
		}
	}
	cb.add(3 * time.Second)
	if st := b.Step(context.Background()); !st.Held || st.Term != 2 {
		t.Fatalf("b a TTL after the lease went missing: %+v (want term 2: terms never start over)", st)
	}
}

// A lease document created again does not start its terms over, and draws
// a new token: a process with the same identity that held term 1 before
// (a rolling restart that keeps the identity) fails the fencing check.
func TestRecreatedLeaseDoesNotReuseTheTerm(t *testing.T) {
	m, c1, c2 := newMem(), newClock(), newClock()
	a1, a2 := daemon(m, "dr-a", c1), daemon(m, "dr-a", c2)
	holding(t, a1, c1)
	a2.Step(context.Background())
	m.Mu.Lock()
	delete(m.Docs, "orders")
	m.Mu.Unlock()
	a2.Step(context.Background())
	c2.add(3 * time.Second)
	if st := a2.Step(context.Background()); !st.Held || st.Term != 2 {
		t.Fatalf("a2: %+v", st)
	}
	if err := a1.Check(context.Background(), 1); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("the process of term 1 passed the fencing check: %v", err)
	}
	if err := a2.Check(context.Background(), 2); err != nil {
		t.Fatalf("the holder of term 2: %v", err)
	}
}

// The index deleted and created again: _seq_no starts over, so a version
// number a standby timed long ago can come back on a document the holder
// has just written; the token in the version tells them apart, and the
// standby does not take over within the holder's window.
func TestRecreatedIndexIsNotMistakenForTheTimedVersion(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)            // (seq 1, term 1)
	b.Step(context.Background()) // b times it
	m.Mu.Lock()
	m.Index, m.Docs, m.Seq = false, map[string]opensearch.Doc{}, 0
	m.Mu.Unlock()
	ca.add(round)
	a.Step(context.Background()) // recreates the index, finds no lease: steps down
	ca.add(3 * time.Second)
	if st := a.Step(context.Background()); !st.Held { // takes the missing lease: seq 1 again
		t.Fatalf("a: %+v", st)
	}
	cb.add(4 * time.Second)      // b's reads in between failed or were slow
	b.Step(context.Background()) // the same seq and primary term, another token
	if _, bHeld := b.Held(); bHeld {
		t.Fatal("the standby took over within the holder's window: it timed a version from before the index was recreated")
	}
}

// An acknowledgement whose write took effect but whose answer was lost,
// or whose retry answered 409: the commands were handed out before, the
// inbox is left without them, and a retried acknowledgement is a no-op.
func TestAckWithALostAnswer(t *testing.T) {
	for _, fail := range []error{errors.New("context deadline exceeded"), opensearch.ErrVersionConflict} {
		m := newMem()
		s := shared(m)
		if err := s.Send(context.Background(), Command{ID: "approve-1", Action: "approve"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Pending(context.Background())
		if err != nil || len(got) != 1 {
			t.Fatalf("pending: %v, %v", got, err)
		}
		s.Store = &hookStore{memStore: m, fail: fail}
		_ = s.Ack(context.Background(), "approve-1")
		s.Store = m
		if err := s.Ack(context.Background(), "approve-1"); err != nil {
			t.Fatalf("a retried acknowledgement: %v", err)
		}
		if left, err := s.Pending(context.Background()); err != nil || len(left) != 0 {
			t.Fatalf("after the acknowledgement (%v): %v, %v", fail, left, err)
		}
	}
}

// A command stays queued until acknowledged: a holder that dies between
// reading and acknowledging leaves it to the next holder.
func TestUnacknowledgedCommandStays(t *testing.T) {
	m := newMem()
	s := shared(m)
	_ = s.Send(context.Background(), Command{ID: "pause-1", Action: "pause"})
	for range 2 {
		if got, err := s.Pending(context.Background()); err != nil || len(got) != 1 || got[0].ID != "pause-1" {
			t.Fatalf("pending: %v, %v", got, err)
		}
	}
}
