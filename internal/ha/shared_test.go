package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func shared(m *memStore) *Shared { return &Shared{Store: m, Index: ".drwatch-ha", Pair: "orders"} }

// Commands sent through either daemon are all queued, whatever writers
// race (a conflicting write is retried on a fresh read, never lost), and
// stay until acknowledged by id; retries of either are harmless.
func TestSendPendingAck(t *testing.T) {
	m := newMem()
	s := shared(m)
	s.Retries = 100
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := s.Send(context.Background(), Command{ID: fmt.Sprint(i), Action: "pause"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Pending(context.Background())
	if err != nil || len(got) != 20 {
		t.Fatalf("%d commands pending: %v", len(got), err)
	}
	seen := map[string]bool{}
	for _, c := range got {
		seen[c.ID] = true
	}
	if len(seen) != 20 {
		t.Fatalf("commands lost or doubled: %v", seen)
	}
	ids := make([]string, 0, len(got))
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if err := s.Ack(context.Background(), ids[:5]...); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(context.Background(), ids[:5]...); err != nil { // a retried acknowledgement
		t.Fatal(err)
	}
	if left, err := s.Pending(context.Background()); err != nil || len(left) != 15 {
		t.Fatalf("after acknowledging 5: %d pending, %v", len(left), err)
	}
	if err := s.Send(context.Background(), got[7]); err != nil { // a retried send
		t.Fatal(err)
	}
	if left, _ := s.Pending(context.Background()); len(left) != 15 {
		t.Fatalf("a retried send queued a command twice: %d pending", len(left))
	}
}

// The published state is the latest term's: a holder whose term is over
// cannot overwrite its successor's.
func TestPublishRefusesAStaleTerm(t *testing.T) {
	m := newMem()
	s := shared(m)
	if err := s.Publish(context.Background(), Published{Holder: "dr-a", Term: 1, State: json.RawMessage(`{"phase":"healthy"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), Published{Holder: "dr-b", Term: 2, State: json.RawMessage(`{"phase":"promoting"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), Published{Holder: "dr-a", Term: 1, State: json.RawMessage(`{"phase":"healthy"}`)}); !errors.Is(err, ErrStaleTerm) {
		t.Fatalf("a stale term's publish: %v", err)
	}
	p, ok, err := s.Read(context.Background())
	if err != nil || !ok || p.Holder != "dr-b" || p.Term != 2 || string(p.State) != `{"phase":"promoting"}` {
		t.Fatalf("read: %+v %t %v", p, ok, err)
	}
}

// An unreachable cluster fails the call with its reason; nothing is
// assumed sent.
func TestSharedUnreachable(t *testing.T) {
	m := newMem()
	m.Down = true
	if err := shared(m).Send(context.Background(), Command{ID: "1"}); err == nil || !errors.Is(err, errDown) {
		t.Fatalf("send: %v", err)
	}
}
