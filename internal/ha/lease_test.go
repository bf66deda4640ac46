package ha

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/memdocs"
)

type memStore = memdocs.Store

var errDown = memdocs.ErrDown

func newMem() *memStore { return memdocs.New() }

// leaseOf is the lease document of pair orders in m.
func leaseOf(t *testing.T, m *memStore) Doc {
	t.Helper()
	m.Mu.Lock()
	defer m.Mu.Unlock()
	var d Doc
	if err := json.Unmarshal(m.Docs["orders"].Source, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// clock is a process's monotonic clock, moved by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_000_000, 0)} }
func daemon(m *memStore, id string, c *clock) *Lease {
	return &Lease{Store: m, Index: ".drwatch-ha", Pair: "orders", Identity: id, TTL: 3 * time.Second, Now: c.now}
}

const round = time.Second // TTL/3

// holding makes d the holder of a lease that does not exist yet: a missing
// lease is taken, as any other, once it has been missing for a TTL.
func holding(t *testing.T, d *Lease, c *clock) {
	t.Helper()
	if st := d.Step(context.Background()); st.Held {
		t.Fatalf("%s took a missing lease at once: %+v", d.Identity, st)
	}
	c.add(d.TTL)
	if st := d.Step(context.Background()); !st.Held || st.Err != nil {
		t.Fatalf("%s after a TTL without a lease: %+v", d.Identity, st)
	}
}

func TestFirstTakesTheLeaseAndTheOtherWaits(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	if term, _ := a.Held(); term != 1 {
		t.Fatalf("a holds term %d", term)
	}
	// The holder renews every round: the standby never takes over.
	for i := 0; i < 50; i++ {
		ca.add(round)
		cb.add(round)
		if st := a.Step(context.Background()); !st.Held || st.Term != 1 {
			t.Fatalf("round %d, a: %+v", i, st)
		}
		if st := b.Step(context.Background()); st.Held || st.Holder != "dr-a" {
			t.Fatalf("round %d, b: %+v", i, st)
		}
	}
	if d := leaseOf(t, m); d.Holder != "dr-a" || d.Term != 1 || d.Renewals != 50 || d.TTLMillis != 3000 {
		t.Fatalf("lease document = %+v", d)
	}
}

// A holder that dies: the standby takes over exactly one TTL (of its own
// clock) after it first saw the last renewal, not a round before, in the
// next term.
func TestStandbyTakesOverAfterTTL(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	b.Step(context.Background()) // sees version 1 at cb=0
	// a dies now. b keeps watching.
	for elapsed := round; elapsed < 3*time.Second; elapsed += round {
		cb.add(round)
		if st := b.Step(context.Background()); st.Held {
			t.Fatalf("took over %s after the last renewal (TTL 3s)", elapsed)
		}
	}
	cb.add(round)
	st := b.Step(context.Background())
	if !st.Held || st.Term != 2 {
		t.Fatalf("b after TTL: %+v", st)
	}
	if d := leaseOf(t, m); d.Holder != "dr-b" || d.Term != 2 {
		t.Fatalf("lease document = %+v", d)
	}
}

// A holder frozen past its TTL (SIGSTOP) wakes: its window is over, so it
// may not act and its fencing check sends nothing; its next round sees
// the lease taken and steps down.
func TestFrozenHolderWakesAndDoesNotAct(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	b.Step(context.Background())
	for i := 0; i < 3; i++ { // a frozen: b alone advances
		cb.add(round)
		b.Step(context.Background())
	}
	if _, held := b.Held(); !held {
		t.Fatal("b did not take over")
	}
	ca.add(10 * time.Second) // a wakes
	if _, held := a.Held(); held {
		t.Fatal("a frozen past its TTL still counts itself the holder")
	}
	writes, reads := m.Writes, m.Reads
	if err := a.Check(context.Background(), 1); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("Check = %v", err)
	}
	if m.Writes != writes || m.Reads != reads {
		t.Fatalf("the woken holder's fencing check sent %d writes and %d reads", m.Writes-writes, m.Reads-reads)
	}
	if st := a.Step(context.Background()); st.Held || st.Err == nil || !strings.Contains(st.Err.Error(), `held by "dr-b" in term 2`) {
		t.Fatalf("a's round after waking: %+v", st)
	}
	if m.Writes != writes {
		t.Fatal("the woken holder wrote the lease")
	}
}

// Within its window a holder whose lease was taken (a long GC pause, a
// clock that ran slow) is stopped by the fencing check in the cluster:
// the term is the token.
func TestCheckFencesAStaleTerm(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	if err := a.Check(context.Background(), 1); err != nil {
		t.Fatalf("the holder's check: %v", err)
	}
	// b takes over behind a's back (as if b's clock ran much faster).
	b.Step(context.Background())
	cb.add(time.Hour)
	b.Step(context.Background())
	if _, held := b.Held(); !held {
		t.Fatal("setup: b did not take over")
	}
	if err := a.Check(context.Background(), 1); !errors.Is(err, ErrNotHolder) || !strings.Contains(err.Error(), `held by "dr-b" in term 2`) {
		t.Fatalf("a's check on a taken lease = %v", err)
	}
	if _, held := a.Held(); held {
		t.Fatal("a still counts itself the holder")
	}
}

// Two standbys that find the lease expired in the same round: exactly one
// conditional write wins.
func TestRaceHasOneWinner(t *testing.T) {
	m, c0 := newMem(), newClock()
	holding(t, daemon(m, "dr-0", c0), c0) // a holder that then dies
	var ds []*Lease
	var cs []*clock
	for _, id := range []string{"dr-a", "dr-b", "dr-c"} {
		c := newClock()
		d := daemon(m, id, c)
		d.Step(context.Background())
		c.add(3 * time.Second)
		ds, cs = append(ds, d), append(cs, c)
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { d.Step(context.Background()) })
	}
	wg.Wait()
	holders := 0
	for _, d := range ds {
		if _, held := d.Held(); held {
			holders++
		}
	}
	if holders != 1 || leaseOf(t, m).Term != 2 {
		t.Fatalf("%d holders, lease %+v", holders, leaseOf(t, m))
	}
}

// A daemon that cannot reach the follower cluster never holds the lease:
// the holder's window runs out on its own clock, and a standby never
// takes over.
func TestUnreachableClusterMeansNoHolder(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	b.Step(context.Background())
	m.Down = true
	ca.add(round)
	if st := a.Step(context.Background()); !st.Held || st.Err == nil {
		t.Fatalf("one failed renewal within the window: %+v", st)
	}
	ca.add(2 * round)
	if st := a.Step(context.Background()); st.Held {
		t.Fatalf("a holder that cannot renew still holds after 4/5 TTL: %+v", st)
	}
	cb.add(time.Hour)
	if st := b.Step(context.Background()); st.Held || st.Err == nil {
		t.Fatalf("a standby cut off from the cluster: %+v", st)
	}
}

// Released on a clean stop: the standby takes over at its next round.
func TestReleaseHandsOverAtOnce(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a, b := daemon(m, "dr-a", ca), daemon(m, "dr-b", cb)
	holding(t, a, ca)
	b.Step(context.Background())
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := b.Step(context.Background()); !st.Held || st.Term != 2 {
		t.Fatalf("b after the release: %+v", st)
	}
}

// A standby configured with a shorter TTL than the holder waits the
// holder's: two daemons configured differently never overlap.
func TestStandbyWaitsTheLongerTTL(t *testing.T) {
	m, ca, cb := newMem(), newClock(), newClock()
	a := daemon(m, "dr-a", ca)
	a.TTL = 30 * time.Second
	b := daemon(m, "dr-b", cb) // 3 s
	holding(t, a, ca)
	b.Step(context.Background())
	cb.add(29 * time.Second)
	if st := b.Step(context.Background()); st.Held {
		t.Fatal("took over before the holder's TTL")
	}
	cb.add(time.Second)
	if st := b.Step(context.Background()); !st.Held {
		t.Fatal("did not take over after the holder's TTL")
	}
}

// A lease document drwatch cannot read is not acted on.
func TestMalformedLeaseIsNotActedOn(t *testing.T) {
	m, c := newMem(), newClock()
	m.Index = true
	m.Docs["orders"] = opensearch.Doc{Found: true, SeqNo: 7, PrimaryTerm: 1, Source: []byte(`{"holder":`)}
	d := daemon(m, "dr-a", c)
	c.add(time.Hour)
	if st := d.Step(context.Background()); st.Held || st.Err == nil || !strings.Contains(st.Err.Error(), "not a lease document") {
		t.Fatalf("%+v", st)
	}
	if m.Writes != 0 {
		t.Fatal("wrote over a document it could not read")
	}
}
