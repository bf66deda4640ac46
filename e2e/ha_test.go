//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The lease primitives against the lab's real follower cluster (what
// internal/ha's unit tests assume of OpenSearch's optimistic concurrency):
// the first daemon creates the index and, a TTL later, takes term 1; the other waits
// while renewals continue; when the holder stops, the other takes term 2
// within TTL + one round; the stopped one, woken, sends nothing through
// its fencing check and then finds the lease taken; a stale conditional
// write is refused by the cluster.
func TestLeasePrimitivesOnTheFollower(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	index := haLeaseIndex(t)
	const ttl = 1500 * time.Millisecond
	const round = ttl / 3
	newLease := func(id string) *ha.Lease {
		return &ha.Lease{Store: labClient(t, lab.FollowerURL), Index: index, Pair: "lab", Identity: id, TTL: ttl}
	}
	a, b := newLease("dr-a"), newLease("dr-b")
	// A missing lease is taken, like any other, once it stayed missing for
	// a TTL.
	if st := a.Step(ctx); st.Held || st.Err != nil {
		t.Fatalf("a took a missing lease at once: %+v", st)
	}
	time.Sleep(ttl)
	if st := a.Step(ctx); !st.Held || st.Term != 1 || st.Err != nil {
		t.Fatalf("a: %+v", st)
	}
	var stopped time.Time // the end of a's last renewal
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(round) {
		if st := a.Step(ctx); !st.Held || st.Term != 1 {
			t.Fatalf("a renewing: %+v", st)
		}
		stopped = time.Now()
		if st := b.Step(ctx); st.Held || st.Holder != "dr-a" {
			t.Fatalf("b while a renews: %+v", st)
		}
	}
	// a stops (frozen): b takes over.
	var took time.Duration
	for took == 0 {
		if time.Since(stopped) > 3*ttl {
			t.Fatal("b did not take over within 3 TTLs")
		}
		time.Sleep(round)
		if st := b.Step(ctx); st.Held {
			if st.Term != 2 {
				t.Fatalf("b took term %d, want 2", st.Term)
			}
			took = time.Since(stopped)
		}
	}
	t.Logf("MEASURE ha: the standby held the lease %s after the holder's last renewal (TTL %s, round %s)", took.Round(time.Millisecond), ttl, round)
	if took < ttl || took > ttl+2*round {
		t.Errorf("takeover after %s, want within [TTL, TTL + 2 rounds]", took)
	}
	// a wakes: its window is over.
	if _, held := a.Held(); held {
		t.Fatal("a still counts itself the holder")
	}
	if err := a.Check(ctx, 1); !errors.Is(err, ha.ErrNotHolder) {
		t.Fatalf("a's fencing check: %v", err)
	}
	if st := a.Step(ctx); st.Held || st.Holder != "dr-b" {
		t.Fatalf("a's round after waking: %+v", st)
	}
	// The cluster itself refuses a write conditional on a stale version.
	c := labClient(t, lab.FollowerURL)
	cur, err := c.GetDoc(ctx, index, "lab")
	if err != nil || !cur.Found {
		t.Fatalf("read: %+v, %v", cur, err)
	}
	var doc ha.Doc
	if err := json.Unmarshal(cur.Source, &doc); err != nil || doc.Holder != "dr-b" || doc.Term != 2 {
		t.Fatalf("lease document: %+v, %v", doc, err)
	}
	stale := cur
	stale.SeqNo--
	if _, err := c.PutDoc(ctx, index, "lab", []byte(`{"holder":"dr-a","term":1}`), stale); !errors.Is(err, opensearch.ErrVersionConflict) {
		t.Fatalf("a stale conditional write: %v", err)
	}
	if _, err := c.PutDoc(ctx, index, "lab", []byte(`{"holder":"dr-a","term":1}`), opensearch.Doc{}); !errors.Is(err, opensearch.ErrVersionConflict) {
		t.Fatalf("a create over an existing lease: %v", err)
	}
}

// haLeaseIndex names a lease index of the test's own in the follower
// cluster, deleted when the test ends.
func haLeaseIndex(t *testing.T) string {
	t.Helper()
	index := fmt.Sprintf(".drwatch-ha-e2e-%d", time.Now().UnixNano())
	t.Cleanup(func() { osDo(t, lab.FollowerURL, "DELETE", "/"+index, "") })
	return index
}
