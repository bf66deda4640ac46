// Package ha is how two drwatch daemons watching the same pair agree that
// exactly one of them acts: a lease, one document per pair in an index of
// the pair's follower cluster, taken and renewed with optimistic
// concurrency control (if_seq_no / if_primary_term). The follower cluster
// is the consensus system that matters: it is what a promotion would
// change, so a daemon that cannot reach it could not act anyway.
//
// Time is measured only with this process's own monotonic clock, never by
// comparing two hosts' wall clocks: a standby takes the lease over when
// the lease document has not changed for a TTL of its own time since it
// first saw that version; the holder stops acting 4/5 of a TTL after the
// start of its last successful renewal. A holder that was frozen past its
// TTL finds, when it wakes, that it may not act (its window is over) and
// that the document is no longer its own (the standby's conditional write
// bumped the term): the term is the fencing token.
//
// It decides nothing about a pair and does not act on one: it says who
// may.
package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
)

// Store is what the lease needs of the follower cluster
// (*opensearch.Client).
type Store interface {
	GetDoc(ctx context.Context, index, id string) (opensearch.Doc, error)
	PutDoc(ctx context.Context, index, id string, source []byte, prev opensearch.Doc) (opensearch.Doc, error)
	CreateIndex(ctx context.Context, index string, body []byte) error
}

// Doc is the lease document.
type Doc struct {
	// Holder is the identity of the daemon that holds the lease; "" when
	// it was released.
	Holder string `json:"holder"`
	// Term grows by one at every change of holder: the fencing token.
	Term int64 `json:"term"`
	// Renewals grows by one at every renewal within a term: a standby
	// watches the document's version, which every renewal changes.
	Renewals int64 `json:"renewals"`
	// TTLMillis is the holder's TTL: a standby waits the longer of its
	// own and this, so that two daemons configured differently never
	// overlap.
	TTLMillis int64 `json:"ttl_ms"`
	// RenewedAt is the holder's wall clock at the renewal, for humans
	// reading the document; drwatch never compares it with its own.
	RenewedAt time.Time `json:"renewed_at"`
}

// IndexBody is the lease index's settings and mappings: one shard, a
// replica wherever the cluster has a second node, hidden, and no dynamic
// mapping (the documents are read by id only).
var IndexBody = []byte(`{"settings":{"index":{"number_of_shards":1,"auto_expand_replicas":"0-1","hidden":true}},"mappings":{"dynamic":false,"properties":{}}}`)

// holdFraction is the part of a TTL after a renewal's start during which
// the holder may act: the standby waits a whole TTL after it saw the
// renewal's result, so the fifth in between absorbs scheduling and clock
// rate differences.
const holdFraction = 4.0 / 5

// Lease is one daemon's view of one pair's lease.
type Lease struct {
	Store    Store
	Index    string
	Pair     string // the document's id
	Identity string
	TTL      time.Duration
	// Now reads this process's clock; time.Now (monotonic) by default.
	Now func() time.Time

	mu         sync.Mutex
	held       bool
	term       int64
	doc        opensearch.Doc // the version last read or written
	cur        Doc            // its content
	validUntil time.Time
	seen       opensearch.Doc // standby: the version being timed
	seenAt     time.Time
	lastErr    error
}

// Status is what a lease is now, as this daemon knows it.
type Status struct {
	Held    bool   // this daemon may act
	Term    int64  // the term it holds, when Held
	Holder  string // who holds it, as last read ("" none or unknown)
	Err     error  // the last round's failure, if any
	Expires time.Duration
}

func (l *Lease) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Status returns the lease as this daemon knows it.
func (l *Lease) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{Holder: l.cur.Holder, Err: l.lastErr}
	if l.held && l.now().Before(l.validUntil) {
		st.Held, st.Term, st.Expires = true, l.term, l.validUntil.Sub(l.now())
	}
	return st
}

// Held reports whether this daemon holds the lease now, by its own clock,
// and its term.
func (l *Lease) Held() (int64, bool) {
	st := l.Status()
	return st.Term, st.Held
}

// Step is one round, every TTL/3: the holder renews; a standby watches,
// and takes the lease over once it has not changed for a TTL (or at once
// when it is released or was never taken). A failed round is kept in the
// status; the holder's window runs out on its own.
func (l *Lease) Step(ctx context.Context) Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastErr = l.step(ctx)
	st := Status{Holder: l.cur.Holder, Err: l.lastErr}
	if l.held && l.now().Before(l.validUntil) {
		st.Held, st.Term, st.Expires = true, l.term, l.validUntil.Sub(l.now())
	}
	return st
}

func (l *Lease) step(ctx context.Context) error {
	doc, cur, err := l.read(ctx)
	if err != nil {
		return err
	}
	if l.held {
		if !doc.Found || cur.Holder != l.Identity || cur.Term != l.term {
			l.held = false // taken over (or deleted): never act on this term again
			l.seen, l.seenAt = doc, l.now()
			return fmt.Errorf("lease of %s lost: held by %q in term %d now (this daemon held term %d)", l.Pair, cur.Holder, cur.Term, l.term)
		}
		return l.write(ctx, doc, Doc{Holder: l.Identity, Term: l.term, Renewals: cur.Renewals + 1})
	}
	switch {
	case !doc.Found:
		return l.write(ctx, doc, Doc{Holder: l.Identity, Term: 1})
	case cur.Holder == "":
		return l.write(ctx, doc, Doc{Holder: l.Identity, Term: cur.Term + 1})
	}
	if doc.SeqNo != l.seen.SeqNo || doc.PrimaryTerm != l.seen.PrimaryTerm || !l.seen.Found {
		l.seen, l.seenAt = doc, l.now()
		return nil
	}
	wait := max(l.TTL, time.Duration(cur.TTLMillis)*time.Millisecond)
	if l.now().Sub(l.seenAt) < wait {
		return nil
	}
	return l.write(ctx, doc, Doc{Holder: l.Identity, Term: cur.Term + 1})
}

// read reads the lease document, creating the index when it is missing.
func (l *Lease) read(ctx context.Context) (opensearch.Doc, Doc, error) {
	doc, err := l.Store.GetDoc(ctx, l.Index, l.Pair)
	if err == nil && doc.IndexMissing {
		if err = l.Store.CreateIndex(ctx, l.Index, IndexBody); err == nil {
			doc, err = l.Store.GetDoc(ctx, l.Index, l.Pair)
		}
	}
	if err != nil {
		return opensearch.Doc{}, Doc{}, fmt.Errorf("read the lease of %s in %s: %w", l.Pair, l.Index, err)
	}
	var cur Doc
	if doc.Found {
		if err := json.Unmarshal(doc.Source, &cur); err != nil {
			return opensearch.Doc{}, Doc{}, fmt.Errorf("the lease of %s in %s is not a lease document: %v; not acting on it", l.Pair, l.Index, err)
		}
	}
	l.doc, l.cur = doc, cur
	return doc, cur, nil
}

// write replaces version prev of the lease with next, conditionally. On
// success this daemon holds next's term until 4/5 of a TTL after the
// write began.
func (l *Lease) write(ctx context.Context, prev opensearch.Doc, next Doc) error {
	start := l.now()
	next.TTLMillis, next.RenewedAt = l.TTL.Milliseconds(), time.Now().UTC()
	src, err := json.Marshal(next)
	if err != nil {
		return err
	}
	doc, err := l.Store.PutDoc(ctx, l.Index, l.Pair, src, prev)
	if err != nil {
		if errors.Is(err, opensearch.ErrVersionConflict) {
			// Someone wrote first: the next round reads who.
			return fmt.Errorf("lease of %s: another daemon wrote it first", l.Pair)
		}
		return fmt.Errorf("write the lease of %s in %s: %w", l.Pair, l.Index, err)
	}
	l.held, l.term, l.doc, l.cur = true, next.Term, doc, next
	l.validUntil = start.Add(time.Duration(float64(l.TTL) * holdFraction))
	return nil
}

// ErrNotHolder is returned by Check when this daemon may not act.
var ErrNotHolder = errors.New("not the lease holder")

// Check is the fencing check before a mutating step: this daemon still
// holds term, by its own clock (no request is sent when its window is
// over: a daemon that was frozen past it sends nothing), and in the
// follower cluster (a conditional renewal that only the holder of term
// can make).
func (l *Lease) Check(ctx context.Context, term int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held || l.term != term || !l.now().Before(l.validUntil) {
		return fmt.Errorf("%w of %s in term %d (this daemon's window is over, or it never held it)", ErrNotHolder, l.Pair, term)
	}
	doc, cur, err := l.read(ctx)
	if err == nil && (!doc.Found || cur.Holder != l.Identity || cur.Term != term) {
		l.held = false
		return fmt.Errorf("%w of %s: held by %q in term %d now", ErrNotHolder, l.Pair, cur.Holder, cur.Term)
	}
	if err == nil {
		err = l.write(ctx, doc, Doc{Holder: l.Identity, Term: term, Renewals: cur.Renewals + 1})
	}
	if err != nil {
		return fmt.Errorf("%w of %s: cannot confirm term %d: %v", ErrNotHolder, l.Pair, term, err)
	}
	return nil
}

// Release gives the lease up (a clean shutdown), so that the standby
// takes it over at once instead of after a TTL. It is conditional: a
// lease taken over meanwhile is left alone.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return nil
	}
	doc, cur, err := l.read(ctx)
	if err != nil {
		return err
	}
	l.held = false
	if !doc.Found || cur.Holder != l.Identity || cur.Term != l.term {
		return nil
	}
	src, _ := json.Marshal(Doc{Holder: "", Term: cur.Term, Renewals: cur.Renewals, TTLMillis: l.TTL.Milliseconds(), RenewedAt: time.Now().UTC()})
	_, err = l.Store.PutDoc(ctx, l.Index, l.Pair, src, doc)
	return err
}
