// Package ha is how two drwatch daemons watching the same pair agree that
// exactly one of them acts: a lease, one document per pair in an index of
// the pair's follower cluster, taken and renewed with optimistic
// concurrency control (if_seq_no / if_primary_term). The follower cluster
// is the consensus system that matters: it is what a promotion would
// change, so a daemon that cannot reach it could not act anyway.
//
// Time is measured only with this process's own monotonic clock, never by
// comparing two hosts' wall clocks: a standby takes the lease over when
// the lease document has not changed (or has been missing) for a TTL of
// its own time since it first saw it so; the holder stops acting 4/5 of a
// TTL after the start of its last successful renewal. A holder that was
// frozen past its TTL finds, when it wakes, that it may not act (its
// window is over) and that the document is no longer its own (the
// standby's conditional write bumped the term and drew a new token): the
// term and token are the fencing token. Only a release (a clean stop)
// hands the lease over at once.
//
// It decides nothing about a pair and does not act on one: it says who
// may.
package ha

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// Term grows by one at every change of holder; with Token, the
	// fencing token.
	Term int64 `json:"term"`
	// Token is drawn at random at every takeover: a lease document
	// deleted and created again (its term starting over, its version
	// reused) is never mistaken for the one a daemon held or timed.
	Token string `json:"token"`
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

	mu         sync.Mutex // held through a round's requests
	held       bool
	term       int64
	token      string
	doc        opensearch.Doc // the version last read or written
	cur        Doc            // its content
	validUntil time.Time
	seen       string // standby: the version being timed (version())
	seenAt     time.Time
	maxTerm    int64 // the highest term this daemon has seen
	lastErr    error
	noTakeTill time.Time // Yield: not taken again before

	smu  sync.Mutex // the status, readable while a round waits on the cluster
	snap snapshot
}

type snapshot struct {
	held       bool
	term       int64
	holder     string
	validUntil time.Time
	err        error
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

// Status returns the lease as this daemon knows it. It does not wait for
// a round in progress.
func (l *Lease) Status() Status {
	l.smu.Lock()
	sn := l.snap
	l.smu.Unlock()
	st := Status{Holder: sn.holder, Err: sn.err}
	if now := l.now(); sn.held && now.Before(sn.validUntil) {
		st.Held, st.Term, st.Expires = true, sn.term, sn.validUntil.Sub(now)
	}
	return st
}

// publish makes the state after a round or a check visible to Status.
func (l *Lease) publish() {
	l.smu.Lock()
	l.snap = snapshot{held: l.held, term: l.term, holder: l.cur.Holder, validUntil: l.validUntil, err: l.lastErr}
	l.smu.Unlock()
}

// Window is the end of this daemon's window to act (4/5 of a TTL after
// its last renewal began), or the zero time when it holds no lease.
func (l *Lease) Window() time.Time {
	l.smu.Lock()
	defer l.smu.Unlock()
	if !l.snap.held {
		return time.Time{}
	}
	return l.snap.validUntil
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
	l.lastErr = l.step(ctx)
	l.publish()
	l.mu.Unlock()
	return l.Status()
}

// version identifies what a standby times: the document's version and
// its content's token and renewal count (a version number alone can come
// back when the index is created again).
func version(doc opensearch.Doc, cur Doc) string {
	if !doc.Found {
		return "missing"
	}
	return fmt.Sprintf("%d/%d/%s/%d", doc.SeqNo, doc.PrimaryTerm, cur.Token, cur.Renewals)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mine reports whether the lease document is this daemon's term.
func (l *Lease) mine(doc opensearch.Doc, cur Doc, term int64) bool {
	return doc.Found && cur.Holder == l.Identity && cur.Term == term && cur.Token == l.token
}

func (l *Lease) step(ctx context.Context) error {
	doc, cur, err := l.read(ctx)
	if err != nil {
		return err
	}
	if l.held {
		if !l.mine(doc, cur, l.term) {
			l.held = false // taken over (or deleted): never act on this term again
			l.seen, l.seenAt = version(doc, cur), l.now()
			if !doc.Found {
				return fmt.Errorf("lease of %s lost: its document is gone (this daemon held term %d)", l.Pair, l.term)
			}
			return fmt.Errorf("lease of %s lost: held by %q in term %d now (this daemon held term %d)", l.Pair, cur.Holder, cur.Term, l.term)
		}
		return l.write(ctx, doc, Doc{Holder: l.Identity, Term: l.term, Token: l.token, Renewals: cur.Renewals + 1})
	}
	if l.now().Before(l.noTakeTill) {
		l.seen, l.seenAt = version(doc, cur), l.now()
		return nil // it gave the lease up (Yield): the other daemon's turn
	}
	if doc.Found && cur.Holder == "" {
		return l.take(ctx, doc, cur.Term) // released: at once
	}
	// Held by another (or missing: deleted, or never taken): taken over
	// once it has not changed for a TTL.
	if v := version(doc, cur); v != l.seen {
		l.seen, l.seenAt = v, l.now()
		return nil
	}
	wait := max(l.TTL, time.Duration(cur.TTLMillis)*time.Millisecond)
	if l.now().Sub(l.seenAt) < wait {
		return nil
	}
	return l.take(ctx, doc, cur.Term)
}

// take writes this daemon's new term over version doc: one above any term
// this daemon saw, the lease's and the published state's (a lease
// document created again does not start its terms over).
func (l *Lease) take(ctx context.Context, doc opensearch.Doc, term int64) error {
	next := max(term, l.maxTerm)
	if !doc.Found {
		published, err := l.publishedTerm(ctx)
		if err != nil {
			return err
		}
		next = max(next, published)
	}
	l.token = newToken()
	return l.write(ctx, doc, Doc{Holder: l.Identity, Term: next + 1, Token: l.token})
}

// publishedTerm is the term of the pair's published state (Shared), 0
// when there is none.
func (l *Lease) publishedTerm(ctx context.Context) (int64, error) {
	doc, err := l.Store.GetDoc(ctx, l.Index, l.Pair+stateSuffix)
	if err != nil {
		return 0, fmt.Errorf("read the published state of %s in %s: %w", l.Pair, l.Index, err)
	}
	if !doc.Found {
		return 0, nil
	}
	var p struct {
		Term int64 `json:"term"`
	}
	if err := json.Unmarshal(doc.Source, &p); err != nil {
		return 0, fmt.Errorf("the published state of %s is not drwatch's: %v; not taking the lease", l.Pair, err)
	}
	return p.Term, nil
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
	l.maxTerm = max(l.maxTerm, cur.Term)
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
	l.maxTerm = max(l.maxTerm, next.Term)
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
	defer func() { l.publish(); l.mu.Unlock() }()
	left := l.validUntil.Sub(l.now())
	if !l.held || l.term != term || left <= 0 {
		return fmt.Errorf("%w of %s in term %d (this daemon's window is over, or it never held it)", ErrNotHolder, l.Pair, term)
	}
	// The check ends with the window: an answer after it proves nothing.
	ctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	doc, cur, err := l.read(ctx)
	if err == nil && !l.mine(doc, cur, term) {
		l.held = false
		return fmt.Errorf("%w of %s: held by %q in term %d now", ErrNotHolder, l.Pair, cur.Holder, cur.Term)
	}
	if err == nil {
		err = l.write(ctx, doc, Doc{Holder: l.Identity, Term: term, Token: l.token, Renewals: cur.Renewals + 1})
	}
	if err != nil {
		return fmt.Errorf("%w of %s: cannot confirm term %d: %v", ErrNotHolder, l.Pair, term, err)
	}
	if !l.now().Before(l.validUntil) {
		// The renewal's answer came after the window it opened (a slow
		// answer): a standby may hold the next term by now.
		return fmt.Errorf("%w of %s: the renewal of term %d was confirmed too late", ErrNotHolder, l.Pair, term)
	}
	return nil
}

// Yield gives the lease up and does not take it again for hold (two TTLs
// at least): a holder that cannot act for the pair (it cannot adopt the
// shared state, its journal is unwritable) leaves it to the other daemon.
// Unlike Release it writes nothing: it stops renewing, and the other
// daemon takes the lease over once it has not changed for a TTL - after
// this daemon's window is over, so that a request it still has on the
// wire cannot meet the new holder's.
func (l *Lease) Yield(ctx context.Context, hold time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.noTakeTill = l.now().Add(max(hold, 2*l.TTL))
	if l.held {
		l.held = false
		l.publish()
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
	defer l.publish()
	mine := l.mine(doc, cur, l.term)
	l.held = false
	if !mine {
		return nil
	}
	src, _ := json.Marshal(Doc{Holder: "", Term: cur.Term, Renewals: cur.Renewals, TTLMillis: l.TTL.Milliseconds(), RenewedAt: time.Now().UTC()})
	_, err = l.Store.PutDoc(ctx, l.Index, l.Pair, src, doc)
	return err
}
